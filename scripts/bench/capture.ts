// Records the exact delegate invocations macmux makes (shim plugins that save stdin and env, then exec the real plugin) and replays them on the bare plugins.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, ok, run, type Run } from './proc';

/** One delegate call as macmux made it. */
export interface Invocation {
  type: string;
  command: string;
  /** the CNI_* variables it got */
  env: Record<string, string>;
  stdin: string;
}

/** Writes a shim for each plugin type into `binDir` (macmux searches binDir first); each call lands in `outDir`. */
export function writeShims(binDir: string, outDir: string, pluginDir: string, types: string[]): void {
  mkdirSync(binDir, { recursive: true });
  mkdirSync(outDir, { recursive: true });
  for (const t of types) {
    writeFileSync(join(binDir, t), [
      '#!/bin/sh',
      `f="${outDir}/$(date +%s%N)-$$-${t}"`,
      'cat > "$f.in"',
      'env > "$f.env"',
      `exec ${pluginDir}/${t} < "$f.in"`,
      '',
    ].join('\n'), { mode: 0o755 });
  }
}

/** The calls recorded in `outDir`, in the order they were made. */
export function readCaptured(outDir: string): Invocation[] {
  const stems = readdirSync(outDir).filter((f) => f.endsWith('.in')).map((f) => f.slice(0, -3));
  stems.sort((a, b) => {
    const [ta, tb] = [BigInt(a.split('-')[0]!), BigInt(b.split('-')[0]!)];
    return ta < tb ? -1 : ta > tb ? 1 : 0;
  });
  return stems.map((stem) => {
    const env: Record<string, string> = {};
    for (const line of readFileSync(join(outDir, `${stem}.env`), 'utf8').split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0 && line.startsWith('CNI_')) env[line.slice(0, eq)] = line.slice(eq + 1);
    }
    return { type: stem.split('-').slice(2).join('-'), command: env.CNI_COMMAND ?? '', env, stdin: readFileSync(join(outDir, `${stem}.in`), 'utf8') };
  });
}

/** Where a replay runs: the container and netns the recorded calls are re-pointed to. */
export interface Target {
  containerID: string;
  netns: string;
}

/**
 * Runs the recorded calls of `command` on the bare plugins in `pluginDir`, one after another, for `to`
 * instead of the recorded container and netns (also inside stdin and CNI_ARGS); returns the runs.
 */
export async function replay(calls: Invocation[], command: 'ADD' | 'DEL', from: Target, to: Target, pluginDir: string): Promise<Run[]> {
  const runs: Run[] = [];
  const swap = (s: string) => s.split(from.netns).join(to.netns).split(from.containerID).join(to.containerID);
  for (const c of calls.filter((x) => x.command === command)) {
    const env = cleanEnv(Object.fromEntries(Object.entries(c.env).map(([k, v]) => [k, swap(v)])));
    env.CNI_PATH = pluginDir;
    runs.push(ok(await run(join(pluginDir, c.type), [], { env, input: swap(c.stdin), what: `bare ${c.type} ${command} (${c.env.CNI_IFNAME})` })));
  }
  return runs;
}
