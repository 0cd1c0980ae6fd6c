// File I/O of install: atomic writes skipped when the content is already there, and the conf dir's config files.
import { chmodSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic';

/** The file's bytes, or undefined when it does not exist. */
export function readIfExists(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Writes `data` atomically unless the file already holds it; the mode is set either way (the umask
 * must not decide it). True when the content was written.
 */
export function writeIfChanged(path: string, data: string | Buffer, mode: number): boolean {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const old = readIfExists(path);
  const changed = !old || !old.equals(bytes);
  if (changed) writeFileAtomic(path, bytes, mode);
  if ((statSync(path).mode & 0o7777) !== mode) chmodSync(path, mode);
  return changed;
}

/** The network config file names libcni reads, as it orders them. */
export const CONF_EXTENSIONS = ['.conf', '.conflist', '.json'];

export interface ConfFile {
  name: string;
  text: string;
}

/** Every network config file in `dir`, sorted by name; [] when the dir does not exist. */
export function readConfDir(dir: string): ConfFile[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: ConfFile[] = [];
  for (const name of names.filter((n) => !n.startsWith('.') && CONF_EXTENSIONS.some((x) => n.endsWith(x))).sort()) {
    try {
      out.push({ name, text: readFileSync(join(dir, name), 'utf8') });
    } catch {
      // removed meanwhile, or a directory: not a config
    }
  }
  return out;
}
