// Gives each secondary attachment its cluster-unique MAC before the delegates run, and releases it after DEL.
import { hostname } from 'node:os';
import { CniError, Code } from '../cni/errors';
import type { KubeApi } from '../k8s/api';
import { ClusterLedger, type IndexReads, type Take, type Who } from '../mac/cluster';
import { ownerOf, type Owner } from '../mac/holding';
import { historyRecord, recordHistory, type HistoryRecord } from '../mac/history';
import { alive, readJournal, withJournalLock, writeJournal, type Intent, type Journal } from '../mac/journal';
import { nowSec, rememberIndex, withNodeLedger, withUid } from '../mac/session';
import { listCache, readCache } from '../state/cache';
import { podOf, type PodInfo } from '../cni/env';
import { REQUESTED_LABEL, requestRefusal } from '../mac/requested';
import { ledgerOn, type Target, type VerbContext } from './context';
import { openApi, openEarly, type Early, type EarlyApi } from './k8s';
import { indexed } from '../mac/generated';
import type { MacCounts } from '../metrics/stats-merge';
import type { Attachment } from '../state/attachment';
import { injectMac } from './plan';

export const ASSIGNMENT_LABEL = 'macmux.io/mac-assignment';

const noCounts = (): MacCounts => ({ allocations: 0, releases: 0, conflicts: 0 });

export const nodeName = (ctx: VerbContext) => ctx.conf.nodeName ?? ctx.getenv('NODE_NAME') ?? hostname();

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

/**
 * Before the delegates: a requested MAC is validated and recorded on its home; every other secondary
 * gets its owner's MAC back (while in grace, on any node) or a free one from the pool, unless the
 * namespace is not assigned. All are journaled before the cluster is asked, then taken in one write per
 * home (ClusterLedger.take). Answers what it counted,
 * and the error that stopped it, if any: the MACs taken (their attachments' macOwner set) are the
 * caller's to release.
 */
export async function assignMacs(ctx: VerbContext, api: KubeApi, pod: PodInfo, atts: Attachment[], only: Attachment[] = atts, early?: Early): Promise<{ counts: MacCounts; error?: unknown }> {
  const counts = noCounts();
  try {
    await assign(ctx, api, pod, atts, only, counts, early);
    return { counts };
  } catch (error) {
    return { counts, error };
  }
}

