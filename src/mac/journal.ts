// The node-local ledger: a journal of the MACs this node's pods hold, under cacheDir/ledger, written atomically under a lock.
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, Code } from '../cni/errors';
import { syncRename, writeFileAtomic, type Sync } from '../util/atomic';
import { withLock } from '../util/lock';
import type { MacState, Owner } from './holding';
import type { Cm } from './store';
import type { FullBlocks } from './cas';
import { listCache, readCache } from '../state/cache';

export interface JournalEntry {
  owner: Owner;
  /** The UID of the owner's pod (absent in entries written before 12): DEL and sync release only that pod's holding. */
  uid?: string;
  state: MacState;
  containerID: string;
  /** The process that reserved it: a reservation whose process is gone and that no cache entry knows is reclaimed. */
  pid: number;
  since: number;
  /** True while the cluster has not yet been told (the API was down). */
  pendingRelease?: boolean;
  /** The pod's retention anchor (`Kind/name`, macmux.io/mac-retention: owner): its release keeps the MAC while that owner exists. */
  retain?: string;
}

/** An allocation under way: written before the pool is asked, so a crash in between can still be undone. */
export interface Intent {
  owner: Owner;
  uid?: string;
  containerID: string;
  pid: number;
  /** The MAC the pod requested, if it did: where a crashed ADD may have claimed it. */
  mac?: string;
  /** The pod's retention anchor: a crashed ADD may have taken the anchor's MAC back (the owner index's key for it). */
  retain?: string;
}

export interface Journal {
  format: 1;
  entries: Record<string, JournalEntry>;
  intents: Intent[];
  /**
   * Left over from versions that cached the ledger ConfigMaps in the journal: read once, for the seen
   * cache (readSeen), and written back empty. The cache now lives in its own file, off the journal's writes.
   */
  seen: Record<string, Cm>;
  /** Owner-index objects this node wrote, by name: deleted by a sync once their entries expire, unless another node wrote them since. */
  index?: Record<string, { resourceVersion: string; until: number }>;
}

export const journalDir = (cacheDir: string) => join(cacheDir, 'ledger');
const journalFile = (cacheDir: string) => join(journalDir(cacheDir), 'journal.json');
const seenFile = (cacheDir: string) => join(journalDir(cacheDir), 'seen.json');

/**
 * The last seen ledger ConfigMaps with their resourceVersions, so that the common case is one update
 * and no read, and the blocks of each found full at that resourceVersion. Only a cache: every write
 * made from it is a compare-and-swap, so a stale copy costs a 409 and a re-read.
 */
export interface SeenCache {
  cms: Record<string, Cm>;
  full: Record<string, FullBlocks>;
}

/** The seen cache; a damaged or foreign file is an empty one. Undefined when there is no file. */
export function readSeen(cacheDir: string): SeenCache | undefined {
  let text: string;
  try {
    text = readFileSync(seenFile(cacheDir), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const v = JSON.parse(text) as { format?: number; cms?: Record<string, Cm>; full?: Record<string, FullBlocks> };
    if (v?.format !== 1 || typeof v.cms !== 'object' || v.cms === null) return { cms: {}, full: {} };
    const cms = Object.fromEntries(Object.entries(v.cms).filter(([name, cm]) => cm && cm.name === name && typeof cm.resourceVersion === 'string' && typeof cm.data === 'object' && cm.data !== null));
    const full = Object.fromEntries(
      Object.entries(typeof v.full === 'object' && v.full !== null ? v.full : {}).filter(
        // A full block's ConfigMap is kept without its copy (see ClusterLedger.allocate): its record alone.
        ([name, f]) => f && typeof f.resourceVersion === 'string' && (!cms[name] || f.resourceVersion === cms[name].resourceVersion) && Array.isArray(f.blocks) && f.blocks.every((b) => Number.isInteger(b) && b >= 0),
      ),
    );
    return { cms, full };
  } catch {
    return { cms: {}, full: {} };
  }
}

/**
 * Saves the seen cache, under the ledger lock. Not fsynced (a power loss may bring back an older copy,
 * which only costs a 409), but renamed into place, so never torn.
 */
export function writeSeen(cacheDir: string, seen: SeenCache): void {
  writeFileAtomic(seenFile(cacheDir), JSON.stringify({ format: 1, ...seen }), 0o600, { sync: 'none', phase: 'seen' });
}

/**
 * Reads the journal. A damaged one is moved aside to *.corrupt-<time> and rebuilt from what this node
 * still knows: the MACs its cached containers hold. `warn` reports it, saying what was lost.
 */
export function readJournal(cacheDir: string, warn: (msg: string) => void): Journal {
  const file = journalFile(cacheDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { format: 1, entries: {}, intents: [], seen: {} };
    throw new CniError(Code.IO, `cannot read the MAC ledger ${file}: ${(e as Error).message}`);
  }
  try {
    const j = JSON.parse(text) as Journal;
    if (j === null || typeof j !== 'object' || j.format !== 1) throw new Error(`unknown format ${String((j as Journal | null)?.format)}`);
    if (typeof j.entries !== 'object' || j.entries === null || Array.isArray(j.entries)) throw new Error('no entries');
    if (j.intents !== undefined && !Array.isArray(j.intents)) throw new Error('intents is not a list');
    const index = typeof j.index === 'object' && j.index !== null && !Array.isArray(j.index) ? j.index : undefined;
    const read: Journal = { format: 1, entries: j.entries, intents: j.intents ?? [], seen: j.seen ?? {}, ...(index ? { index } : {}) };
    onDisk.set(read, { text, sync: 'ordered' });
    return read;
  } catch (e) {
    const why = text.length === 0 ? 'the file is empty' : (e as Error).message;
    const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '')}`;
    try {
      renameSync(file, aside);
    } catch (r) {
      throw new CniError(Code.IO, `the MAC ledger ${file} is damaged (${why}) and cannot be moved aside: ${(r as Error).message}`);
    }
    const entries = fromCache(cacheDir);
    warn(
      `MAC ledger ${file} was damaged (${why}); moved aside to ${aside} and rebuilt from the cache: ${Object.keys(entries).length} MAC(s) of this node's containers. ` +
        `The ledger ConfigMaps still hold every MAC, so none is handed out twice; releases deferred while the API was down are lost and stay held until \`macmux ledger gc\` finds their pods gone`,
    );
    return { format: 1, entries, intents: [], seen: {} };
  }
}

