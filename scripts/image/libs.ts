// The shared libraries an executable needs, as `ldd` lists them: each library's path and the dynamic loader's, nothing else.
import { execFileSync } from 'node:child_process';

/**
 * The absolute paths in `ldd` output: `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` gives the
 * library's path, `/lib64/ld-linux-x86-64.so.2 (0x…)` the loader's; the kernel's vDSO has no file and
 * is skipped. A library ldd cannot find is an error naming it. Sorted, each once.
 */
export function parseLdd(text: string): string[] {
  if (/not a dynamic executable|statically linked/.test(text)) return [];
  const paths = new Set<string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const missing = /^(\S+) => not found$/.exec(line);
    if (missing) throw new Error(`ldd: ${missing[1]} not found`);
    const m = /^(?:\S+ => )?(\/\S+) \(0x[0-9a-f]+\)$/.exec(line);
    if (m) paths.add(m[1]!);
    else if (!/^\S+ \(0x[0-9a-f]+\)$/.test(line)) throw new Error(`ldd: cannot read ${JSON.stringify(line)}`);
  }
  return [...paths].sort();
}

/** The libraries and loader `binary` needs, from this machine's `ldd`. */
export function sharedLibraries(binary: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [binary], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } });
  } catch (e) {
    // ldd exits 1 for a static executable, saying so.
    const said = `${(e as { stdout?: string }).stdout ?? ''}${(e as { stderr?: string }).stderr ?? ''}`;
    if (/not a dynamic executable/.test(said)) return [];
    throw new Error(`ldd ${binary}: ${said.trim() || (e as Error).message}`);
  }
  return parseLdd(out);
}
