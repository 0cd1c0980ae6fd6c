// The attachment cache: what DEL, CHECK and GC need, one versioned 0600 file per container.
import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, Code } from '../cni/errors';
import { writeFileAtomic } from '../util/atomic';
import type { Attachment } from './plan';

export const CACHE_FORMAT = 1;

export interface PodInfo {
  namespace: string;
  name: string;
  uid?: string;
}

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

export type CacheRead = { kind: 'missing' } | { kind: 'corrupt'; why: string } | { kind: 'ok'; entry: CacheEntry; mtimeMs: number };

export const cacheDirOf = (cacheDir: string) => join(cacheDir, 'cache');
export const cachePath = (cacheDir: string, containerID: string) => join(cacheDirOf(cacheDir), containerID);

export function readCache(cacheDir: string, containerID: string): CacheRead {
  const path = cachePath(cacheDir, containerID);
  let text: string;
  let mtimeMs: number;
  try {
    text = readFileSync(path, 'utf8');
    mtimeMs = statSync(path).mtimeMs;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'corrupt', why: (e as Error).message };
  }
  try {
    const entry = JSON.parse(text) as CacheEntry;
    if (entry.format !== CACHE_FORMAT || !Array.isArray(entry.attachments)) return { kind: 'corrupt', why: `unknown format ${String(entry.format)}` };
    return { kind: 'ok', entry, mtimeMs };
  } catch (e) {
    return { kind: 'corrupt', why: (e as Error).message };
  }
}

/** Writes the entry atomically (0600); an I/O failure is code 5. */
export function writeCache(cacheDir: string, entry: CacheEntry): void {
  try {
    writeFileAtomic(cachePath(cacheDir, entry.containerID), JSON.stringify(entry), 0o600);
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

/** Container IDs with a cache entry (temp files skipped). */
export function listCache(cacheDir: string): string[] {
  try {
    return readdirSync(cacheDirOf(cacheDir)).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
}