/** Journal entries for the MACs the node's cache entries hold: active once their ADD completed, reserved before. */
function fromCache(cacheDir: string): Record<string, JournalEntry> {
  const entries: Record<string, JournalEntry> = {};
  const since = Math.floor(Date.now() / 1000);
  for (const id of listCache(cacheDir)) {
    const cached = readCache(cacheDir, id);
    if (cached.kind !== 'ok') continue;
    for (const a of cached.entry.attachments) {
      if (!a.mac || !a.macOwner) continue;
      // pid: this process, gone soon; a reservation is then reclaimed only once its cache entry is gone too.
      entries[a.mac] = { owner: a.macOwner, ...(cached.entry.pod?.uid ? { uid: cached.entry.pod.uid } : {}), state: cached.entry.state === 'added' && a.result ? 'active' : 'reserved', containerID: id, pid: process.pid, since };
    }
  }
  return entries;
}

/** The MACs the journal says `containerID` holds (not released), under the node's ledger lock. */
export function heldBy(cacheDir: string, containerID: string, timeoutMs: number, warn: (msg: string) => void): Promise<Array<{ mac: string; owner: Owner }>> {
  return withJournalLock(cacheDir, timeoutMs, async () => {
    const j = readJournal(cacheDir, warn);
    if (!existsSync(journalFile(cacheDir))) writeJournal(cacheDir, j); // moved aside just now: keep what was rebuilt
    return Object.entries(j.entries)
      .filter(([, e]) => e.containerID === containerID && e.state !== 'released')
      .map(([mac, e]) => ({ mac, owner: e.owner }));
  });
}

/**
 * What the file holds of a journal read or written in this hold of the ledger lock (each hold reads anew): its text,
 * and how far it is known to survive a power loss (what was read may be an ordered write whose rename is not yet durable).
 */
const onDisk = new WeakMap<Journal, { text: string; sync: Exclude<Sync, 'none'> }>();

/** Whether `j` differs from what the file holds of it (read, or written in this hold of the lock at whatever sync its writer chose). */
export const journalChanged = (j: Journal): boolean => onDisk.get(j)?.text !== JSON.stringify({ ...j, seen: {} });

/**
 * Saves the journal, unless the file already holds exactly this. `sync` as the caller's crash argument
 * allows (docs/design.md, "Files and crash safety"): `durable` unless an earlier durable write covers a
 * power loss; never `none`, as a damaged journal loses its intents and deferred releases.
 */
export function writeJournal(cacheDir: string, j: Journal, sync: Exclude<Sync, 'none'> = 'durable'): void {
  const text = JSON.stringify({ ...j, seen: {} });
  const was = onDisk.get(j);
  if (was?.text === text && (was.sync === 'durable' || sync === 'ordered')) return;
  try {
    // Wanted durable as the file holds it: its content was fsynced before its rename, which only the directory's fsync makes durable.
    if (was?.text === text) syncRename(journalFile(cacheDir), 'journal');
    else writeFileAtomic(journalFile(cacheDir), text, 0o600, { phase: 'journal', sync });
    onDisk.set(j, { text, sync });
  } catch (e) {
    throw new CniError(Code.IO, `cannot write the MAC ledger in ${journalDir(cacheDir)}: ${(e as Error).message}`);
  }
}

/** Runs `fn` holding the node's ledger lock: a killed holder is taken over after `staleMs` (about 3 s). */
export function withJournalLock<T>(cacheDir: string, timeoutMs: number, fn: () => Promise<T>, onCompromised?: (e: Error) => void): Promise<T> {
  return withLock({ path: join(journalDir(cacheDir), 'lock'), what: 'the MAC ledger', phase: 'ledger', timeoutMs, staleMs: 3000, ...(onCompromised ? { onCompromised } : {}) }, fn);
}

/** Whether process `pid` still runs. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
