// Crash-safe file writes: temp file, fsync, rename, fsync of the directory (each fsync only where the caller's crash argument needs it).
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { span } from './phases';

/**
 * How much a write must survive (docs/design.md, "Files and crash safety", says which file needs which):
 * - `durable`: a power loss after the call returns keeps the new content (file fsync, rename, directory fsync).
 * - `ordered`: never torn, even by a power loss, but the rename may be lost with it, leaving the previous
 *   content (file fsync, rename; no directory fsync). For a state whose previous version is safe to come back.
 * - `none`: no fsync. Never torn by a process crash; a power loss may leave the old content or, on
 *   filesystems that do not flush a renamed file, an empty one. Only for caches and counts, read as empty when damaged.
 */
export type Sync = 'durable' | 'ordered' | 'none';

/** Writes `data` to `path` so that a crash at any instant leaves the old or the new content (see Sync for a power loss). */
export function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600, opts: { sync?: Sync; phase?: string } = {}): void {
  const sync = opts.sync ?? 'durable';
  // In the phase line: `write:<phase>` for the whole write, `fsync:<phase>` and `dirsync:<phase>` for its two fsyncs.
  const name = opts.phase ?? 'file';
  const written = span(`write:${name}`);
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    if (sync !== 'none') {
      const synced = span(`fsync:${name}`);
      fsyncSync(fd);
      synced();
    }
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  // Also when `path` existed: the rename is a change of the directory, lost with it unless the directory is synced.
  if (sync === 'durable') {
    const synced = span(`dirsync:${name}`);
    syncDir(dir);
    synced();
  }
  written();
}

/** Makes durable a rename done by an `ordered` write of `path` (its content was synced before the rename). */
export function syncRename(path: string, phase = 'file'): void {
  const synced = span(`dirsync:${phase}`);
  syncDir(dirname(path));
  synced();
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  }
}
