// Gives each secondary attachment its cluster-unique MAC before the delegates run, and releases it after DEL.
import { hostname } from 'node:os';
import { CniError, Code } from '../cni/errors';
import type { KubeApi } from '../k8s/api';
import { kubeStore } from '../k8s/cmstore';
import { ClusterLedger } from '../mac/cluster';
import { ownerOf, type Owner } from '../mac/holding';
import { alive, readJournal, withJournalLock, writeJournal, type Journal } from '../mac/journal';
import { readCache, type PodInfo } from './cache';
import type { VerbContext } from './context';
import type { Attachment } from './plan';
import { ledgerOn } from './ledger-on';
import { injectMac } from './podplan';

export const ASSIGNMENT_LABEL = 'macmux.io/mac-assignment';

export const nodeName = (ctx: VerbContext) => ctx.conf.nodeName ?? ctx.getenv('NODE_NAME') ?? hostname();
const nowSec = () => Math.floor(Date.now() / 1000);

/** `ns/pod/attachment`: the NAD's name (namespace-qualified when foreign), with @device when the pod attaches it twice. */
export function ownerFor(pod: PodInfo, att: Attachment, all: Attachment[]): Owner {
  const ref = att.nad ?? att.name;
  const [ns, name] = ref.includes('/') ? (ref.split('/') as [string, string]) : [pod.namespace, ref];
  let label = ns === pod.namespace ? name : `${ns}.${name}`;
  if (all.filter((a) => (a.nad ?? a.name) === ref).length > 1) label += `@${att.ifName}`;
  return ownerOf(pod.namespace, pod.name, label);
}

/** Runs `fn` with the journal and the cluster ledger, under the node's ledger lock; the journal is saved after. */
export async function withLedger<T>(ctx: VerbContext, api: KubeApi, fn: (j: Journal, cluster: ClusterLedger) => Promise<T>): Promise<T> {
  const { conf, log } = ctx;
  return withJournalLock(conf.cacheDir, conf.lockTimeout * 1000, async () => {
    const j = readJournal(conf.cacheDir, (m) => log.error(m));
    const cluster = new ClusterLedger(kubeStore(api, conf.macNamespace), {
      node: nodeName(ctx),
      graceSec: conf.macGracePeriod,
      ...(conf.macPool ? { fallback: conf.macPool } : {}),
    });
    for (const [name, cm] of Object.entries(j.seen)) cluster.seen.set(name, cm);
    try {
      await sync(ctx, j, cluster);
      return await fn(j, cluster);
    } finally {
      j.seen = Object.fromEntries(cluster.seen);
      writeJournal(conf.cacheDir, j);
    }
  }, (e) => log.error(`MAC ledger lock compromised: ${e.message}`));
}

/**
 * Before the delegates: a requested MAC is validated and recorded on its home; every other secondary
 * gets its owner's MAC back (while in grace, on any node) or a free one from the pool, unless the
 * namespace is not assigned. Each is journaled before the cluster is asked.
 */
export async function assignMacs(ctx: VerbContext, api: KubeApi, pod: PodInfo, atts: Attachment[], only: Attachment[] = atts): Promise<void> {
  const wants = only.filter((a) => !a.cluster || a.mac);
  if (wants.length === 0) return;
  const assign = wants.some((a) => !a.mac) ? await poolAssigned(ctx, api, pod.namespace) : false;
  const { env, log } = ctx;
  await withLedger(ctx, api, async (j, cluster) => {
    for (const att of wants) {
      if (!att.mac && !assign) continue;
      const owner = ownerFor(pod, att, atts);
      const intent = { owner, containerID: env.containerID, pid: process.pid };
      j.intents.push(intent);
      writeJournal(ctx.conf.cacheDir, j); // undo: the intent is reclaimed if this process dies
      let mac = att.mac;
      try {
        if (mac) {
          await cluster.claim(mac, owner).catch((e: unknown) => {
            if (e instanceof CniError && e.code === Code.MacConflict) ctx.counts.conflicts++;
            throw e;
          });
        } else {
          const local = Object.entries(j.entries).find(([, e]) => e.owner === owner)?.[0];
          mac = local ?? (await cluster.findOwner(owner));
          if (mac) await cluster.claim(mac, owner);
          else mac = await cluster.allocate(owner);
        }
      } catch (e) {
        // A refusal is definite: nothing was written. Only an uncertain outcome (code 11) keeps the intent for reclaiming.
        if (!(e instanceof CniError && e.code === Code.TryAgainLater)) j.intents = j.intents.filter((i) => i !== intent);
        throw e;
      }
      j.entries[mac] = { owner, state: 'reserved', containerID: env.containerID, pid: process.pid, since: nowSec() };
      ctx.counts.allocations++;
      j.intents = j.intents.filter((i) => i !== intent);
      if (att.mac !== mac) injectMac(att, mac);
      att.macOwner = owner;
      log.info(`MAC ${mac} held for ${owner}`);
    }
  });
}

/** After a successful ADD: the journal's reservations become active. */
export async function confirmMacs(ctx: VerbContext, atts: Attachment[]): Promise<void> {
  const held = atts.filter((a) => a.macOwner && a.mac);
  if (held.length === 0) return;
  await withJournalLock(ctx.conf.cacheDir, ctx.conf.lockTimeout * 1000, async () => {
    const j = readJournal(ctx.conf.cacheDir, (m) => ctx.log.error(m));
    for (const a of held) {
      const e = j.entries[a.mac!];
      if (e && e.owner === a.macOwner) j.entries[a.mac!] = { ...e, state: 'active', since: nowSec() };
    }
    writeJournal(ctx.conf.cacheDir, j);
  });
}

