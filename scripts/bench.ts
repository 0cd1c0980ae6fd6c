// npm run bench: prints medians and tails for VERSION cold start and ledger allocation (8 concurrent ADDs on one node, empty and at 10,000 entries).
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { startApiServer, type ApiServer } from '../test/apiserver/server';
import { encodeHolding, macKey } from '../src/mac/holding';
import { intToMac, macToInt } from '../src/mac/range';

const binary = resolve(__dirname, '..', 'dist', 'macmux');
const CONCURRENCY = 8;
const ADDS = 96;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

function versionColdStart(runs = 25): { median: number; rssKiB: number } {
  const t: number[] = [];
  let rss = 0;
  for (let i = 0; i < runs; i++) {
    const r = spawnSync('/usr/bin/time', ['-f', '%e %M', binary], { env: { CNI_COMMAND: 'VERSION' }, input: '', encoding: 'utf8' });
    const [sec, kib] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
    t.push(sec! * 1000);
    rss = Math.max(rss, kib!);
  }
  return { median: pct(t, 50), rssKiB: rss };
}

function run(conf: object, env: Record<string, string>): Promise<{ ms: number; status: number; out: string }> {
  const started = process.hrtime.bigint();
  return new Promise((done) => {
    const child = spawn(binary, [], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.on('close', (status) => done({ ms: Number(process.hrtime.bigint() - started) / 1e6, status: status ?? 1, out }));
    child.stdin.end(JSON.stringify(conf));
  });
}

/** 8 workers ADD `ADDS` pods with one secondary each on one node; returns latencies (ms) and throughput (ADD/s). */
async function allocationRound(api: ApiServer, label: string, seedEntries: number): Promise<{ label: string; p50: number; p99: number; perSec: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'macmux-bench-'));
  const lower = `mmbench${process.pid % 1000}`;
  spawnSync('ip', ['link', 'add', lower, 'type', 'bridge']);
  spawnSync('ip', ['link', 'set', lower, 'up']);
  const node = `bench-${label}`;
  const namespaces: string[] = [];
  try {
    const range = { rangeStart: '02:be:00:00:00:00', rangeEnd: '02:be:00:ff:ff:ff' };
    for (const cm of api.list('ConfigMap', 'kube-system')) api.remove('ConfigMap', 'kube-system', cm.metadata!.name!);
    if (seedEntries > 0) {
      // A node that already holds `seedEntries` MACs in its leased blocks, in its ConfigMap.
      const blocks = Math.ceil(seedEntries / 256) + 1;
      const leases = Object.fromEntries(Array.from({ length: blocks }, (_, b) => [String(b), node]));
      api.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'macmux-pool', namespace: 'kube-system', labels: { 'macmux.io/ledger': 'pool' } }, data: { RANGE_START: range.rangeStart, RANGE_END: range.rangeEnd, BLOCK_SIZE: '256', LEASES: JSON.stringify(leases) } });
      const data: Record<string, string> = {};
      const start = macToInt(range.rangeStart);
      for (let i = 0; i < seedEntries; i++) data[macKey(intToMac(start + i))] = encodeHolding({ owner: `seed/pod-${i}/net`, state: 'active', node, since: Math.floor(Date.now() / 1000) });
      api.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `macmux-ledger-${node}`, namespace: 'kube-system', labels: { 'macmux.io/ledger': 'node' } }, data });
    }
    api.put({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'green', namespace: 'default' }, spec: { config: JSON.stringify({ cniVersion: '1.0.0', name: 'green', type: 'macvlan', master: lower }) } });
    const conf = { cniVersion: '1.0.0', name: 'macmux', type: 'macmux', cacheDir: join(dir, 'state'), kubeconfig: api.kubeconfig, nodeName: node, macPool: range, delegates: [{ name: 'lo', type: 'loopback' }] };
    mkdirSync(join(dir, 'state'), { recursive: true });
    const lat: number[] = [];
    let next = 0;
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < ADDS) {
        const i = next++;
        const ns = `mmb-${label}-${i}`;
        namespaces.push(ns);
        execFileSync('ip', ['netns', 'add', ns]);
        const pod = api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `b${i}`, namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/networks': 'green' } } });
        const r = await run(conf, { CNI_COMMAND: 'ADD', CNI_CONTAINERID: `${label}${i}`, CNI_NETNS: `/run/netns/${ns}`, CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni', CNI_ARGS: `K8S_POD_NAMESPACE=default;K8S_POD_NAME=b${i};K8S_POD_UID=${pod.metadata!.uid}` });
        if (r.status !== 0) throw new Error(`ADD failed: ${r.out}`);
        lat.push(r.ms);
      }
    }));
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    return { label, p50: pct(lat, 50), p99: pct(lat, 99), perSec: ADDS / secs };
  } finally {
    for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns]);
    spawnSync('ip', ['link', 'del', lower]);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(`macmux bench on ${cpus().length} cores (${cpus()[0]?.model ?? 'cpu'}), node ${process.version}; medians of repeated runs\n`);
  const nodeFloor: number[] = [];
  for (let i = 0; i < 25; i++) {
    const s = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', '0'], { env: {} });
    nodeFloor.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  const v = versionColdStart();
  console.log('| measure | value |');
  console.log('| --- | --- |');
  console.log(`| node -e 0, median | ${pct(nodeFloor, 50).toFixed(1)} ms |`);
  console.log(`| VERSION cold start, median | ${v.median.toFixed(1)} ms (${(v.median / pct(nodeFloor, 50)).toFixed(2)}x node -e 0) |`);
  console.log(`| VERSION peak RSS | ${(v.rssKiB / 1024).toFixed(1)} MiB |`);
  const api = await startApiServer();
  try {
    const empty = await allocationRound(api, 'empty', 0);
    const full = await allocationRound(api, 'full', 10_000);
    for (const r of [empty, full]) {
      console.log(`| ADD with a pool MAC, ${CONCURRENCY} concurrent, ledger ${r.label === 'empty' ? 'empty' : 'at 10,000 entries'}: p50 / p99 | ${r.p50.toFixed(1)} / ${r.p99.toFixed(1)} ms |`);
      console.log(`| ... throughput | ${r.perSec.toFixed(1)} ADD/s |`);
    }
    console.log(`| p50 at 10,000 entries / p50 empty | ${(full.p50 / empty.p50).toFixed(2)}x |`);
  } finally {
    await api.stop();
  }
}

main().catch((e: Error) => {
  console.error(`bench failed: ${e.message}`);
  process.exit(1);
});
