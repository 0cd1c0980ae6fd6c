// Integration: /metrics of a real `macmux install` process after scripted plugin ADDs and DELs (built
// executable, API test server, macvlan secondaries in network namespaces): the counters come from the
// stats file the plugin runs wrote under <root>/var/lib/macmux, the pool gauges from the ledger
// ConfigMaps this node reads (its share: the pool, its homes, one claims shard by rotation, never the
// owner index, never a list), objects and largest object per kind, and a duplicate injected as a pool
// leftover shows in macmux_duplicate_macs. A second test measures what one census reads at 100 nodes' worth of ConfigMaps.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startApiServer } from '../apiserver/server';
import { BINARY, PLUGIN_DIR, cniAsync, httpText, type RunResult } from './harness';
import { deviceName } from '../../src/util/names';
import { kubeStore } from '../../src/k8s/cmstore';
import { KubeApi } from '../../src/k8s/api';
import { ApiTransport } from '../../src/k8s/http';
import { readNodeShare } from '../../src/install/kube';
import type { Cm } from '../../src/mac/store';

const exec = promisify(execFile);
const MACNS = 'kube-system';
const LEDGER = 'macmux.io/ledger';
/** 256 MACs in 16 blocks of 16. */
const POOL = { RANGE_START: '02:ac:00:00:00:00', RANGE_END: '02:ac:00:00:00:ff', BLOCK_SIZE: '16' };
const PID = process.pid % 100000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const why = (r: RunResult) => `status ${r.status}: ${r.stdout} ${r.stderr}`;

const fetchText = httpText;

/** Polls `fn` until it returns something truthy; fails naming `what` (and the last value seen) after `ms`. */
async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(150);
  }
}

/** Sample lines (no comments) keyed by series (name and labels as printed), valued as numbers. */
function parseSamples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}
const seriesOf = (s: Map<string, number>, name: string) => new Map([...s].filter(([k]) => k === name || k.startsWith(`${name}{`)));

