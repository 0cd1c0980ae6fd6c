// Gives each secondary attachment its cluster-unique MAC before the delegates run, and releases it after DEL.
import { hostname } from 'node:os';
import { CniError, Code } from '../cni/errors';
import type { KubeApi } from '../k8s/api';
import { kubeStore } from '../k8s/cmstore';
import { ClusterLedger, type Who } from '../mac/cluster';
import { ownerOf, type Owner } from '../mac/holding';
import { historyRecord, recordHistory, type HistoryRecord } from '../mac/history';
import { alive, readJournal, readSeen, withJournalLock, writeJournal, writeSeen, type Journal } from '../mac/journal';
import type { Conf } from '../config/load';
import type { Logger } from '../log';
import { listCache, readCache, type PodInfo } from '../state/cache';
import { REQUESTED_LABEL, requestRefusal } from '../mac/requested';
import type { VerbContext } from './context';
import type { Attachment } from './plan';
import { ledgerOn } from './ledger-on';
import { injectMac } from './podplan';
import { podOf } from '../cni/pod';

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
  return withNodeLedger({ conf: ctx.conf, log: ctx.log, node: nodeName(ctx) }, api, async (j, cluster) => fn(j, cluster));
}

/** What the ledger work of one node needs: a verb's context, or the operator's `macmux ledger sync`. */
export interface NodeLedger {
  conf: Pick<Conf, 'cacheDir' | 'lockTimeout' | 'macNamespace' | 'macGracePeriod' | 'macPool'>;
  log: Pick<Logger, 'info' | 'error'>;
  node: string;
}

/** withLedger for a NodeLedger: `fn` also gets what the sync before it changed. */
async function withNodeLedger<T>(n: NodeLedger, api: KubeApi, fn: (j: Journal, cluster: ClusterLedger, synced: SyncChange[]) => Promise<T>): Promise<T> {
  const { conf, log } = n;
  return withJournalLock(conf.cacheDir, conf.lockTimeout * 1000, async () => {
    const j = readJournal(conf.cacheDir, (m) => log.error(m));
    const cluster = new ClusterLedger(kubeStore(api, conf.macNamespace), {
      node: n.node,
      graceSec: conf.macGracePeriod,
      ...(conf.macPool ? { fallback: conf.macPool } : {}),
    });
    // The seen cache, or (first run after an upgrade) what the journal used to cache.
    const cached = readSeen(conf.cacheDir);
    const before = cached ?? { cms: j.seen, full: {} };
    for (const [name, cm] of Object.entries(before.cms)) cluster.seen.set(name, cm);
    for (const [name, f] of Object.entries(before.full)) cluster.fullBlocks.set(name, f);
    const beforeFull = JSON.stringify(before.full);
    try {
      const synced = await sync(n, j, cluster);
      return await fn(j, cluster, synced);
    } finally {
      writeJournal(conf.cacheDir, j);
      // Rewritten only when a ConfigMap was read or written anew: the cache may be large (a node with 10,000 MACs).
      const full = Object.fromEntries([...cluster.fullBlocks].filter(([name, f]) => cluster.seen.get(name)?.resourceVersion === f.resourceVersion));
      if (cached === undefined || changedSeen(before.cms, cluster.seen) || JSON.stringify(full) !== beforeFull) {
        try {
          writeSeen(conf.cacheDir, { cms: Object.fromEntries(cluster.seen), full });
        } catch (e) {
          log.error(`MAC ledger cache not saved (the next invocation reads the ConfigMaps again): ${(e as Error).message}`);
        }
      }
    }
  }, (e) => log.error(`MAC ledger lock compromised: ${e.message}`));
}

function changedSeen(before: Record<string, { resourceVersion?: string }>, after: ReadonlyMap<string, { resourceVersion?: string }>): boolean {
  const names = Object.keys(before);
  if (names.length !== after.size) return true;
  return names.some((name) => after.get(name)?.resourceVersion !== before[name]!.resourceVersion);
}

