// Profiles one ADD and one DEL of the bench's pod (eth0 + 2 NADs with pool MACs) the way the binary runs them, under a plain node that takes flags.
//
// Run as root: node --import tsx scripts/profile.ts [--readable] [-- NODE_FLAGS...]
// The build's own bundles (main script, chunks, their code caches made by this node), node:sea replaced by a
// shim that reads the assets from files beside the main script; then a warm-up pod's ADD (it creates the
// ledger's pool ConfigMaps) and the profiled pod's ADD and DEL against the test API server and the real plugins
// of /usr/lib/cni. Without NODE_FLAGS: --cpu-prof, each profile summarised as self time by module of the bundle
// (--readable builds without minifying, so every module is named) and the top functions. With NODE_FLAGS
// (e.g. --log-function-events --logfile=v8.log), the code caches are made under the same flags (V8 refuses
// a cache made under others) and each invocation runs in its own directory (printed), with its stdout and stderr.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startApiServer } from '../test/apiserver/server';
import { PodWorld } from './bench/pod-world';
import { Sandbox } from './bench/sandbox';

const ROOT = join(__dirname, '..');

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The build's bundles in `dir`, node:sea read from files there; `readable` keeps esbuild's per-module comments. */
async function bundles(dir: string, readable: boolean, flags: string[]): Promise<string> {
  const sea = join(dir, 'sea-shim.js');
  writeFileSync(sea, `const { readFileSync } = require('node:fs');
exports.getRawAsset = (key) => {
  const b = readFileSync(require('node:path').join(__dirname, key));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
};`);
  const { buildBundles, cacheArgs, CHUNKS } = (await import(join(ROOT, 'scripts', 'chunks.mjs'))) as {
    buildBundles: (root: string, o: object) => Promise<Record<string, string>>;
    cacheArgs: (root: string, c: object, assets: Record<string, string>) => string[];
    CHUNKS: object[];
  };
  const outfile = join(dir, 'macmux.cjs');
  const shim = { name: 'sea-shim', setup: (b: { onResolve: (o: { filter: RegExp }, f: () => { path: string }) => void }) => b.onResolve({ filter: /^node:sea$/ }, () => ({ path: sea })) };
  const assets = await buildBundles(ROOT, { outfile, dir, version: 'profile', plugins: [shim], overrides: readable ? { minify: false } : {} });
  for (const c of CHUNKS) execFileSync(process.execPath, [...flags, ...cacheArgs(ROOT, c, assets)], { stdio: 'inherit', cwd: dir });
  return outfile;
}

/** For a readable bundle: the module each line belongs to, from esbuild's `// path` comments. */
function moduleMap(file: string): (line: number) => string {
  const marks: Array<[number, string]> = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((l, i) => {
      const m = /^\s*\/\/ ((?:node_modules|src|cmd)\/\S+)$/.exec(l);
      if (m) marks.push([i, m[1]!.replace(/^(node_modules\/(?:@[^/]+\/)?[^/]+)\/.*/, '$1')]);
    });
  return (line) => {
    let name = '(wrapper)';
    for (const [at, m] of marks) {
      if (at > line) break;
      name = m;
    }
    return name;
  };
}

function summarise(path: string, maps: Map<string, (line: number) => string>): void {
  const p = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const byModule = new Map<string, number>();
  const byFn = new Map<string, number>();
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    const base = f.url.split('/').pop() ?? '';
    const map = maps.get(base);
    const mod = map ? `${base}:${map(f.lineNumber)}` : f.url ? (f.url.startsWith('node:') ? f.url : base) : f.functionName;
    byModule.set(mod, (byModule.get(mod) ?? 0) + us);
    const fn = `${f.functionName || '(anon)'} ${mod}:${f.lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + us);
  }
  const total = (p.endTime - p.startTime) / 1000;
  console.log(`\n${path.split('/').pop()}: ${total.toFixed(1)} ms profiled`);
  const top = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .forEach(([k, us]) => console.log(`  ${(us / 1000).toFixed(1).padStart(6)} ms  ${k}`));
  console.log(' self time by module:');
  top(byModule, 25);
  console.log(' self time by function:');
  top(byFn, 25);
}

async function main(): Promise<void> {
  const readable = process.argv.includes('--readable');
  const dash = process.argv.indexOf('--');
  const flags = dash >= 0 ? process.argv.slice(dash + 1) : [];
  const sb = new Sandbox();
  const api = await startApiServer();
  try {
    const dir = join(sb.dir, 'profile');
    const out = process.env.MMPROF_OUT ?? join(dir, 'out'); // MMPROF_OUT keeps the profiles and logs after the run
    mkdirSync(out, { recursive: true });
    mkdirSync(dir, { recursive: true });
    // The code caches made under the same V8 flags as the runs: V8 refuses a cache made under other flags.
    const main = await bundles(dir, readable, flags);
    const wrapper = join(dir, 'macmux');
    const wrap = (on: boolean, name: string) => {
      const f = !on ? '' : flags.length ? flags.join(' ') : `--cpu-prof --cpu-prof-interval=100 --cpu-prof-dir=${out} --cpu-prof-name=${name}.cpuprofile`;
      const cwd = join(out, name);
      mkdirSync(cwd, { recursive: true });
      writeFileSync(wrapper, `#!/bin/sh\ncd ${cwd} && exec ${process.execPath} ${f} ${main} "$@"\n`);
      chmodSync(wrapper, 0o755);
    };
    const world = await PodWorld.create(api, sb, wrapper);
    const conf = world.conf('profile');
    const pods = [world.pod('warm', sb.netns('w')), world.pod('prof', sb.netns('p'))];
    for (const [verb, i] of [['ADD', 0], ['ADD', 1], ['DEL', 1], ['DEL', 0]] as const) {
      wrap(i === 1, verb);
      const r = await world.macmux(verb, conf, pods[i]!.env);
      if (r.status !== 0) throw new Error(`${verb} failed: ${r.stdout}\n${r.stderr}`);
      if (i === 1 && flags.length) console.log(`==== ${verb} (${r.ms.toFixed(1)} ms) in ${join(out, verb)}\n${r.stdout}\n${r.stderr}`);
    }
    if (!flags.length) {
      const maps = new Map<string, (line: number) => string>();
      if (readable) for (const f of ['macmux.cjs', 'verb.js']) maps.set(f, moduleMap(join(dir, f)));
      for (const f of readdirSync(out).filter((f) => f.endsWith('.cpuprofile')).sort()) summarise(join(out, f), maps);
    }
  } finally {
    await api.stop();
    sb.cleanup();
  }
}

main().catch((e: Error) => {
  console.error(`profile failed: ${e.stack ?? e.message}`);
  process.exit(1);
});
