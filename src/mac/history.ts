// This node's MAC history: a bounded append-only log, cacheDir/ledger/history.jsonl (one JSON line per change), rotated to .1.
import { appendFileSync, existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Owner } from './holding';
import { journalDir } from './journal';
import { timedSync } from '../util/phases';

export type HistoryEvent = 'reserve' | 'activate' | 'release' | 'sync-release' | 'operator-release';

export interface HistoryRecord {
  /** ISO 8601, UTC. */
  time: string;
  mac: string;
  owner: Owner;
  event: HistoryEvent;
  /** The sandbox of the invocation (absent for operator commands). */
  containerID?: string;
  /** The node of the holding. */
  node: string;
  /** operator-release only: freed at once, without the grace period. */
  force?: boolean;
}

/** Past this size the log is moved to history.jsonl.1 (replacing the older one), so at most about twice this is kept. */
export const HISTORY_LIMIT = 1024 * 1024;

export const historyFile = (cacheDir: string) => join(journalDir(cacheDir), 'history.jsonl');

export const historyRecord = (mac: string, owner: Owner, event: HistoryEvent, node: string, extra: { containerID?: string; force?: boolean } = {}, now = new Date()): HistoryRecord => ({
  time: now.toISOString(),
  mac,
  owner,
  event,
  ...(extra.containerID ? { containerID: extra.containerID } : {}),
  node,
  ...(extra.force ? { force: true } : {}),
});

/** Appends `records` (the caller holds the ledger lock); throws on I/O errors. */
export function appendHistory(cacheDir: string, records: HistoryRecord[], limit = HISTORY_LIMIT): void {
  if (records.length === 0) return;
  const file = historyFile(cacheDir);
  const text = records.map((r) => `${JSON.stringify(r)}\n`).join('');
  let size = 0;
  try {
    size = statSync(file).size;
  } catch {
    // no log yet
  }
  if (size > 0 && size + text.length > limit) renameSync(file, `${file}.1`);
  appendFileSync(file, text, { mode: 0o600 });
}

/** Like appendHistory, but a failure is only reported to `warn`: history must never fail a verb. */
export function recordHistory(cacheDir: string, records: HistoryRecord[], warn: (msg: string) => void): void {
  try {
    timedSync('write:history', () => appendHistory(cacheDir, records));
  } catch (e) {
    warn(`MAC history not written to ${historyFile(cacheDir)}: ${(e as Error).message}`);
  }
}

/** The records about `mac` (all when undefined), oldest first, from the rotated log and the current one; lines that do not parse are skipped. */
export function readHistory(cacheDir: string, mac?: string): HistoryRecord[] {
  const file = historyFile(cacheDir);
  const out: HistoryRecord[] = [];
  for (const f of [`${file}.1`, file]) {
    if (!existsSync(f)) continue;
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const r = JSON.parse(line) as HistoryRecord;
        if (typeof r.mac === 'string' && (mac === undefined || r.mac === mac)) out.push(r);
      } catch {
        // a torn last line after a crash
      }
    }
  }
  return out;
}