/** `macmux ledger sync`: the sync every invocation starts with, on its own, under the node's ledger lock. */
export function syncNode(n: NodeLedger, api: KubeApi): Promise<SyncChange[]> {
  return withNodeLedger(n, api, async (_j, _cluster, synced) => synced);
}

/**
 * Before the delegates: a requested MAC is validated and recorded on its home; every other secondary
 * gets its owner's MAC back (while in grace, on any node) or a free one from the pool, unless the
 * namespace is not assigned. Each is journaled before the cluster is asked.
 */
export async function assignMacs(ctx: VerbContext, api: KubeApi, pod: PodInfo, atts: Attachment[], only: Attachment[] = atts): Promise<void> {
  const wants = only.filter((a) => !a.cluster || a.mac);
  if (wants.length === 0) return;
  const setting = ctx.conf.requestedMacs;
  // The namespace's labels, read once: for pool assignment and for the requestedMacs exception.
  const labels = wants.some((a) => !a.mac) || (setting !== 'any' && wants.some((a) => a.mac)) ? ((await api.namespaceLabels(pod.namespace)) ?? {}) : {};
  const assign = poolAssigned(ctx, labels);
  const { env, log } = ctx;
  const uid = pod.uid;
  await withLedger(ctx, api, async (j, cluster) => {
    // Every requested MAC is checked against the setting before any is taken.
    if (setting !== 'any') {
      const { spec } = await cluster.pool();
      for (const att of wants) {
        const why = att.mac && requestRefusal(att.mac, `${pod.namespace}/${pod.name}`, att.nad ?? att.name, setting, labels[REQUESTED_LABEL], spec);
        if (why) throw new CniError(Code.InvalidConfig, why);
      }
    }
    for (const att of wants) {
      if (!att.mac && !assign) continue;
      const owner = ownerFor(pod, att, atts);
      const intent = { owner, containerID: env.containerID, pid: process.pid, ...(uid ? { uid } : {}) };
      j.intents.push(intent);
      writeJournal(ctx.conf.cacheDir, j); // undo: the intent is reclaimed if this process dies
      const who = (m: string): Exclude<Who, string> => ({ owner, ...(uid ? { uid } : {}), adoptLegacy: once(() => legacyAdoptable(ctx, j, m, uid)) });
      let mac = att.mac;
      try {
        if (mac) {
          await cluster.claim(mac, who(mac)).catch((e: unknown) => {
            if (e instanceof CniError && e.code === Code.MacConflict) ctx.counts.conflicts++;
            throw e;
          });
        } else {
          const local = Object.entries(j.entries).find(([, e]) => e.owner === owner && (e.state === 'released' || e.uid === uid))?.[0];
          const sticky = local ?? (await cluster.findOwner(who('')));
          mac = sticky !== undefined && (await reclaim(ctx, j, cluster, sticky, who(sticky))) ? sticky : await cluster.allocate(who(''));
        }
      } catch (e) {
        // A refusal is definite: nothing was written. Only an uncertain outcome (code 11) keeps the intent for reclaiming.
        if (!(e instanceof CniError && e.code === Code.TryAgainLater)) j.intents = j.intents.filter((i) => i !== intent);
        throw e;
      }
      j.entries[mac] = { owner, ...(uid ? { uid } : {}), state: 'reserved', containerID: env.containerID, pid: process.pid, since: nowSec() };
      ctx.counts.allocations++;
      history(ctx, [historyRecord(mac, owner, 'reserve', nodeName(ctx), { containerID: env.containerID })]);
      j.intents = j.intents.filter((i) => i !== intent);
      if (att.mac !== mac) injectMac(att, mac);
      att.macOwner = owner;
      log.info(`MAC ${mac} held for ${owner}`);
    }
  });
}