async function assign(ctx: VerbContext, api: KubeApi, pod: PodInfo, atts: Attachment[], only: Attachment[], counts: MacCounts, early?: Early): Promise<void> {
  const wants = only.filter((a) => !a.cluster || a.mac);
  if (wants.length === 0) return;
  const setting = ctx.conf.requestedMacs;
  // The namespace's labels, read once (with the pod, when ADD started it): for pool assignment and for the requestedMacs exception.
  const labels = wants.some((a) => !a.mac) || (setting !== 'any' && wants.some((a) => a.mac)) ? ((await (early?.labels ?? api.namespaceLabels(pod.namespace))) ?? {}) : {};
  const assign = poolAssigned(ctx, labels);
  const { env, log } = ctx;
  const uid = pod.uid;
  await withLedger(ctx, api, async (j, cluster) => {
    // One read of the pod's owner-index object for all its attachments (started with the pod's, when ADD did).
    const indexReads: IndexReads = early?.index ?? new Map();
    // Every requested MAC is checked against the setting before any is taken.
    if (setting !== 'any') {
      const { spec } = await cluster.pool();
      for (const att of wants) {
        const why = att.mac && requestRefusal(att.mac, `${pod.namespace}/${pod.name}`, att.nad ?? att.name, setting, labels[REQUESTED_LABEL], spec);
        if (why) throw new CniError(Code.InvalidConfig, why);
      }
    }
    const chosen = wants.filter((att) => att.mac || assign);
    if (chosen.length === 0) return;
    const retain = pod.retain !== undefined ? { retain: pod.retain } : {};
    const owners = chosen.map((att) => ownerFor(pod, att, atts));
    const intents: Intent[] = chosen.map((att, i) => ({ owner: owners[i]!, containerID: env.containerID, pid: process.pid, ...(uid ? { uid } : {}), ...(att.mac ? { mac: att.mac } : {}), ...retain }));
    j.intents.push(...intents);
    writeJournal(ctx.conf.cacheDir, j); // undo: the intents are reclaimed if this process dies
    const who = (owner: Owner, m: string): Exclude<Who, string> => ({ owner, ...(uid ? { uid } : {}), ...retain, adoptLegacy: once(() => legacyAdoptable(ctx, j, m, uid)) });
    // What each takes: its requested MAC, its owner's last one (this node's journal, else the owner index: one read), or a pool MAC.
    const items: Take[] = [];
    for (const [i, att] of chosen.entries()) {
      const owner = owners[i]!;
      if (att.mac) {
        items.push({ who: who(owner, att.mac), mac: att.mac, strict: true });
        continue;
      }
      let sticky: string | undefined;
      try {
        sticky = Object.entries(j.entries).find(([, e]) => e.owner === owner && (e.state === 'released' || e.uid === uid))?.[0];
        if (sticky === undefined && indexed(pod)) sticky = await cluster.findOwner(who(owner, ''), indexReads);
      } catch (e) {
        // Nothing was written: only an uncertain read (code 11) keeps its intent for the sync.
        j.intents = j.intents.filter((x) => !intents.includes(x) || (x === intents[i] && uncertain(e)));
        throw e; // the session saves the journal, durably
      }
      items.push(sticky !== undefined ? { who: who(owner, sticky), mac: sticky } : { who: who(owner, '') });
    }
    // The MACs of one home in one write (see ClusterLedger.take).
    const taken = await cluster.take(items).catch((e: unknown) => {
      // Refused as a whole (the pool read refused, a config error): nothing was written. Only an uncertain outcome (code 11) keeps the intents.
      if (!uncertain(e)) j.intents = j.intents.filter((x) => !intents.includes(x));
      throw e;
    });
    const done: HistoryRecord[] = [];
    let error: unknown;
    for (const [i, att] of chosen.entries()) {
      const got = taken[i];
      const owner = owners[i]!;
      // A refusal is definite: nothing was written. Only an uncertain outcome (code 11) keeps the intent for reclaiming.
      if (!got || 'error' in got) {
        if (!got || !uncertain(got.error)) j.intents = j.intents.filter((x) => x !== intents[i]);
        if (got && error === undefined) error = got.error;
        continue;
      }
      const { mac } = got;
      if (got.lost !== undefined) {
        const sticky = items[i]!.mac!;
        log.info(`MAC ${sticky} of ${owner} cannot be taken back (${got.lost}); allocating another`);
        if (j.entries[sticky]?.owner === owner && j.entries[sticky]!.state === 'released') delete j.entries[sticky];
      }
      j.entries[mac] = { owner, ...(uid ? { uid } : {}), ...retain, state: 'reserved', containerID: env.containerID, pid: process.pid, since: nowSec() };
      counts.allocations++;
      done.push(historyRecord(mac, owner, 'reserve', nodeName(ctx), { containerID: env.containerID }));
      j.intents = j.intents.filter((x) => x !== intents[i]);
      if (att.mac !== mac) injectMac(att, mac);
      att.macOwner = owner;
      log.info(`MAC ${mac} held for ${owner}`);
    }
    // The reservations replacing the intents need only be ordered: a power loss brings the intents back, and from the
    // cache entry on (written durably before any delegate runs) the entry holds the MACs too. After an error the session saves it durably.
    if (error === undefined) writeJournal(ctx.conf.cacheDir, j, 'ordered');
    history(ctx, done);
    if (error !== undefined) {
      if (error instanceof CniError && error.code === Code.MacConflict) counts.conflicts++;
      throw error;
    }
  });
}

const uncertain = (e: unknown) => e instanceof CniError && e.code === Code.TryAgainLater;

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
    // Ordered, not durable: a reservation whose cache entry exists is kept by every sync, and DEL releases it as it would
    // an active one; the cache entry, durable since before the delegates ran, outlives both until that DEL.
    writeJournal(ctx.conf.cacheDir, j, 'ordered');
    history(ctx, done);
  });
}

