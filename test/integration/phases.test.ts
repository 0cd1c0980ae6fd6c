// Integration: the phase line of _CNI_LOGGING_LEVEL=3 (docs/operations.md, debugging) for a real ADD and DEL of a pod with
// eth0 and two pool-MAC macvlan attachments, through the built binary against the API test server: one line per
// invocation with every phase, one API span per request the server received, no pod, namespace or NAD name in it;
// no line at levels below 3, and the config's logLevel counts when the environment sets none.
import { it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { startApiServer, type ApiServer } from '../apiserver/server';
import { cniAsync, macmuxConf, Sandbox, type RunResult } from './harness';
import { parsePhaseLine, type Span } from '../../src/util/phases';
import { sequentialRequests } from '../../scripts/bench/phase-stats';

const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
// Distinctive names: none may appear in the phase line.
const NS = 'quokkans';
const POD = 'platypuspod';
const NADS = ['wombatnad', 'numbatnad'];

interface Pod {
  env: Record<string, string>;
  uid: string;
}

async function setUp(t: TestContext): Promise<{ api: ApiServer; sb: Sandbox; conf: (extra?: Record<string, unknown>) => Record<string, unknown>; pod: (n: number) => Pod }> {
  const api = await startApiServer({ namespaces: ['default', 'kube-system', NS] });
  const sb = new Sandbox();
  t.after(async () => {
    sb.cleanup();
    await api.stop();
  });
  const lower = sb.bridge('l');
  for (const name of NADS) {
    api.put({
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name, namespace: NS },
      spec: { config: JSON.stringify({ cniVersion: '1.0.0', name, type: 'macvlan', master: lower, mode: 'bridge', capabilities: { mac: true } }) },
    });
  }
  const conf = (extra: Record<string, unknown> = {}) => macmuxConf(sb, '1.0.0', [], { kubeconfig: api.kubeconfig, nodeName: 'phz-node', macPool: { rangeStart: '02:9a:00:00:00:00', rangeEnd: '02:9a:00:00:00:ff' }, ...extra });
  const pod = (n: number): Pod => {
    const name = `${POD}${n}`;
    const obj = api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS, annotations: { [NETWORKS]: NADS.join(',') } } });
    const uid = obj.metadata!.uid!;
    const cid = `phz-${sb.id}-${n}`;
    return { uid, env: { ...sb.env(cid), CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${NS};K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=${cid};K8S_POD_UID=${uid}` } };
  };
  return { api, sb, conf, pod };
}

const phaseLines = (r: RunResult) => r.stderr.split('\n').filter((l) => l.includes(' phases v=1 '));
const why = (r: RunResult) => `status ${r.status}: ${r.stdout}\n${r.stderr}`;
const keysOf = (spans: Span[], prefix: string) => spans.filter((s) => s.key === prefix || s.key.startsWith(`${prefix}:`)).map((s) => s.key);

/** Checks the one phase line of `r` (a `verb` that succeeded) against what the API server received; returns its spans. */
function checkLine(r: RunResult, verb: 'ADD' | 'DEL', api: ApiServer, secrets: string[]): Span[] {
  assert.equal(r.status, 0, why(r));
  const lines = phaseLines(r);
  assert.equal(lines.length, 1, `one phase line per invocation:\n${r.stderr}`);
  const line = lines[0]!;
  assert.match(line, new RegExp(`^\\S+ debug ${verb} phz-\\S+ - phases v=1 code=0 total=`), 'the line names the verb and container, never the pod');
  for (const s of secrets) assert.ok(!line.includes(s), `the phase line carries ${JSON.stringify(s)}: ${line}`);
  assert.ok(!line.slice(line.indexOf(' phases ')).includes('/'), `no path or URL in the phases: ${line}`);
  const parsed = parsePhaseLine(line)!;
  assert.ok(parsed, `the line parses: ${line}`);
  const { spans, total } = parsed;

  // The fixed phases, in order, from process start.
  const first = (key: string) => spans.find((s) => s.key === key);
  for (const key of ['main', 'stdin', 'chunk', 'config', 'stats']) assert.ok(first(key), `phase ${key} in ${line}`);
  assert.equal(first('main')!.start, 0);
  assert.ok(first('main')!.ms > 5, 'node starts before main');
  assert.ok(first('stdin')!.start >= first('main')!.ms - 0.01 && first('chunk')!.start >= first('stdin')!.start && first('config')!.start >= first('chunk')!.start);
  for (const s of spans) assert.ok(s.start + s.ms <= total + 0.01, `${s.key} ends before the total`);

  // Each API request the server received is one span: method, resource kind, status, response bytes.
  const apiSpans = spans.filter((s) => s.key.startsWith('api:'));
  const received = api.requests.map((q) => `api:${q.method}:${q.resource}:${q.status}`).sort();
  assert.deepEqual(apiSpans.map((s) => s.key.replace(/:\d+$/, '')).sort(), received, 'one api span per request the server answered');
  for (const s of apiSpans) assert.match(s.key, /^api:(GET|POST|PUT|PATCH|DELETE):[a-z-]+:\d{3}:\d+$/);
  assert.ok(apiSpans.every((s) => Number(s.key.split(':').pop()) > 0 || s.key.includes(':PATCH:')), 'response bytes counted');
  const seq = sequentialRequests(apiSpans);
  assert.ok(seq >= 1 && seq <= apiSpans.length);

  // Locks, the ledger, the delegates, the writes and their fsyncs.
  assert.deepEqual(keysOf(spans, 'lock:container'), ['lock:container']);
  assert.ok(keysOf(spans, 'lock:ledger').length >= 1, `the ledger lock: ${line}`);
  assert.equal(keysOf(spans, 'held:ledger').length, keysOf(spans, 'lock:ledger').length, 'each ledger lock taken is held and released');
  assert.deepEqual(keysOf(spans, 'delegate').sort(), [`delegate:${verb}:bridge`, `delegate:${verb}:macvlan`, `delegate:${verb}:macvlan`].sort());
  assert.ok(keysOf(spans, 'lock:stats').length === 1 && keysOf(spans, 'write:stats').length === 1, 'the stats file, under its lock');
  assert.deepEqual(keysOf(spans, 'fsync:stats'), [], 'the stats file is not fsynced');
  // Durability (docs/design.md, "Files and crash safety"): every journal and cache write is fsynced (never torn),
  // and made durable (its directory fsynced too) exactly where the crash argument needs it.
  const files = verb === 'ADD' ? ['cache', 'journal'] : ['journal'];
  for (const f of files) {
    assert.ok(keysOf(spans, `write:${f}`).length >= 1, `a ${f} write: ${line}`);
    assert.equal(keysOf(spans, `fsync:${f}`).length, keysOf(spans, `write:${f}`).length, `each ${f} write fsynced`);
    assert.equal(keysOf(spans, `dirsync:${f}`).length, 1, `one durable ${f} write: ${line}`);
  }
  const end = (s: Span) => s.start + s.ms;
  const cmWrites = spans.filter((s) => /^api:(PUT|POST):configmaps:/.test(s.key));
  const dirsync = (f: string) => spans.find((s) => s.key === `dirsync:${f}`)!;
  assert.ok(cmWrites.length >= 1, `a ConfigMap write: ${line}`);
  if (verb === 'ADD') {
    assert.ok(end(dirsync('journal')) <= cmWrites[0]!.start, 'the intents are durable before the first ConfigMap write');
    assert.ok(end(dirsync('cache')) <= spans.find((s) => s.key.startsWith('delegate:'))!.start, 'the cache entry is durable before the first delegate runs');
  } else {
    assert.ok(dirsync('journal').start >= end(cmWrites[cmWrites.length - 1]!), 'the journal is durable after the releases, before DEL ends');
  }
  return spans;
}

it('the phase line at level 3: one per ADD and DEL, every phase, one API span per request received, no pod, namespace or NAD name', async (t) => {
  const { api, conf, pod } = await setUp(t);
  const p = pod(1);
  const secrets = [NS, POD, ...NADS, p.uid, api.token];
  api.clearRequests();
  const add = await cniAsync('ADD', conf(), { ...p.env, _CNI_LOGGING_LEVEL: '3' });
  const addSpans = checkLine(add, 'ADD', api, secrets);
  assert.ok(addSpans.some((s) => s.key.startsWith('api:PATCH:pods:')), 'the network-status patch');
  assert.ok(add.stderr.includes(POD), 'the other debug lines do name the pod (so its absence from the phase line means something)');
  api.clearRequests();
  const del = await cniAsync('DEL', conf(), { ...p.env, _CNI_LOGGING_LEVEL: '3' });
  checkLine(del, "DEL", api, secrets);
});

it('no phase line below level 3; the config level counts when the environment sets none, and the environment wins', async (t) => {
  const { api, conf, pod } = await setUp(t);
  const cases: Array<[string, Record<string, string>, Record<string, unknown>, number]> = [
    ['env 0', { _CNI_LOGGING_LEVEL: '0' }, {}, 0],
    ['env 1', { _CNI_LOGGING_LEVEL: '1' }, {}, 0],
    ['env 2', { _CNI_LOGGING_LEVEL: '2' }, {}, 0],
    ['neither (level 1)', {}, {}, 0],
    ['env 2 over config 3', { _CNI_LOGGING_LEVEL: '2' }, { logLevel: 3 }, 0],
    ['config 3', {}, { logLevel: 3 }, 1],
  ];
  let n = 10;
  for (const [what, env, extra, want] of cases) {
    const p = pod(n++);
    for (const verb of ['ADD', 'DEL']) {
      const r = await cniAsync(verb, conf(extra), { ...p.env, ...env });
      assert.equal(r.status, 0, `${what} ${verb}: ${why(r)}`);
      assert.equal(phaseLines(r).length, want, `${what} ${verb}: ${want} phase line(s):\n${r.stderr}`);
    }
  }
  // VERSION at level 3: the process start and stdin only.
  const v = await cniAsync('VERSION', { cniVersion: '1.0.0' }, { _CNI_LOGGING_LEVEL: '3' });
  assert.deepEqual(parsePhaseLine(phaseLines(v)[0] ?? '')?.spans.map((s) => s.key), ['main', 'stdin']);
  assert.equal(api.requests.filter((q) => q.status === 0).length, 0);
});
