// The attachment cache: what DEL, CHECK and GC need, one versioned 0600 file per container.
import { readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, Code } from '../cni/errors';
import { writeFileAtomic, type Sync } from '../util/atomic';
import type { Attachment } from './attachment';
import type { PodInfo } from '../cni/env';
import { jsonSyntaxError } from '../util/parse-errors';

export const CACHE_FORMAT = 1;

export interface CacheEntry {
  format: typeof CACHE_FORMAT;
  containerID: string;
  netns: string;
  /** CNI_IFNAME of the ADD; a DEL or CHECK on another ifname is not about this entry. */
  ifName: string;
  /** CNI_ARGS as the runtime gave them. */
  args: string;
  cniVersion: string;
  /** Where the delegates were found at ADD, searched again at DEL. */
  dirs: string[];
  pod?: PodInfo;
  /** "adding" until every delegate's ADD succeeded, then "added". */
  state: 'adding' | 'added';
  /** In ADD order; an attachment with a result completed its ADD. */
  attachments: Attachment[];
}

/**
 * "corrupt": the entry does not parse, or it was moved aside earlier (`aside` set) and no DEL has
 * recovered from it yet. Either way the container's attachments are unknown, which is not "missing".
 */
export type CacheRead = { kind: 'missing' } | { kind: 'corrupt'; why: string; aside?: string } | { kind: 'ok'; entry: CacheEntry; mtimeMs: number };

export const cacheDirOf = (cacheDir: string) => join(cacheDir, 'cache');
export const cachePath = (cacheDir: string, containerID: string) => join(cacheDirOf(cacheDir), containerID);

/** `<id>.corrupt-<time>`: a damaged entry moved aside, until a DEL recovers from it (then `.recovered` is appended). */
const ASIDE = /^(.+)\.corrupt-([0-9TZ-]+)$/;
const isAside = (name: string) => name.includes('.corrupt-');

/** Reads the entry (no side effect); see CacheRead. */
export function readCache(cacheDir: string, containerID: string): CacheRead {
  const path = cachePath(cacheDir, containerID);
  let text: string;
  let mtimeMs: number;
  try {
    text = readFileSync(path, 'utf8');
    mtimeMs = statSync(path).mtimeMs;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return { kind: 'corrupt', why: (e as Error).message };
    const aside = pendingAside(cacheDir, containerID);
    return aside ? { kind: 'corrupt', why: `damaged earlier, moved aside to ${aside}, not yet recovered`, aside } : { kind: 'missing' };
  }
  const why = parseEntry(text);
  return typeof why === 'string' ? { kind: 'corrupt', why } : { kind: 'ok', entry: why, mtimeMs };
}

/** The entry, or why it is not one: what a truncated, zeroed or hand-edited file gives. */
function parseEntry(text: string): CacheEntry | string {
  let entry: CacheEntry;
  try {
    entry = JSON.parse(text) as CacheEntry;
  } catch (e) {
    return text.length === 0 ? 'the file is empty' : `not JSON (${jsonSyntaxError(e, text)})`;
  }
  if (entry === null || typeof entry !== 'object' || entry.format !== CACHE_FORMAT) return `unknown format ${String((entry as CacheEntry | null)?.format)}`;
  if (!Array.isArray(entry.attachments) || typeof entry.ifName !== 'string' || typeof entry.containerID !== 'string') return 'fields missing (attachments, ifName, containerID)';
  if (!entry.attachments.every((a) => a && typeof a === 'object' && typeof a.ifName === 'string' && Array.isArray(a.network?.plugins))) return 'an attachment lacks its ifName or network';
  return entry;
}

/** The newest damaged entry of the container moved aside and not yet recovered, if any. */
export function pendingAside(cacheDir: string, containerID: string): string | undefined {
  const names = asides(cacheDir).filter((n) => ASIDE.exec(n)?.[1] === containerID).sort();
  return names.length ? join(cacheDirOf(cacheDir), names[names.length - 1]!) : undefined;
}

/** Containers with a damaged entry moved aside and not yet recovered. */
export function damagedContainers(cacheDir: string): string[] {
  return [...new Set(asides(cacheDir).flatMap((n) => ASIDE.exec(n)?.[1] ?? []))];
}

function asides(cacheDir: string): string[] {
  try {
    return readdirSync(cacheDirOf(cacheDir)).filter(isAside);
  } catch {
    return [];
  }
}

/**
 * A damaged entry as found by a verb that owns it (under its container lock): a file that does not
 * parse is moved aside to `<id>.corrupt-<time>`, reported by `warn`, and the aside's path returned;
 * one moved aside earlier is returned as it is. An entry that cannot be moved aside is code 5.
 */
export function setAside(cacheDir: string, containerID: string, read: Extract<CacheRead, { kind: 'corrupt' }>, warn: (msg: string) => void): string {
  if (read.aside) return read.aside;
  const path = cachePath(cacheDir, containerID);
  const aside = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '')}`;
  try {
    renameSync(path, aside);
  } catch (e) {
    throw new CniError(Code.IO, `cache entry ${path} is damaged (${read.why}) and cannot be moved aside: ${(e as Error).message}`);
  }
  warn(`cache entry ${path} is damaged (${read.why}); moved aside to ${aside}`);
  return aside;
}

/** After a DEL recovered from a damaged entry: every aside of the container is kept as `*.recovered`, no longer pending. */
export function markRecovered(cacheDir: string, containerID: string): void {
  for (let aside = pendingAside(cacheDir, containerID); aside; aside = pendingAside(cacheDir, containerID)) {
    try {
      renameSync(aside, `${aside}.recovered`);
    } catch (e) {
      throw new CniError(Code.IO, `cannot mark ${aside} recovered: ${(e as Error).message}`);
    }
  }
}

/**
 * Writes the entry atomically (0600); an I/O failure is code 5. Durable unless an earlier durable write of the
 * same attachments covers a power loss (`ordered`: ADD's progress after its first write; docs/design.md, "Files and crash safety").
 */
export function writeCache(cacheDir: string, entry: CacheEntry, sync: Exclude<Sync, 'none'> = 'durable'): void {
  try {
    writeFileAtomic(cachePath(cacheDir, entry.containerID), JSON.stringify(entry), 0o600, { phase: 'cache', sync });
  } catch (e) {
    throw new CniError(Code.IO, `cannot write cache entry in ${cacheDirOf(cacheDir)}: ${(e as Error).message}`);
  }
}

/** Removes the entry; an I/O failure is code 5. */
export function removeCache(cacheDir: string, containerID: string): void {
  try {
    rmSync(cachePath(cacheDir, containerID), { force: true });
  } catch (e) {
    throw new CniError(Code.IO, `cannot remove cache entry ${cachePath(cacheDir, containerID)}: ${(e as Error).message}`);
  }
}

/** Container IDs with a cache entry (temp files and damaged entries moved aside skipped). */
export function listCache(cacheDir: string): string[] {
  try {
    return readdirSync(cacheDirOf(cacheDir)).filter((n) => !n.startsWith('.') && !isAside(n));
  } catch {
    return [];
  }
}

/** The longest an ADD of `entry` and its rollback can run: every plugin's ADD and DEL at the delegate timeout. */
export function addBudgetMs(entry: CacheEntry, delegateTimeoutSec: number): number {
  const plugins = entry.attachments.reduce((n, a) => n + a.network.plugins.length, 0);
  return 2 * plugins * delegateTimeoutSec * 1000;
}
