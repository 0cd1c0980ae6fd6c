// A deterministic ustar writer: the bytes of a tar depend only on the entries given (names, modes, contents), never on the clock, the owner or the order of a directory listing.

/** One tar entry. Owner and group are always 0 (root), the mtime is the caller's fixed epoch. */
export interface TarEntry {
  /** relative path, '/'-separated; a directory's name may end in '/' */
  name: string;
  type: 'file' | 'dir';
  /** permission bits, e.g. 0o755 */
  mode: number;
  /** a file's contents; none for a directory */
  data?: Buffer;
}

const BLOCK = 512;

/** Writes `value` as a NUL-terminated octal field of `len` bytes (the form every tar reads). */
function octal(header: Buffer, offset: number, len: number, value: number, what: string): void {
  const text = value.toString(8).padStart(len - 1, '0');
  if (!Number.isSafeInteger(value) || value < 0 || text.length > len - 1) throw new Error(`tar: ${what} ${value} does not fit a ustar header`);
  header.write(`${text}\0`, offset, len, 'ascii');
}

/** Splits a path into ustar's name (100 bytes) and prefix (155 bytes) fields; throws when it cannot. */
function splitName(name: string): [string, string] {
  if (Buffer.byteLength(name) <= 100) return ['', name];
  for (let i = name.indexOf('/'); i !== -1; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest !== '') return [prefix, rest];
  }
  throw new Error(`tar: ${name} is too long for a ustar header`);
}

/** The 512-byte ustar header of `e`. */
export function header(e: TarEntry, mtime: number): Buffer {
  if (!/^[\x21-\x7e]+$/.test(e.name) || e.name.startsWith('/') || e.name.split('/').includes('..')) throw new Error(`tar: bad entry name ${JSON.stringify(e.name)}`);
  const name = e.type === 'dir' && !e.name.endsWith('/') ? `${e.name}/` : e.name;
  const [prefix, rest] = splitName(name);
  const h = Buffer.alloc(BLOCK, 0);
  h.write(rest, 0, 100, 'ascii');
  octal(h, 100, 8, e.mode & 0o7777, 'mode');
  octal(h, 108, 8, 0, 'uid');
  octal(h, 116, 8, 0, 'gid');
  octal(h, 124, 12, e.type === 'file' ? (e.data?.length ?? 0) : 0, 'size');
  octal(h, 136, 12, mtime, 'mtime');
  h.fill(0x20, 148, 156); // the checksum counts its own field as spaces
  h.write(e.type === 'file' ? '0' : '5', 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write('root', 265, 32, 'ascii');
  h.write('root', 297, 32, 'ascii');
  octal(h, 329, 8, 0, 'devmajor');
  octal(h, 337, 8, 0, 'devminor');
  h.write(prefix, 345, 155, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

/**
 * The pieces of a tar holding `entries` sorted by name (so the caller's order never matters), each file
 * padded to a block, ending in the two zero blocks. Concatenated, they are the archive.
 */
export function tarChunks(entries: TarEntry[], mtime: number): Buffer[] {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const names = new Set<string>();
  const out: Buffer[] = [];
  for (const e of sorted) {
    const key = e.name.replace(/\/$/, '');
    if (names.has(key)) throw new Error(`tar: ${key} given twice`);
    names.add(key);
    if (e.type === 'dir' && e.data) throw new Error(`tar: directory ${key} has contents`);
    out.push(header(e, mtime));
    if (e.type === 'file' && e.data && e.data.length > 0) {
      out.push(e.data);
      const pad = (BLOCK - (e.data.length % BLOCK)) % BLOCK;
      if (pad) out.push(Buffer.alloc(pad, 0));
    }
  }
  out.push(Buffer.alloc(2 * BLOCK, 0));
  return out;
}

/** Every directory above the given paths ('a/b/c' gives 'a' and 'a/b'), each once, as 0755 entries. */
export function parentDirs(paths: string[]): TarEntry[] {
  const dirs = new Set<string>();
  for (const p of paths) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...dirs].map((d) => ({ name: `${d}/`, type: 'dir' as const, mode: 0o755 }));
}