it('/metrics of a running install: exact counters and histogram after scripted ADDs and DELs, pool gauges matching the ConfigMaps, an injected duplicate', async (t) => {
  const api = await startApiServer({ namespaces: ['default', MACNS, 'mt'] });
  const cmData = (name: string) => (api.get('ConfigMap', MACNS, name) as unknown as { data: Record<string, string> }).data;
  const root = mkdtempSync(join(tmpdir(), 'macmux-metrics-'));
  const netns: string[] = [];
  const bridge = `mmm${PID}`.slice(0, 15);
  let install: ChildProcess | undefined;
  t.after(async () => {
    if (install && install.exitCode === null && install.signalCode === null) install.kill('SIGKILL');
    for (const n of netns) await exec('ip', ['netns', 'del', n]).catch(() => undefined);
    await exec('ip', ['link', 'del', bridge]).catch(() => undefined);
    await api.stop();
    rmSync(root, { recursive: true, force: true });
  });

  // The cluster: the pool ConfigMap as the manifest has it, a macvlan NAD on a host bridge.
  api.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'macmux-pool', namespace: MACNS, labels: { [LEDGER]: 'pool' } }, data: POOL });
  await exec('ip', ['link', 'add', bridge, 'type', 'bridge']);
  await exec('ip', ['link', 'set', bridge, 'up']);
  api.put({
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: { name: 'blue', namespace: 'mt' },
    spec: { config: JSON.stringify({ cniVersion: '1.0.0', name: 'blue', type: 'macvlan', master: bridge, mode: 'bridge', capabilities: { mac: true } }) },
  });
  api.put({
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: { name: 'green', namespace: 'mt' },
    spec: { config: JSON.stringify({ cniVersion: '1.0.0', name: 'green', type: 'macvlan', master: bridge, mode: 'bridge', capabilities: { mac: true } }) },
  });

  // The node: a host root with a primary network; install serves /metrics from <root>/var/lib/macmux/stats.json.
  mkdirSync(join(root, 'etc/cni/net.d'), { recursive: true });
  writeFileSync(join(root, 'etc/cni/net.d/10-lo.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'lo', type: 'loopback' }));
  const args = ['install', '--root', root, '--listen', '127.0.0.1:0', '--interval', '1', '--scan-interval', '1', '--server', api.url, '--token-file', api.tokenFile, '--ca-file', api.caFile];
  const child = spawn(BINARY, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_NAME: 'node-a' }, stdio: ['ignore', 'ignore', 'pipe'] });
  install = child;
  const err: Buffer[] = [];
  child.stderr!.on('data', (b: Buffer) => err.push(b));
  const stderr = () => Buffer.concat(err).toString('utf8');
  const port = await until('install to listen', async () => {
    if (child.exitCode !== null) throw new Error(`install exited ${child.exitCode}: ${stderr()}`);
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr());
    return m ? Number(m[1]) : undefined;
  });
  const scrape = async () => {
    const r = await fetchText(port, '/metrics');
    assert.equal(r.status, 200, r.body);
    assert.match(r.type, /^text\/plain; version=0\.0\.4/);
    return { text: r.body, s: parseSamples(r.body) };
  };
  const cacheDir = join(root, 'var/lib/macmux');
  await until('install to create the state dir', async () => existsSync(cacheDir));

  // Before any invocation: counters at zero, no invocation series, the pool as the ConfigMap says.
  const first = await until('the first census', async () => {
    const m = await scrape();
    return (m.s.get('macmux_ledger_last_scan_timestamp_seconds') ?? 0) > 0 ? m : undefined;
  });
  assert.deepEqual(
    ['macmux_pool_size', 'macmux_pool_allocated', 'macmux_blocks_leased', 'macmux_duplicate_macs', 'macmux_allocations_total', 'macmux_releases_total', 'macmux_conflicts_total'].map((n) => first.s.get(n)),
    [256, 0, 0, 0, 0, 0, 0],
  );
  assert.equal(first.s.get('macmux_pool_blocks'), 16);
  assert.equal(first.s.get('macmux_node_free_macs'), 0, 'no block leased yet');
  const poolBytes = () => Buffer.byteLength(JSON.stringify(cmData('macmux-pool')));
  assert.deepEqual(Object.fromEntries(seriesOf(first.s, 'macmux_ledger_objects')), {
    'macmux_ledger_objects{kind="pool"}': 1,
    'macmux_ledger_objects{kind="block"}': 0,
    'macmux_ledger_objects{kind="node"}': 0,
    'macmux_ledger_objects{kind="claims"}': 0,
    'macmux_ledger_objects{kind="owners"}': 0,
  });
  assert.equal(first.s.get('macmux_ledger_largest_object_bytes{kind="pool"}'), poolBytes());
  assert.equal(seriesOf(first.s, 'macmux_invocations_total').size, 0);
  assert.equal(existsSync(join(cacheDir, 'stats.json')), false);

  // The plugin as the runtime runs it, with the same cacheDir as install's state dir.
  let seq = 0;
  const conf = (extra: Record<string, unknown> = {}) => ({
    cniVersion: '1.0.0',
    name: 'macmux',
    type: 'macmux',
    cacheDir,
    kubeconfig: api.kubeconfig,
    nodeName: 'node-a',
    // as install writes it from the pool ConfigMap: the ledger is on
    macPool: { rangeStart: POOL.RANGE_START, rangeEnd: POOL.RANGE_END, blockSize: Number(POOL.BLOCK_SIZE) },
    delegates: [{ name: 'lo', type: 'loopback', cniVersion: '1.0.0' }],
    ...extra,
  });
  const pod = async (name: string, nets: Array<{ name: string; mac?: string }>) => {
    const obj = api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'mt', annotations: { 'k8s.v1.cni.cncf.io/networks': JSON.stringify(nets) } } });
    const ns = `mmm-${PID}-${seq++}`;
    await exec('ip', ['netns', 'add', ns]);
    netns.push(ns);
    const cid = `m${PID}x${seq++}`;
    const env = {
      CNI_CONTAINERID: cid,
      CNI_NETNS: `/run/netns/${ns}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: PLUGIN_DIR,
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=mt;K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=${cid};K8S_POD_UID=${obj.metadata!.uid!}`,
    };
    return { ns, env };
  };
  const macIn = async (ns: string, nad: string) => {
    const { stdout } = await exec('ip', ['-n', ns, '-j', 'link']);
    return (JSON.parse(stdout) as Array<{ ifname: string; address: string }>).find((l) => l.ifname === deviceName(nad))?.address;
  };

  const p1 = await pod('p1', [{ name: 'blue' }, { name: 'green' }]);
  const a1 = await cniAsync('ADD', conf(), p1.env);
  assert.equal(a1.status, 0, why(a1));
  const taken = await macIn(p1.ns, 'blue');
  assert.match(taken ?? '', /^02:ac:00:00:00:/);
  const p2 = await pod('p2', [{ name: 'blue' }]);
  const a2 = await cniAsync('ADD', conf(), p2.env);
  assert.equal(a2.status, 0, why(a2));
  // A requested MAC another owner holds: refused with code 100, a conflict.
  const p3 = await pod('p3', [{ name: 'blue', mac: taken! }]);
  const a3 = await cniAsync('ADD', conf(), p3.env);
  assert.equal(a3.status, 1);
  assert.equal(a3.json.code, 100, why(a3));
  const d3 = await cniAsync('DEL', conf(), p3.env);
  assert.equal(d3.status, 0, why(d3));
  const d1 = await cniAsync('DEL', conf(), p1.env);
  assert.equal(d1.status, 0, why(d1));
  // Not counted: VERSION, and a config the schema refuses (the conf never loaded).
  assert.equal((await cniAsync('VERSION', conf(), p2.env)).status, 0);
  assert.equal((await cniAsync('ADD', conf({ delegates: 'nope' }), p2.env)).status, 1);

  assert.equal(statSync(join(cacheDir, 'stats.json')).mode & 0o777, 0o600);

  // The counters are read at scrape time: exact at once.
  const after = await scrape();
  assert.equal(after.s.get('macmux_allocations_total'), 3, 'p1 blue+green, p2 blue');
  assert.equal(after.s.get('macmux_releases_total'), 2, "p1's two");
  assert.equal(after.s.get('macmux_conflicts_total'), 1, "p3's requested MAC");
  assert.deepEqual(
    Object.fromEntries(seriesOf(after.s, 'macmux_invocations_total')),
    {
      'macmux_invocations_total{verb="ADD",result="success",code="0"}': 2,
      'macmux_invocations_total{verb="ADD",result="failure",code="100"}': 1,
      'macmux_invocations_total{verb="DEL",result="success",code="0"}': 2,
    },
  );
  assert.match(after.text, /# TYPE macmux_invocation_duration_seconds histogram\n/);
  const hist = seriesOf(after.s, 'macmux_invocation_duration_seconds_count');
  assert.deepEqual(Object.fromEntries(hist), {
    'macmux_invocation_duration_seconds_count{verb="ADD",result="success"}': 2,
    'macmux_invocation_duration_seconds_count{verb="ADD",result="failure"}': 1,
    'macmux_invocation_duration_seconds_count{verb="DEL",result="success"}': 2,
  });
  for (const [vr, n] of [['verb="ADD",result="success"', 2], ['verb="ADD",result="failure"', 1], ['verb="DEL",result="success"', 2]] as const) {
    const buckets = [...after.s].filter(([k]) => k.startsWith(`macmux_invocation_duration_seconds_bucket{${vr},`));
    assert.equal(buckets.length, 11, `${vr}: 10 bounds and +Inf`);
    assert.equal(after.s.get(`macmux_invocation_duration_seconds_bucket{${vr},le="+Inf"}`), n);
    const counts = buckets.map(([, v]) => v);
    assert.ok(counts.every((c, i) => i === 0 || c >= counts[i - 1]!), `${vr}: cumulative`);
    const sum = after.s.get(`macmux_invocation_duration_seconds_sum{${vr}}`)!;
    assert.ok(sum > 0 && sum < 60 * n, `${vr}: sum ${sum}`);
  }

  // The gauges, from the next census: they match the ConfigMaps.
  const leases = JSON.parse(cmData('macmux-pool').LEASES ?? '{}') as Record<string, string>;
  assert.deepEqual(leases, { '0': 'node-a.b0' });
  const nodeA = Object.entries(cmData('macmux-ledger-node-a.b0'));
  assert.deepEqual(nodeA.map(([, v]) => v.split('|')[0]).sort(), ['a', 'x', 'x'], "p2's active MAC and p1's two released ones (within their grace period)");
  const gauges = await until('the census after the invocations', async () => {
    const m = await scrape();
    return m.s.get('macmux_pool_allocated') === 3 ? m : undefined;
  });
  assert.equal(gauges.s.get('macmux_pool_size'), 256);
  assert.equal(gauges.s.get('macmux_blocks_leased'), Object.keys(leases).length);
  assert.equal(gauges.s.get('macmux_duplicate_macs'), 0);
  assert.equal(gauges.s.get('macmux_node_free_macs'), 16 - 3, "node-a's one block, 3 of its MACs held");
  const bytesOf = (name: string) => Buffer.byteLength(JSON.stringify(cmData(name)));
  assert.equal(gauges.s.get('macmux_ledger_objects{kind="block"}'), 1, "node-a's block 0");
  assert.equal(gauges.s.get('macmux_ledger_largest_object_bytes{kind="block"}'), bytesOf('macmux-ledger-node-a.b0'));
  assert.equal(gauges.s.get('macmux_ledger_objects{kind="node"}'), 0, 'no legacy ledger: this release leases block by block');
  // p1's DEL recorded its MACs in the owner index, an object of its own that the census never reads.
  const indexObjects = () => (api.list('ConfigMap', MACNS) as unknown as Array<{ metadata: { name: string; labels?: Record<string, string> } }>).filter((c) => c.metadata.labels?.['macmux.io/ledger-index'] === 'owners').map((c) => c.metadata.name);
  assert.equal(indexObjects().length, 1, "p1's owner-index object");
  assert.match(indexObjects()[0]!, /^macmux-owners-[0-9a-f]{32}$/);
  assert.equal(gauges.s.get('macmux_ledger_objects{kind="owners"}'), 0, 'the census reads no owner-index object');

  // More of the layout around it: block 1 leased to node-a (its own ConfigMap), block 2 to node-b,
  // block 3 to node-a the legacy way (a release before 15 leased it: its home is the node's single
  // macmux-ledger-node-a), owner-index objects of other pods and the claims shards. node-a's census
  // reads its three homes, not node-b's block, and no owner-index object.
  const now = Math.floor(Date.now() / 1000);
  const cmPut = (name: string, labels: Record<string, string>, data: Record<string, string>) =>
    api.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: MACNS, labels }, data });
  cmPut('macmux-pool', { [LEDGER]: 'pool' }, { ...cmData('macmux-pool'), LEASES: JSON.stringify({ ...leases, '1': 'node-a.b1', '2': 'node-b.b2', '3': 'node-a' }) });
  cmPut('macmux-ledger-node-a.b1', { [LEDGER]: 'block' }, { '02ac00000010': `a|mt/q1/blue|node-a|${now}`, '02ac00000011': `a|mt/q2/blue|node-a|${now}` });
  cmPut('macmux-ledger-node-a', { [LEDGER]: 'node' }, { '02ac00000030': `a|mt/q3/blue|node-a|${now}` });
  // A stray copy of p2's MAC for another owner in node-b's block: a duplicate only a full list (doctor) finds.
  const [p2key] = nodeA.find(([, v]) => v.startsWith('a|'))!;
  cmPut('macmux-ledger-node-b.b2', { [LEDGER]: 'block' }, { '02ac00000020': `a|mt/r1/blue|node-b|${now}`, [p2key]: `a|mt/stray/blue|node-b|${now}` });
  for (let x = 0; x < 256; x++) {
    const xx = x.toString(16).padStart(2, '0');
    if (x < 16) cmPut(`macmux-owners-${xx.repeat(16)}`, { 'macmux.io/ledger-index': 'owners' }, { [xx.repeat(16)]: `02:ac:00:00:00:1${x.toString(16)}|${now}|mt/o${x}/blue` });
    cmPut(`macmux-claims-${xx}`, { [LEDGER]: 'claims' }, x === 0 ? { '02bb00000000': `a|mt/c/blue|node-b|${now}` } : {});
  }
  api.clearRequests();
  const layout = await until('the census of the whole layout', async () => {
    const m = await scrape();
    return m.s.get('macmux_ledger_objects{kind="block"}') === 2 && m.s.get('macmux_ledger_objects{kind="node"}') === 1 ? m : undefined;
  });
  assert.equal(layout.s.get('macmux_pool_allocated'), 6, "node-a's homes: 3 in block 0, 2 in block 1, 1 in its legacy ledger");
  assert.equal(layout.s.get('macmux_blocks_leased'), 4);
  assert.equal(layout.s.get('macmux_node_free_macs'), 48 - 6, 'its 3 blocks of 16, 6 held');
  assert.equal(layout.s.get('macmux_ledger_objects{kind="claims"}'), 1, 'one claims shard per scan');
  assert.equal(layout.s.get('macmux_ledger_objects{kind="owners"}'), 0, 'no owner-index object');
  assert.equal(layout.s.get('macmux_ledger_largest_object_bytes{kind="block"}'), Math.max(bytesOf('macmux-ledger-node-a.b0'), bytesOf('macmux-ledger-node-a.b1')));
  assert.equal(layout.s.get('macmux_ledger_largest_object_bytes{kind="node"}'), bytesOf('macmux-ledger-node-a'));
  assert.equal(layout.s.get('macmux_duplicate_macs'), 0, "node-b's block is not node-a's to read");
  assert.equal(layout.s.get('macmux_ledger_damaged_entries'), 0);
  // What the scans since cost: one GET per object of node-a's share, never a list of ConfigMaps.
  const cmRequests = api.requests.filter((r) => r.resource === 'configmaps');
  assert.deepEqual(cmRequests.filter((r) => r.verb !== 'get').map((r) => `${r.verb} ${r.path}`), []);
  const got = new Set(cmRequests.map((r) => r.name!));
  for (const name of got) assert.match(name, /^macmux-(pool|ledger-node-a|ledger-node-a\.b[01]|claims-[0-9a-f]{2})$/, `node-a read ${name}`);
  for (const home of ['macmux-ledger-node-a.b0', 'macmux-ledger-node-a.b1', 'macmux-ledger-node-a']) assert.ok(got.has(home), `node-a read its home ${home}`);

  // A duplicate node-a sees: p2's MAC also live for another owner as a leftover in the pool.
  cmPut('macmux-pool', { [LEDGER]: 'pool' }, { ...cmData('macmux-pool'), [p2key]: `a|mt/intruder/blue|node-b|${now}` });
  const dup = await until('macmux_duplicate_macs to be 1', async () => {
    const m = await scrape();
    return m.s.get('macmux_duplicate_macs') === 1 ? m : undefined;
  });
  assert.equal(dup.s.get('macmux_pool_allocated'), 6, 'a duplicate is one MAC');
  const mac = p2key.replace(/(..)(?!$)/g, '$1:');
  await until('install to warn about the duplicate', async () => stderr().includes(`held by more than one owner: ${mac} (mt/p2/blue in macmux-ledger-node-a.b0, mt/intruder/blue in macmux-pool)`));
  assert.equal(dup.s.get('macmux_ledger_scan_errors_total'), 0);
  assert.equal(dup.s.get('macmux_stats_file_errors_total'), 0);
  assert.ok(readFileSync(join(cacheDir, 'stats.json'), 'utf8').startsWith('{"format":1'));

  child.kill('SIGTERM');
  await until('install to stop', async () => child.exitCode !== null || child.signalCode !== null);
});