/**
 * Takes the owner's previous MAC back. False when another owner holds it now (an operator freed it
 * with `ledger release --force`, or its grace period ended), or another pod of the same name still
 * holds it (re-created before its old node released it): the caller allocates a new one, since a
 * MAC the pod never asked for is not worth failing the ADD over. A released entry is forgotten.
 */
async function reclaim(ctx: VerbContext, j: Journal, cluster: ClusterLedger, mac: string, who: Exclude<Who, string>): Promise<boolean> {
  try {
    await cluster.claim(mac, who);
    return true;
  } catch (e) {
    if (!(e instanceof CniError && e.code === Code.MacConflict)) throw e;
    ctx.log.info(`MAC ${mac} of ${who.owner} cannot be taken back (${e.message}); allocating another`);
    if (j.entries[mac]?.owner === who.owner && j.entries[mac]!.state === 'released') delete j.entries[mac];
    return false;
  }
}

/** Calls `f` once, on first use. */
function once<T>(f: () => T): () => T {
  let v: { x: T } | undefined;
  return () => (v ??= { x: f() }).x;
}

/**
 * For a uid-less reserved or active holding of `mac` that this node wrote (a release before 12 did):
 * whether pod `uid` may take it, that is, whether no other sandbox of this node still holds it. The
 * node's cache and journal know its sandboxes: another container whose cache entry carries `mac` for
 * another (or an unknown) pod, or whose journal entry holds it with its ADD still running, keeps it.
 */
function legacyAdoptable(ctx: VerbContext, j: Journal, mac: string, uid: string | undefined): boolean {
  if (uid === undefined) return false;
  const e = j.entries[mac];
  if (e && e.containerID !== ctx.env.containerID && e.state !== 'released' && e.uid !== uid && alive(e.pid) && e.pid !== process.pid) return false;
  for (const id of listCache(ctx.conf.cacheDir)) {
    if (id === ctx.env.containerID) continue;
    const c = readCache(ctx.conf.cacheDir, id);
    if (c.kind === 'ok' && c.entry.attachments.some((a) => a.mac === mac) && c.entry.pod?.uid !== uid) return false;
  }
  return true;
}

/** After a successful ADD: the journal's reservations become active. */
export async function confirmMacs(ctx: VerbContext, atts: Attachment[]): Promise<void> {
  const held = atts.filter((a) => a.macOwner && a.mac);
  if (held.length === 0) return;
  await withJournalLock(ctx.conf.cacheDir, ctx.conf.lockTimeout * 1000, async () => {
    const j = readJournal(ctx.conf.cacheDir, (m) => ctx.log.error(m));
    const done: HistoryRecord[] = [];
    for (const a of held) {
      const e = j.entries[a.mac!];
      if (e && e.owner === a.macOwner) {
        if (e.state !== 'active') done.push(historyRecord(a.mac!, e.owner, 'activate', nodeName(ctx), { containerID: e.containerID }));
        j.entries[a.mac!] = { ...e, state: 'active', since: nowSec() };
      }
    }
    writeJournal(ctx.conf.cacheDir, j);
    history(ctx, done);
  });
}

/** What a release needs of an attachment: its MAC and the owner it is held for. */
export type HeldMac = Pick<Attachment, 'mac' | 'macOwner'>;

/**
 * After DEL (or a rolled-back ADD): the MACs are released, kept for their owners during the grace
 * period. With the API down, the release stays in the journal and is pushed at the next sync; until
 * then the cluster still counts the MAC as held, which delays its reuse but never duplicates it.
 */
