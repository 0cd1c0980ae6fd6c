// The node's stats file (<cacheDir>/stats.json): each plugin invocation adds its counts under a short lock; `install` reads it for /metrics.
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic';
import { withLock } from '../util/lock';
import { addInvocation, emptyStats, parseStats, type Invocation, type Stats } from './stats-merge';

export const statsFile = (cacheDir: string) => join(cacheDir, 'stats.json');
const lockOf = (file: string) => `${file}.lock`;

/** How long an invocation waits for the stats lock before giving up on recording (it never fails the verb). */
export const STATS_LOCK_TIMEOUT_MS = 2000;

export type StatsRead = { kind: 'ok'; stats: Stats } | { kind: 'missing' } | { kind: 'damaged'; reason: string };

/** Reads the stats file without locking (writes are atomic renames); an unreadable file throws. */
export function readStats(file: string): StatsRead {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw e;
  }
  try {
    return { kind: 'ok', stats: parseStats(text) };
  } catch (e) {
    return { kind: 'damaged', reason: (e as Error).message };
  }
}

/** Moves a damaged file aside to <file>.corrupt-<time>; returns where. Call only while holding the stats lock. */
function moveAside(file: string): string {
  const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '')}`;
  renameSync(file, aside);
  return aside;
}

/** Runs `fn` on the current stats while holding the stats lock; a damaged file is moved aside first and `fn` gets empty stats. */
async function locked<T>(file: string, timeoutMs: number, warn: (msg: string) => void, fn: (s: Stats) => T): Promise<T> {
  return withLock({ path: lockOf(file), what: 'the stats file', phase: 'stats', timeoutMs, staleMs: 3000 }, async () => {
    const r = readStats(file);
    if (r.kind === 'damaged') warn(`stats file ${file} was damaged (${r.reason}); moved aside to ${moveAside(file)}, counting from zero`);
    return fn(r.kind === 'ok' ? r.stats : emptyStats());
  });
}

export interface StatsLog {
  debug(msg: string): void;
  error(msg: string): void;
}

/**
 * Adds one invocation to <cacheDir>/stats.json. Never throws and waits at most `timeoutMs` for the
 * lock: metrics must not fail or slow a verb. Nothing is recorded when cacheDir does not exist
 * (`install` creates it; a directory is never made just for metrics).
 */
export async function recordInvocation(cacheDir: string, inv: Invocation, log: StatsLog, timeoutMs = STATS_LOCK_TIMEOUT_MS): Promise<boolean> {
  if (!existsSync(cacheDir)) {
    log.debug(`stats not recorded: ${cacheDir} does not exist`);
    return false;
  }
  const file = statsFile(cacheDir);
  try {
    await locked(file, timeoutMs, (m) => log.error(m), (s) => writeFileAtomic(file, JSON.stringify(addInvocation(s, inv)), 0o600, { sync: 'none', phase: 'stats' }));
    return true;
  } catch (e) {
    log.error(`stats not recorded in ${file}: ${(e as Error).message}`);
    return false;
  }
}

/** For the exporter: moves a damaged stats file aside under the lock (if it is still damaged), so that invocations count afresh. */
export async function repairStats(file: string, warn: (msg: string) => void, timeoutMs = STATS_LOCK_TIMEOUT_MS): Promise<void> {
  await locked(file, timeoutMs, warn, () => undefined);
}