/**
 * After DEL (or a rolled-back ADD): the MACs are released, kept for their owners during the grace
 * period. With the API down, the release stays in the journal and is pushed at the next sync; until
 * then the cluster still counts the MAC as held, which delays its reuse but never duplicates it.
 */
export async function releaseMacs(ctx: VerbContext, atts: Attachment[], api?: KubeApi): Promise<void> {
  let held = atts.filter((a) => a.macOwner && a.mac);
  if (held.length === 0 || !ledgerOn(ctx)) return;
  const { conf, log } = ctx;
  let own: KubeApi | undefined;
  try {
    if (!api) {
      const { openApi } = await import('./k8s');
      own = await openApi(ctx, conf.timeBudget.del).catch((e: Error) => {
        log.error(`MAC release deferred: ${e.message}`);
        return undefined;
      });
    }
    const useApi = api ?? own;
    if (!useApi) return deferRelease(ctx, held);
    await withLedger(ctx, useApi, async (j, cluster) => {
      held = ours(ctx, j, held);
      for (const a of held) {
        if (j.entries[a.mac!]?.state !== 'released') ctx.counts.releases++;
        j.entries[a.mac!] = { ...(j.entries[a.mac!] ?? { containerID: ctx.env.containerID, pid: process.pid }), owner: a.macOwner!, state: 'released', since: nowSec(), pendingRelease: true };
      }
      writeJournal(conf.cacheDir, j);
      for (const a of held) {
        try {
          await cluster.release(a.mac!, a.macOwner!);
          delete j.entries[a.mac!]!.pendingRelease;
        } catch (e) {
          log.error(`MAC ${a.mac} release deferred to the next sync: ${(e as Error).message}`);
        }
      }
    });
  } catch (e) {
    if (e instanceof CniError && e.code === Code.TryAgainLater) {
      log.error(`MAC release deferred: ${e.message}`);
      return deferRelease(ctx, held);
    }
    throw e;
  } finally {
    own?.close();
  }
}

/** Records releases in the journal only (the API is down); pushed by the next invocation's sync. */
async function deferRelease(ctx: VerbContext, held: Attachment[]): Promise<void> {
  await withJournalLock(ctx.conf.cacheDir, ctx.conf.lockTimeout * 1000, async () => {
    const j = readJournal(ctx.conf.cacheDir, (m) => ctx.log.error(m));
    for (const a of ours(ctx, j, held)) {
      if (j.entries[a.mac!]?.state !== 'released') ctx.counts.releases++;
      j.entries[a.mac!] = { ...(j.entries[a.mac!] ?? { containerID: ctx.env.containerID, pid: process.pid }), owner: a.macOwner!, state: 'released', since: nowSec(), pendingRelease: true };
    }
    writeJournal(ctx.conf.cacheDir, j);
  });
}

/** The MACs this container may release: not those a newer sandbox of the same owner has taken back meanwhile. */
function ours(ctx: VerbContext, j: Journal, held: Attachment[]): Attachment[] {
  return held.filter((a) => {
    const e = j.entries[a.mac!];
    const newer = e !== undefined && e.containerID !== ctx.env.containerID && e.state !== 'released' && readCache(ctx.conf.cacheDir, e.containerID).kind === 'ok';
    if (newer) ctx.log.info(`MAC ${a.mac} is held again by container ${e.containerID} for ${e.owner}; not released`);
    return !newer;
  });
}

/**
 * Brings the cluster up to date with the journal: pending releases are pushed; reservations and
 * intents of ADDs that died (process gone, no cache entry) are released; released entries past
 * their grace period are forgotten.
 */
export async function sync(ctx: Pick<VerbContext, 'conf' | 'log'>, j: Journal, cluster: ClusterLedger): Promise<void> {
  const now = nowSec();
  const dead = (containerID: string, pid: number) => !alive(pid) && readCache(ctx.conf.cacheDir, containerID).kind === 'missing';
  for (const [mac, e] of Object.entries(j.entries)) {
    if (e.pendingRelease || (e.state === 'reserved' && dead(e.containerID, e.pid))) {
      await cluster.release(mac, e.owner);
      j.entries[mac] = { ...e, state: 'released', since: e.pendingRelease ? e.since : now };
      delete j.entries[mac]!.pendingRelease;
      ctx.log.info(`MAC ${mac} of ${e.owner} released in the cluster (journal sync)`);
    } else if (e.state === 'released' && now - e.since >= ctx.conf.macGracePeriod) {
      delete j.entries[mac];
    }
  }
  for (const intent of [...j.intents]) {
    if (alive(intent.pid) && intent.pid !== process.pid) continue;
    if (readCache(ctx.conf.cacheDir, intent.containerID).kind !== 'missing') continue;
    const mac = await cluster.findOwner(intent.owner);
    if (mac && !j.entries[mac]) await cluster.release(mac, intent.owner);
    j.intents = j.intents.filter((i) => i !== intent);
  }
}

/** Whether pool MACs are handed out in `namespace`: its macmux.io/mac-assignment label, else the config's default. */
async function poolAssigned(ctx: VerbContext, api: KubeApi, namespace: string): Promise<boolean> {
  const labels = (await api.namespaceLabels(namespace)) ?? {};
  const label = labels[ASSIGNMENT_LABEL];
  if (label === 'allocate') return true;
  if (label === 'ignore') return false;
  return ctx.conf.macAssignment === 'opt-out';
}