export async function releaseMacs(ctx: VerbContext, atts: HeldMac[], api?: KubeApi): Promise<void> {
  let held = atts.filter((a) => a.macOwner && a.mac);
  if (held.length === 0 || !ledgerOn(ctx)) return;
  const { conf, log } = ctx;
  let own: KubeApi | undefined;
  try {
    if (!api) {
      const { openApi } = await import('./k8s');
      // A DEL (or GC) releasing: an API server that refuses connections is down, and the release waits in the journal.
      own = await openApi(ctx, conf.timeBudget.del, { refusedIsDown: true }).catch((e: Error) => {
        log.error(`MAC release deferred: ${e.message}`);
        return undefined;
      });
    }
    const useApi = api ?? own;
    if (!useApi) return deferRelease(ctx, held);
    await withLedger(ctx, useApi, async (j, cluster) => {
      held = ours(ctx, j, held);
      const uids = new Map(held.map((a) => [a.mac!, releaserUid(ctx, j, a)]));
      for (const a of held) {
        if (j.entries[a.mac!]?.state !== 'released') released(ctx, a);
        j.entries[a.mac!] = { ...(j.entries[a.mac!] ?? { containerID: ctx.env.containerID, pid: process.pid }), ...withUid(uids.get(a.mac!)), owner: a.macOwner!, state: 'released', since: nowSec(), pendingRelease: true };
      }
      writeJournal(conf.cacheDir, j);
      for (const a of held) {
        try {
          await cluster.release(a.mac!, { owner: a.macOwner!, ...withUid(uids.get(a.mac!)) });
          delete j.entries[a.mac!]!.pendingRelease;
        } catch (e) {
          log.error(`MAC ${a.mac} release deferred to the next sync: ${(e as Error).message}`);
        }
      }
    });
  } catch (e) {
    // Unreachable, or refused (a token that died with the DaemonSet pod that copied it, until its successor copies a new one): a DEL still succeeds.
    if (e instanceof CniError && (e.code === Code.TryAgainLater || e.code === Code.ApiRefused)) {
      log.error(`MAC release deferred: ${e.message}`);
      return deferRelease(ctx, held);
    }
    throw e;
  } finally {
    own?.close();
  }
}

/** Records releases in the journal only (the API is down); pushed by the next invocation's sync. */
async function deferRelease(ctx: VerbContext, held: HeldMac[]): Promise<void> {
  await withJournalLock(ctx.conf.cacheDir, ctx.conf.lockTimeout * 1000, async () => {
    const j = readJournal(ctx.conf.cacheDir, (m) => ctx.log.error(m));
    for (const a of ours(ctx, j, held)) {
      if (j.entries[a.mac!]?.state !== 'released') released(ctx, a);
      j.entries[a.mac!] = { ...(j.entries[a.mac!] ?? { containerID: ctx.env.containerID, pid: process.pid }), ...withUid(releaserUid(ctx, j, a)), owner: a.macOwner!, state: 'released', since: nowSec(), pendingRelease: true };
    }
    writeJournal(ctx.conf.cacheDir, j);
  });
}

/**
 * The UID of the pod whose sandbox releases `a`: its journal entry's when this container wrote it, else the
 * sandbox's pod (cache entry, or CNI_ARGS K8S_POD_UID). The cluster releases only that pod's holding.
 */
function releaserUid(ctx: VerbContext, j: Journal, a: HeldMac): string | undefined {
  const e = j.entries[a.mac!];
  if (e?.uid && e.containerID === ctx.env.containerID) return e.uid;
  return ctx.pod?.uid ?? podOf(ctx.env)?.uid;
}

const withUid = (uid: string | undefined) => (uid ? { uid } : {});

/** Counts a release and records it in the node's history. */
function released(ctx: VerbContext, a: HeldMac): void {
  ctx.counts.releases++;
  history(ctx, [historyRecord(a.mac!, a.macOwner!, 'release', nodeName(ctx), { containerID: ctx.env.containerID })]);
}

/** Appends to the node's MAC history (under the ledger lock); a failure is logged, never fatal. */
function history(ctx: Pick<VerbContext, 'conf' | 'log'>, records: HistoryRecord[]): void {
  recordHistory(ctx.conf.cacheDir, records, (m) => ctx.log.error(m));
}

