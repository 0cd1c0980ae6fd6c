// The attachment cache: what DEL, CHECK and GC need, one versioned 0600 file per container.
import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic';
import type { Attachment } from './plan';

export const CACHE_FORMAT = 1;

export interface CacheEntry {
  format: typeof CACHE_FORMAT;
  containerID: string;
  netns: string;
  ifName: string;
  /** CNI_ARGS as the runtime gave them. */
  args: string;
  cniVersion: string;
  /** "adding" until every delegate's ADD succeeded, then "added". */
  state: 'adding' | 'added';
  attachments: Attachment[];
}

export type CacheRead = { kind: 'missing' } | { kind: 'corrupt'; why: string } | { kind: 'ok'; entry: CacheEntry; mtimeMs: number };

export const cacheDirOf = (cacheDir: string) => join(cacheDir, 'cache');
export const cachePath = (cacheDir: string, containerID: string) => join(cacheDirOf(cacheDir), containerID);

export function readCache(cacheDir: string, containerID: string): CacheRead {
  let text: string;
  let mtimeMs = 0;
  try {
    const path = cachePath(cacheDir, containerID);
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

export function writeCache(cacheDir: string, entry: CacheEntry): void {
  writeFileAtomic(cachePath(cacheDir, entry.containerID), JSON.stringify(entry), 0o600);
}

export function removeCache(cacheDir: string, containerID: string): void {
  rmSync(cachePath(cacheDir, containerID), { force: true });
}

/** Container IDs with a cache entry (temp files skipped). */
export function listCache(cacheDir: string): string[] {
  try {
    return readdirSync(cacheDirOf(cacheDir)).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
}