/** What a release needs of an attachment: its MAC and the owner it is held for. */
export type HeldMac = Pick<Attachment, 'mac' | 'macOwner'>;

/** A release's own API: a server that refuses connections is down, and the release waits in the journal. */
const releaseTransport = { refusedIsDown: true };

/**
 * After DEL (or a rolled-back ADD): the MACs are released, kept for their owners during the grace
 * period. With the API down, the release stays in the journal and is pushed at the next sync; until
 * then the cluster still counts the MAC as held, which delays its reuse but never duplicates it.
 * On `given` (a rolled-back ADD's API), else on `early` (opened while a DEL's delegates ran), else on an API of its own.
 */
export async function releaseMacs(ctx: VerbContext, t: Target, atts: HeldMac[], given?: KubeApi, early?: EarlyApi): Promise<MacCounts> {
  let held = atts.filter((a) => a.macOwner && a.mac);
  const counts = noCounts();
  if (held.length === 0 || !ledgerOn(ctx)) return counts;
  const { conf, log } = ctx;
  let own: KubeApi | undefined;
  try {
    if (!given) {
      // A DEL (or GC) releasing, on the API opened for it if any.
      own = await (early ? early.take() : openApi(ctx, t.budget, releaseTransport)).catch((e: Error) => {
        log.error(`MAC release deferred: ${e.message}`);
        return undefined;
      });
    }
    const useApi = given ?? own;
    if (!useApi) return await deferRelease(ctx, t, held, counts);
    // Its connection, opened during the delegates, was refused: the server was down then. It may be back (a control-plane restart):
    // one fresh connection tells (a refused one costs well under a ms), and the release takes it when it opens.
    const down = early?.down() && (await early.recheck());
    if (down) {
      log.error(`MAC release deferred: ${down}`);
      return await deferRelease(ctx, t, held, counts);
    }
    await withLedger(ctx, useApi, async (j, cluster) => {
      held = ours(ctx, t, j, held);
      const uids = new Map(held.map((a) => [a.mac!, releaserUid(ctx, t, j, a)]));
      for (const a of held) {
        if (j.entries[a.mac!]?.state !== 'released') released(ctx, t, a, counts);
        j.entries[a.mac!] = { ...(j.entries[a.mac!] ?? { containerID: t.containerID, pid: process.pid }), ...withUid(uids.get(a.mac!)), owner: a.macOwner!, state: 'released', since: nowSec(), pendingRelease: true };
      }
      // Ordered: the durable write after the cluster writes records what is still pending before DEL drops the
      // cache entry; a power loss before it keeps the entry, and a DEL or GC releases again from it.
      writeJournal(conf.cacheDir, j, 'ordered');
      const items = held.map((a) => {
        const retain = j.entries[a.mac!]!.retain;
        return { mac: a.mac!, who: { owner: a.macOwner!, ...withUid(uids.get(a.mac!)), ...(retain ? { retain } : {}) } };
      });
      // The MACs of one home in one write.
      const results = await cluster.releaseMany(items);
      const done: Array<{ mac: string; who: Who }> = [];
      items.forEach((it, i) => {
        const r = results[i]!;
        if (r instanceof Error) {
          log.error(`MAC ${it.mac} release deferred to the next sync: ${r.message}`);
          return;
        }
        if (r) done.push(it);
        delete j.entries[it.mac]!.pendingRelease;
      });
      // A pod whose name the API server generated is never asked for again by name: no owner-index object for it.
      if (!t.pod || indexed(t.pod)) rememberIndex(j, await cluster.recordReleased(done));
      writeJournal(conf.cacheDir, j); // durable before DEL drops the cache entry: what is still pending, the index objects written
    });
  } catch (e) {
    // Unreachable, or refused (a token that died with the DaemonSet pod that copied it, until its successor copies a new one): a DEL still succeeds.
    if (e instanceof CniError && (e.code === Code.TryAgainLater || e.code === Code.ApiRefused)) {
      log.error(`MAC release deferred: ${e.message}`);
      return await deferRelease(ctx, t, held, counts);
    }
    throw e;
  } finally {
    own?.close();
  }
  return counts;
}

