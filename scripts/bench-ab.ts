// Two builds side by side: VERSION cold start (the bench's section 1) and the ADD and DEL of section 2's pod, the builds alternating run by run.
//
// Run as root: node --import tsx scripts/bench-ab.ts A B   (MMBENCH_RUNS per side, default 20)
// Each run of ADD/DEL is a new pod in a new netns, with the same config (its own node and cache dir per build).
// Every run is under /usr/bin/time for its peak RSS (as in sections 1 and 5), `node -e 0` interleaved as the reference.
// MMBENCH_PHASES=1 runs ADD and DEL at _CNI_LOGGING_LEVEL=3 and adds the median of each phase of section 7 per build.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parsePhaseLine } from '../src/util/phases';
import { startApiServer } from '../test/apiserver/server';
import { figures } from './bench/phase-stats';
import { PodWorld } from './bench/pod-world';
import { cleanEnv, evict, ok, run } from './bench/proc';
import { Sandbox } from './bench/sandbox';
import { median, ms } from './bench/stats';

const RUNS = Math.max(1, Number(process.env.MMBENCH_RUNS ?? 20));
const PHASES = process.env.MMBENCH_PHASES === '1';

async function main(): Promise<void> {
  const builds = process.argv.slice(2, 4).map((b) => resolve(b));
  if (builds.length !== 2 || builds.some((b) => !existsSync(b))) throw new Error('usage: bench-ab.ts BUILD_A BUILD_B');
  const version = builds.map(() => [] as number[]);
  const add = builds.map(() => [] as number[]);
  const del = builds.map(() => [] as number[]);
  const rss = { version: builds.map(() => [] as number[]), add: builds.map(() => [] as number[]), node: [] as number[] };
  const node: number[] = [];
  /** Per verb, per build: phase label → one value per run. */
  const phases = { ADD: builds.map(() => new Map<string, number[]>()), DEL: builds.map(() => new Map<string, number[]>()) };
  const takePhases = (verb: 'ADD' | 'DEL', k: number, stderr: string) => {
    const p = parsePhaseLine(stderr.split('\n').find((l) => l.includes(' phases v=1 ')) ?? '');
    if (!p) throw new Error(`no phase line in ${verb}:\n${stderr}`);
    for (const [label, v] of figures(p.spans, p.total)) phases[verb][k]!.set(label, [...(phases[verb][k]!.get(label) ?? []), v]);
  };
  const versionRun = (b: string) => run(b, [], { env: cleanEnv({ CNI_COMMAND: 'VERSION' }), input: '{"cniVersion":"1.0.0"}', rss: true });
  // Both binaries read into the page cache the same way, by the runs below (see evict in ./bench/proc).
  for (const b of builds) evict(b);
  for (const b of builds) ok(await versionRun(b));
  for (let i = 0; i < Math.max(RUNS, 30); i++) {
    for (const k of i % 2 === 0 ? [0, 1] : [1, 0]) {
      const r = ok(await versionRun(builds[k]!));
      version[k]!.push(r.ms);
      rss.version[k]!.push(r.rssKiB!);
    }
    const n = ok(await run(process.execPath, ['-e', '0'], { env: cleanEnv(), rss: true }));
    node.push(n.ms);
    rss.node.push(n.rssKiB!);
  }

  const sb = new Sandbox();
  const api = await startApiServer();
  try {
    const world = await PodWorld.create(api, sb, builds[0]!);
    const confs = builds.map((_, k) => world.conf(`mmbench-ab${k}`));
    const roundTrip = async (k: number, keep: boolean) => {
      const ns = sb.netns(`ab${k}`);
      try {
        const { env } = world.pod(`ab${k}`, ns);
        const input = JSON.stringify(confs[k]);
        const level: Record<string, string> = PHASES ? { _CNI_LOGGING_LEVEL: '3' } : {};
        const a = ok(await run(builds[k]!, [], { env: cleanEnv({ CNI_COMMAND: 'ADD', ...env, ...level }), input, rss: true }));
        const d = ok(await run(builds[k]!, [], { env: cleanEnv({ CNI_COMMAND: 'DEL', ...env, ...level }), input, rss: true }));
        if (keep && PHASES) {
          takePhases('ADD', k, a.stderr);
          takePhases('DEL', k, d.stderr);
        }
        if (keep) {
          add[k]!.push(a.ms);
          del[k]!.push(d.ms);
          rss.add[k]!.push(a.rssKiB!);
        }
      } finally {
        sb.dropNetns(ns);
      }
    };
    await roundTrip(0, false);
    await roundTrip(1, false);
    for (let i = 0; i < RUNS; i++) for (const k of i % 2 === 0 ? [0, 1] : [1, 0]) await roundTrip(k, true);
  } finally {
    await api.stop();
    sb.cleanup();
  }
  console.log(`| measure (median) | A: ${builds[0]} | B: ${builds[1]} |`);
  console.log('| --- | --- | --- |');
  console.log(`| VERSION cold start (${version[0]!.length} runs each) | ${ms(median(version[0]!))} | ${ms(median(version[1]!))} |`);
  console.log(`| ADD, pod with eth0 + 2 NADs, pool MACs (${RUNS} runs each) | ${ms(median(add[0]!))} | ${ms(median(add[1]!))} |`);
  console.log(`| DEL, API up | ${ms(median(del[0]!))} | ${ms(median(del[1]!))} |`);
  const mib = (kib: number[]) => `${(median(kib) / 1024).toFixed(1)} MiB`;
  console.log(`| peak RSS, VERSION | ${mib(rss.version[0]!)} | ${mib(rss.version[1]!)} |`);
  console.log(`| peak RSS, ADD | ${mib(rss.add[0]!)} | ${mib(rss.add[1]!)} |`);
  console.log(`| reference: \`node -e 0\`, wall and peak RSS | ${ms(median(node))}, ${mib(rss.node)} | |`);
  for (const verb of PHASES ? (['ADD', 'DEL'] as const) : []) {
    for (const [label, a] of phases[verb][0]!) {
      const b = phases[verb][1]!.get(label) ?? [];
      const show = (v: number[]) => (label.includes('(count)') ? String(median(v)) : ms(median(v)));
      console.log(`| ${verb}: ${label} | ${show(a)} | ${b.length ? show(b) : ''} |`);
    }
  }
}

main().catch((e: Error) => {
  console.error(`bench-ab failed: ${e.stack ?? e.message}`);
  process.exit(1);
});
