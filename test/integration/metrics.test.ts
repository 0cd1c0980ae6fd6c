// Integration: /metrics of a real `macmux install` process after scripted plugin ADDs and DELs (built
// executable, API test server, macvlan secondaries in network namespaces): the counters come from the
// stats file the plugin runs wrote under <root>/var/lib/macmux, the pool gauges from the ledger
// ConfigMaps, and a duplicate injected straight into two node ledgers shows in macmux_duplicate_macs.
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
  const child = spawn(BINARY, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdio: ['ignore', 'ignore', 'pipe'] });
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
  const cmData = (name: string) => (api.get('ConfigMap', MACNS, name) as unknown as { data: Record<string, string> }).data;
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

  // A duplicate written straight into the ConfigMaps: p2's MAC also live for another owner in node-b's ledger.
  const [p2key] = nodeA.find(([, v]) => v.startsWith('a|'))!;
  api.put({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'macmux-ledger-node-b', namespace: MACNS, labels: { [LEDGER]: 'node' } },
    data: { [p2key]: `a|mt/intruder/blue|node-b|${Math.floor(Date.now() / 1000)}` },
  });
  const dup = await until('macmux_duplicate_macs to be 1', async () => {
    const m = await scrape();
    return m.s.get('macmux_duplicate_macs') === 1 ? m : undefined;
  });
  assert.equal(dup.s.get('macmux_pool_allocated'), 3, 'a duplicate is one MAC');
  const mac = p2key.replace(/(..)(?!$)/g, '$1:');
  await until('install to warn about the duplicate', async () => stderr().includes(`held by more than one owner: ${mac} (mt/p2/blue in macmux-ledger-node-a.b0, mt/intruder/blue in macmux-ledger-node-b)`));
  assert.equal(dup.s.get('macmux_ledger_scan_errors_total'), 0);
  assert.equal(dup.s.get('macmux_stats_file_errors_total'), 0);
  assert.ok(readFileSync(join(cacheDir, 'stats.json'), 'utf8').startsWith('{"format":1'));

  child.kill('SIGTERM');
  await until('install to stop', async () => child.exitCode !== null || child.signalCode !== null);
});