/** Records releases in the journal only (the API is down); pushed by the next invocation's sync. */
async function deferRelease(ctx: VerbContext, t: Target, held: HeldMac[], counts: MacCounts): Promise<MacCounts> {
  await withJournalLock(ctx.conf.cacheDir, ctx.conf.lockTimeout * 1000, async () => {
    const j = readJournal(ctx.conf.cacheDir, (m) => ctx.log.error(m));
    for (const a of ours(ctx, t, j, held)) {
      if (j.entries[a.mac!]?.state !== 'released') released(ctx, t, a, counts);
      j.entries[a.mac!] = { ...(j.entries[a.mac!] ?? { containerID: t.containerID, pid: process.pid }), ...withUid(releaserUid(ctx, t, j, a)), owner: a.macOwner!, state: 'released', since: nowSec(), pendingRelease: true };
    }
    writeJournal(ctx.conf.cacheDir, j);
  });
  return counts;
}

/**
 * The UID of the pod whose sandbox releases `a`: its journal entry's when this container wrote it, else the
 * sandbox's pod (cache entry, or CNI_ARGS K8S_POD_UID). The cluster releases only that pod's holding.
 */
function releaserUid(ctx: VerbContext, t: Target, j: Journal, a: HeldMac): string | undefined {
  const e = j.entries[a.mac!];
  if (e?.uid && e.containerID === t.containerID) return e.uid;
  return t.pod?.uid ?? podOf(ctx.env)?.uid;
}

/** Counts a release and records it in the node's history. */
function released(ctx: VerbContext, t: Target, a: HeldMac, counts: MacCounts): void {
  counts.releases++;
  history(ctx, [historyRecord(a.mac!, a.macOwner!, 'release', nodeName(ctx), { containerID: t.containerID })]);
}

/** Appends to the node's MAC history (under the ledger lock); a failure is logged, never fatal. */
function history(ctx: Pick<VerbContext, 'conf' | 'log'>, records: HistoryRecord[]): void {
  recordHistory(ctx.conf.cacheDir, records, (m) => ctx.log.error(m));
}

/** The MACs this container may release: not those a newer sandbox of the same owner has taken back meanwhile. */
function ours(ctx: VerbContext, t: Target, j: Journal, held: HeldMac[]): HeldMac[] {
  return held.filter((a) => {
    const e = j.entries[a.mac!];
    const newer = e !== undefined && e.containerID !== t.containerID && e.state !== 'released' && readCache(ctx.conf.cacheDir, e.containerID).kind === 'ok';
    if (newer) ctx.log.info(`MAC ${a.mac} is held again by container ${e.containerID} for ${e.owner}; not released`);
    return !newer;
  });
}

/** Whether pool MACs are handed out in a namespace with `labels`: its macmux.io/mac-assignment label, else the config's default. */
function poolAssigned(ctx: VerbContext, labels: Record<string, string>): boolean {
  const label = labels[ASSIGNMENT_LABEL];
  if (label === 'allocate') return true;
  if (label === 'ignore') return false;
  return ctx.conf.macAssignment === 'opt-out';
}

/** Releases the ledger MACs of deleted attachments (none when the ledger is off or none was held), over `early` if given; what it counted. */
export async function releaseHeld(ctx: VerbContext, t: Target, atts: HeldMac[], early?: EarlyApi): Promise<MacCounts> {
  if (!ledgerOn(ctx) || !atts.some((a) => a.macOwner)) return noCounts();
  return releaseMacs(ctx, t, atts, undefined, early);
}

/** The API a release of `atts` will use, opened now (the caller closes it): undefined when there is nothing to release, so no connection is made. */
export function openForRelease(ctx: VerbContext, t: Target, atts: HeldMac[]): EarlyApi | undefined {
  if (!ledgerOn(ctx) || !atts.some((a) => a.macOwner && a.mac)) return undefined;
  return openEarly(ctx, t.budget, releaseTransport);
}
