// Crash-safe file writes: temp file, fsync, rename, fsync of the directory.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { span } from './phases';

/**
 * Writes `data` to `path` so that a crash at any instant leaves the old or the new content.
 * `durable: false` skips the fsyncs: still never a torn file, but a power loss may keep the old
 * content (for data that may lag, such as metrics counts, off the verbs' critical path).
 */
export function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600, opts: { durable?: boolean; phase?: string } = {}): void {
  const durable = opts.durable ?? true;
  // In the phase line: `write:<phase>` for the whole write, `fsync:<phase>` and `dirsync:<phase>` for its two fsyncs.
  const name = opts.phase ?? 'file';
  const written = span(`write:${name}`);
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    if (durable) {
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
  if (durable) {
    const synced = span(`dirsync:${name}`);
    syncDir(dir);
    synced();
  }
  written();
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
