// The node-local ledger: a journal of the MACs this node's pods hold, under cacheDir/ledger, written atomically under a lock.
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, Code } from '../cni/errors';
import { writeFileAtomic } from '../util/atomic';
import { withLock } from '../util/lock';
import type { MacState, Owner } from './holding';
import type { Cm } from './store';

export interface JournalEntry {
  owner: Owner;
  state: MacState;
  containerID: string;
  /** The process that reserved it: a reservation whose process is gone and that no cache entry knows is reclaimed. */
  pid: number;
  since: number;
  /** True while the cluster has not yet been told (the API was down). */
  pendingRelease?: boolean;
}

/** An allocation under way: written before the pool is asked, so a crash in between can still be undone. */
export interface Intent {
  owner: Owner;
  containerID: string;
  pid: number;
}

export interface Journal {
  format: 1;
  entries: Record<string, JournalEntry>;
  intents: Intent[];
  /** Last seen ledger ConfigMaps, with their resourceVersions: the common case is then one update. */
  seen: Record<string, Cm>;
}

export const journalDir = (cacheDir: string) => join(cacheDir, 'ledger');
const journalFile = (cacheDir: string) => join(journalDir(cacheDir), 'journal.json');

/** Reads the journal; a damaged one is moved aside to *.corrupt-<time> (logged by `warn`) and replaced by an empty one. */
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
    if (j.format !== 1 || typeof j.entries !== 'object' || j.entries === null) throw new Error(`unknown format ${String(j.format)}`);
    return { format: 1, entries: j.entries, intents: j.intents ?? [], seen: j.seen ?? {} };
  } catch (e) {
    const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '')}`;
    renameSync(file, aside);
    warn(`MAC ledger ${file} was damaged (${(e as Error).message}); moved aside to ${aside}, continuing from the ConfigMaps`);
    return { format: 1, entries: {}, intents: [], seen: {} };
  }
}

export function writeJournal(cacheDir: string, j: Journal): void {
  try {
    writeFileAtomic(journalFile(cacheDir), JSON.stringify(j), 0o600);
  } catch (e) {
    throw new CniError(Code.IO, `cannot write the MAC ledger in ${journalDir(cacheDir)}: ${(e as Error).message}`);
  }
}

/** Runs `fn` holding the node's ledger lock: a killed holder is taken over after `staleMs` (about 3 s). */
export function withJournalLock<T>(cacheDir: string, timeoutMs: number, fn: () => Promise<T>, onCompromised?: (e: Error) => void): Promise<T> {
  return withLock({ path: join(journalDir(cacheDir), 'lock'), what: 'the MAC ledger', timeoutMs, staleMs: 3000, ...(onCompromised ? { onCompromised } : {}) }, fn);
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
