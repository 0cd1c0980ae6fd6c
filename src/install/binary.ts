// Copies the running executable into the host CNI bin dir: temp file, fsync, rename (never a half-written binary), skipped when identical.
import { chmodSync, closeSync, copyFileSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const CHUNK = 1 << 20;

function statOf(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Whether two files hold the same bytes (compared chunk by chunk, so the binary is never held whole in memory). */
export function sameContent(a: string, b: string): boolean {
  const sa = statOf(a);
  const sb = statOf(b);
  if (!sa || !sb || sa.size !== sb.size) return false;
  const fa = openSync(a, 'r');
  const fb = openSync(b, 'r');
  try {
    const ba = Buffer.alloc(CHUNK);
    const bb = Buffer.alloc(CHUNK);
    for (let pos = 0; pos < sa.size; ) {
      const na = readSync(fa, ba, 0, CHUNK, pos);
      const nb = readSync(fb, bb, 0, CHUNK, pos);
      if (na !== nb || na === 0 || !ba.subarray(0, na).equals(bb.subarray(0, nb))) return false;
      pos += na;
    }
    return true;
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

function fsyncPath(path: string, flags: string): void {
  try {
    const fd = openSync(path, flags);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // a filesystem that refuses fsync on a directory still renames atomically
  }
}

/** Copies `src` to `dest` (mode 0755) atomically; false when `dest` already held the same bytes (then only its mode is fixed). */
export function installBinary(src: string, dest: string): boolean {
  if (sameContent(src, dest)) {
    if ((statSync(dest).mode & 0o7777) !== 0o755) chmodSync(dest, 0o755);
    return false;
  }
  const dir = dirname(dest);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const tmp = join(dir, `.${basename(dest)}.${process.pid}.${Date.now()}.tmp`);
  try {
    copyFileSync(src, tmp);
    chmodSync(tmp, 0o755);
    fsyncPath(tmp, 'r');
    renameSync(tmp, dest);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncPath(dir, 'r');
  return true;
}

/** What identifies a file version cheaply (to skip comparing an unchanged copy on every re-check). */
export function signature(path: string): string | undefined {
  const s = statOf(path);
  return s && `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.mode}`;
}