/** The MACs this container may release: not those a newer sandbox of the same owner has taken back meanwhile. */
function ours(ctx: VerbContext, j: Journal, held: HeldMac[]): HeldMac[] {
  return held.filter((a) => {
    const e = j.entries[a.mac!];
    const newer = e !== undefined && e.containerID !== ctx.env.containerID && e.state !== 'released' && readCache(ctx.conf.cacheDir, e.containerID).kind === 'ok';
    if (newer) ctx.log.info(`MAC ${a.mac} is held again by container ${e.containerID} for ${e.owner}; not released`);
    return !newer;
  });
}

/** One change a sync made: a deferred release pushed, a dead ADD's MAC reclaimed, an old release forgotten, an intent dropped. */
export interface SyncChange {
  change: 'pushed' | 'reclaimed' | 'forgotten' | 'intent-dropped';
  owner: Owner;
  /** Absent for an intent that never got a MAC. */
  mac?: string;
  containerID: string;
}

/**
 * Brings the cluster up to date with the journal: pending releases are pushed; reservations and
 * intents of ADDs that died (process gone, no cache entry) are released; released entries past
 * their grace period are forgotten. Returns what it changed.
 */
export async function sync(ctx: { conf: Pick<Conf, 'cacheDir' | 'macGracePeriod'>; log: Pick<Logger, 'info' | 'error'> }, j: Journal, cluster: ClusterLedger): Promise<SyncChange[]> {
  const now = nowSec();
  const changes: SyncChange[] = [];
  // Each change is recorded as it happens: a later failure (the API down again) must not lose the earlier ones.
  const note = (c: SyncChange) => {
    changes.push(c);
    if (c.mac && c.change !== 'forgotten') {
      recordHistory(ctx.conf.cacheDir, [historyRecord(c.mac, c.owner, 'sync-release', cluster.node, { containerID: c.containerID })], (m) => ctx.log.error(m));
    }
  };
  const dead = (containerID: string, pid: number) => !alive(pid) && readCache(ctx.conf.cacheDir, containerID).kind === 'missing';
  for (const [mac, e] of Object.entries(j.entries)) {
    if (e.pendingRelease || (e.state === 'reserved' && dead(e.containerID, e.pid))) {
      await cluster.release(mac, { owner: e.owner, ...withUid(e.uid) });
      j.entries[mac] = { ...e, state: 'released', since: e.pendingRelease ? e.since : now };
      delete j.entries[mac]!.pendingRelease;
      note({ change: e.pendingRelease ? 'pushed' : 'reclaimed', owner: e.owner, mac, containerID: e.containerID });
      ctx.log.info(`MAC ${mac} of ${e.owner} released in the cluster (journal sync)`);
    } else if (e.state === 'released' && now - e.since >= ctx.conf.macGracePeriod) {
      delete j.entries[mac];
      note({ change: 'forgotten', owner: e.owner, mac, containerID: e.containerID });
    }
  }
  for (const intent of [...j.intents]) {
    if (alive(intent.pid) && intent.pid !== process.pid) continue;
    if (readCache(ctx.conf.cacheDir, intent.containerID).kind !== 'missing') continue;
    const who = { owner: intent.owner, ...withUid(intent.uid) };
    const mac = await cluster.findOwner(who);
    const reclaim = mac !== undefined && !j.entries[mac];
    if (reclaim) await cluster.release(mac, who);
    j.intents = j.intents.filter((i) => i !== intent);
    note({ change: reclaim ? 'reclaimed' : 'intent-dropped', owner: intent.owner, ...(reclaim ? { mac } : {}), containerID: intent.containerID });
  }
  return changes;
}

/** Whether pool MACs are handed out in a namespace with `labels`: its macmux.io/mac-assignment label, else the config's default. */
function poolAssigned(ctx: VerbContext, labels: Record<string, string>): boolean {
  const label = labels[ASSIGNMENT_LABEL];
  if (label === 'allocate') return true;
  if (label === 'ignore') return false;
  return ctx.conf.macAssignment === 'opt-out';
}