it("what one census reads at 100 nodes' worth of ConfigMaps: the whole ledger in one list before, the node's share in a few GETs now", async (t) => {
  const api = await startApiServer({ namespaces: [MACNS] });
  t.after(() => api.stop());
  // 100 nodes with 2 blocks of 256 each (new-style leases), 100 holdings per block; 256 claims shards, and
  // 256 owner-index objects (one per pod released lately) that no census reads.
  const now = Math.floor(Date.now() / 1000);
  const leases: Record<string, string> = {};
  const put = (name: string, labels: Record<string, string>, data: Record<string, string>) =>
    api.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: MACNS, labels }, data });
  const uid = 'AAECAwQFBgcICQoLDA0ODw';
  for (let n = 0; n < 100; n++) {
    for (const k of [2 * n, 2 * n + 1]) {
      leases[String(k)] = `node-${n}.b${k}`;
      const data: Record<string, string> = {};
      for (let i = 0; i < 100; i++) data[(0x02ac00000000 + k * 256 + i).toString(16).padStart(12, '0')] = `a|ns-${n}/pod-${k}-${i}/ns-${n}.blue@if|node-${n}|${now}|${uid}`;
      put(`macmux-ledger-node-${n}.b${k}`, { [LEDGER]: 'block' }, data);
    }
  }
  put('macmux-pool', { [LEDGER]: 'pool' }, { RANGE_START: '02:ac:00:00:00:00', RANGE_END: '02:ac:00:ff:ff:ff', BLOCK_SIZE: '256', LEASES: JSON.stringify(leases) });
  for (let x = 0; x < 256; x++) {
    const xx = x.toString(16).padStart(2, '0');
    const owners: Record<string, string> = {};
    for (let i = 0; i < 40; i++) owners[`${xx}${i.toString(16).padStart(30, '0')}`] = `02:ac:00:00:01:${xx}|${now}|ns-1/pod-${x}-${i}/ns-1.blue@if`;
    put(`macmux-owners-${xx.repeat(16)}`, { 'macmux.io/ledger-index': 'owners' }, owners);
    put(`macmux-claims-${xx}`, { [LEDGER]: 'claims' }, { [`02bb000000${xx}`]: `a|ns-1/c-${x}/ns-1.blue@if|node-1|${now}|${uid}` });
  }
  const settings = { server: api.url, tokenFile: api.tokenFile, caFile: api.caFile, namespace: MACNS };
  const measure = async (read: () => Promise<Cm[]>) => {
    api.clearRequests();
    const cms = await read();
    return { requests: api.requests.filter((r) => r.resource === 'configmaps').length, lists: api.requests.filter((r) => r.verb === 'list').length, objects: cms.length, bytes: Buffer.byteLength(JSON.stringify(cms.map((c) => c.data))), names: cms.map((c) => c.name) };
  };
  // Before: every node's DaemonSet listed the whole ledger (install/kube.ts listLedger of release 14).
  const before = await measure(async () => {
    const kube = new KubeApi(new ApiTransport({ server: api.url, ca: readFileSync(api.caFile), rejectUnauthorized: true, authorization: `Bearer ${readFileSync(api.tokenFile, 'utf8').trim()}` }, 10_000));
    try {
      return await kubeStore(kube, MACNS).list(LEDGER);
    } finally {
      kube.close();
    }
  });
  const read = readNodeShare(settings, 10_000, 'node-7');
  const after = await measure(read);
  t.diagnostic(`one census at 100 nodes: before ${before.requests} request (${before.lists} list), ${before.objects} objects, ${before.bytes} bytes; now ${after.requests} requests (${after.lists} lists), ${after.objects} objects, ${after.bytes} bytes`);
  assert.deepEqual([before.lists, before.objects], [1, 1 + 200 + 256], 'the pool, 200 blocks, 256 claims shards (the owner index has a label of its own)');
  assert.deepEqual([after.requests, after.lists, after.objects], [4, 0, 4], 'the pool, its 2 blocks, 1 claims shard');
  assert.deepEqual(after.names.slice(0, 3), ['macmux-pool', 'macmux-ledger-node-7.b14', 'macmux-ledger-node-7.b15']);
  assert.match(after.names[3]!, /^macmux-claims-[0-9a-f]{2}$/);
  assert.ok(after.bytes * 20 < before.bytes, `${after.bytes} bytes now, ${before.bytes} before`);
  // The next scan reads the next claims shard: the same cost.
  const next = await measure(read);
  assert.deepEqual([next.requests, next.objects], [4, 4]);
  assert.match(next.names[3]!, /^macmux-claims-[0-9a-f]{2}$/);
  assert.notEqual(next.names[3], after.names[3], 'the claims shards rotate');
});
