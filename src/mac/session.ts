// The node-ledger session: the journal and the cluster ledger under the node's ledger lock, opened by a sync; shared by the verbs and `macmux ledger sync`.
import type { KubeApi } from '../k8s/api';
import { kubeStore } from '../k8s/cmstore';
import type { Conf } from '../config/load';
import type { Logger } from '../log';
import { readCache } from '../state/cache';
import { ClusterLedger, type IndexWrite, type Who } from './cluster';
import { kindOf } from './home';
import type { Owner } from './holding';
import { historyRecord, recordHistory } from './history';
import { alive, journalChanged, readJournal, readSeen, withJournalLock, writeJournal, writeSeen, type Journal } from './journal';

export const nowSec = () => Math.floor(Date.now() / 1000);
export const withUid = (uid: string | undefined) => (uid ? { uid } : {});

/** What the ledger work of one node needs: a verb's context, or the operator's `macmux ledger sync`. */
export interface NodeLedger {
  conf: Pick<Conf, 'cacheDir' | 'lockTimeout' | 'macNamespace' | 'macGracePeriod' | 'macPool'>;
  log: Pick<Logger, 'info' | 'error'>;
  node: string;
}

/** Runs `fn` with the journal and the cluster ledger, under the node's ledger lock, after a sync (`fn` gets what it changed); the journal is saved after. */
export async function withNodeLedger<T>(n: NodeLedger, api: KubeApi, fn: (j: Journal, cluster: ClusterLedger, synced: SyncChange[]) => Promise<T>): Promise<T> {
  const { conf, log } = n;
  return withJournalLock(conf.cacheDir, conf.lockTimeout * 1000, async () => {
    const j = readJournal(conf.cacheDir, (m) => log.error(m));
    const cluster = new ClusterLedger(kubeStore(api, conf.macNamespace), {
      node: n.node,
      graceSec: conf.macGracePeriod,
      ...(conf.macPool ? { fallback: conf.macPool } : {}),
      warn: (m) => log.error(m),
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
      // Durable, unless `fn` saved the journal as it is now itself, as durably as its own crash argument needed.
      if (journalChanged(j)) writeJournal(conf.cacheDir, j);
      // Rewritten only when a ConfigMap was read or written anew: the cache may be large (a node with 10,000 MACs).
      const full = Object.fromEntries([...cluster.fullBlocks].filter(([name, f]) => (cluster.seen.get(name)?.resourceVersion ?? f.resourceVersion) === f.resourceVersion));
      // A block's ConfigMap found full is not kept: allocation skips it by its record in `full`, so the file does not grow with the node's blocks.
      const cms = Object.fromEntries([...cluster.seen].filter(([name]) => !(kindOf(name) === 'block' && full[name])));
      if (cached === undefined || changedSeen(before.cms, cms) || JSON.stringify(full) !== beforeFull) {
        try {
          writeSeen(conf.cacheDir, { cms, full });
        } catch (e) {
          log.error(`MAC ledger cache not saved (the next invocation reads the ConfigMaps again): ${(e as Error).message}`);
        }
      }
    }
  }, (e) => log.error(`MAC ledger lock compromised: ${e.message}`));
}

function changedSeen(before: Record<string, { resourceVersion?: string }>, after: Record<string, { resourceVersion?: string }>): boolean {
  const names = Object.keys(before);
  if (names.length !== Object.keys(after).length) return true;
  return names.some((name) => after[name]?.resourceVersion !== before[name]!.resourceVersion);
}

/** `macmux ledger sync`: the sync every invocation starts with, on its own, under the node's ledger lock. */
export function syncNode(n: NodeLedger, api: KubeApi): Promise<SyncChange[]> {
  return withNodeLedger(n, api, async (_j, _cluster, synced) => synced);
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
  // Releases pushed, for the owner index: recorded even when a later step fails.
  const released: Array<{ mac: string; who: Who }> = [];
  try {
    for (const [mac, e] of Object.entries(j.entries)) {
      if (e.pendingRelease || (e.state === 'reserved' && dead(e.containerID, e.pid))) {
        const who = { owner: e.owner, ...withUid(e.uid), ...(e.retain ? { retain: e.retain } : {}) };
        if ((await cluster.release(mac, who)) && e.pendingRelease) released.push({ mac, who });
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
      const who = { owner: intent.owner, ...withUid(intent.uid), ...(intent.retain ? { retain: intent.retain } : {}) };
      // Where the dead ADD may have taken a MAC: the one it requested, its owner's last (the index, or a released entry of this journal), or a free one of this node's blocks.
      const sticky = await cluster.findOwner(who);
      const local = Object.entries(j.entries).flatMap(([m, e]) => (e.owner === intent.owner && e.state === 'released' ? [m] : []));
      const mac = await cluster.findHeld(who, [...new Set([intent.mac, sticky, ...local].filter((m): m is string => m !== undefined))]);
      // findHeld finds only a live holding for the intent's pod: the dead ADD's, unless the journal holds that MAC live itself
      // (its pod's other sandbox). A released entry (the MAC taken back from it) does not stop the reclaim.
      const held = mac === undefined ? undefined : j.entries[mac];
      const reclaim = mac !== undefined && (held === undefined || held.state === 'released');
      if (reclaim) {
        const done = await cluster.release(mac, who);
        // The entry follows the release just pushed: the owner's stickiness here lasts as long as the cluster keeps the MAC for it.
        if (held && done) j.entries[mac] = { owner: intent.owner, ...withUid(intent.uid), ...(intent.retain ? { retain: intent.retain } : {}), state: 'released', containerID: intent.containerID, pid: intent.pid, since: nowSec() };
      }
      j.intents = j.intents.filter((i) => i !== intent);
      note({ change: reclaim ? 'reclaimed' : 'intent-dropped', owner: intent.owner, ...(reclaim ? { mac } : {}), containerID: intent.containerID });
    }
    // Owner-index objects this node wrote whose entries have all expired: deleted (unless another node wrote them since).
    for (const [name, w] of Object.entries(j.index ?? {})) {
      if (w.until > now) continue;
      try {
        await cluster.dropIndex({ name, ...w });
        delete j.index![name];
      } catch (e) {
        ctx.log.error(`owner index ${name} not deleted (the next sync tries again): ${(e as Error).message}`);
      }
    }
  } finally {
    rememberIndex(j, await cluster.recordReleased(released));
  }
  return changes;
}

/** Notes in the journal the owner-index objects just written and when their entries expire, for the sync that deletes them. */
export function rememberIndex(j: Journal, writes: IndexWrite[]): void {
  for (const w of writes) {
    if (w.until === undefined) {
      if (j.index) delete j.index[w.name]; // retained: kept until gc frees the MAC
      continue;
    }
    (j.index ??= {})[w.name] = { resourceVersion: w.resourceVersion, until: w.until };
  }
}
