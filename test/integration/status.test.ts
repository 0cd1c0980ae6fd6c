// Integration: CNI STATUS (1.1.0) of the built macmux: 50 and 51 with their causes, forwarding to 1.1.0 delegates, the time budget.
import { describe, it, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { startApiServer, type ApiServer } from '../apiserver/server';
import { writeKubeconfig } from '../apiserver/kubeconfig';
import { BINARY, PLUGIN_DIR, ROOT, Sandbox, cniAsync, linkNames, macmuxConf, sh, trySh, type RunResult } from './harness';

/** The stand-in for a 1.1.0 delegate (Debian's plugins speak up to 1.0.0): it logs every call and answers per its "probe" config. */
const PROBE_DIR = join(ROOT, 'test', 'plugins');
const CNI_PATH = `${PLUGIN_DIR}:${PROBE_DIR}`;
const GREEN = 'net9f27410725ab'; // md5("green")[:12]
/** Generous: a STATUS process starts in about half a second here, on 2 shared CPUs. */
const SLACK_MS = 5000;

let api: ApiServer;
before(async () => {
  assert.ok(existsSync(BINARY), `${BINARY} missing: run npm run build`);
  for (const p of ['bridge', 'macvlan', 'host-local']) assert.ok(existsSync(`${PLUGIN_DIR}/${p}`), `plugin ${p} missing from ${PLUGIN_DIR}`);
  assert.ok(existsSync(join(PROBE_DIR, 'status-probe')), 'test/plugins/status-probe missing');
  assert.equal(process.getuid?.(), 0, 'integration tests need root');
  api = await startApiServer();
});
after(async () => api?.stop());

interface Call {
  command: string;
  env: Record<string, string>;
  stdin: Record<string, unknown>;
}

interface World {
  sb: Sandbox;
  /** The file every probe of this test logs to. */
  log: string;
  calls(): Call[];
  /** A delegate network run by the probe. */
  probe(name: string, cniVersion: string, knobs?: Record<string, unknown>): Record<string, unknown>;
  /** macmux 1.1.0 with eth0 on Debian's bridge (which speaks 1.0.0), then `secondaries`. */
  conf(secondaries?: Array<Record<string, unknown>>, extra?: Record<string, unknown>): Record<string, unknown>;
  /** Cleanups run before the sandbox is removed (unmounts). */
  onCleanup(fn: () => void): void;
}

function world(t: TestContext): World {
  const sb = new Sandbox();
  const log = join(sb.dir, 'calls.jsonl');
  const cleanups: Array<() => void> = [];
  t.after(() => {
    for (const fn of cleanups.reverse()) fn();
    sb.cleanup();
  });
  return {
    sb,
    log,
    calls: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Call) : []),
    probe: (name, cniVersion, knobs = {}) => ({ name, cniVersion, type: 'status-probe', probe: { log, ...knobs } }),
    conf: (secondaries = [], extra = {}) => {
      const c = macmuxConf(sb, '1.1.0', secondaries, extra);
      (c.delegates as Array<Record<string, unknown>>)[0]!.cniVersion = '1.0.0';
      return c;
    },
    onCleanup: (fn) => cleanups.push(fn),
  };
}

/** STATUS as libcni sends it: CNI_COMMAND and CNI_PATH only. */
async function status(conf: unknown, env: Record<string, string | undefined> = {}): Promise<RunResult & { ms: number }> {
  const started = Date.now();
  const r = await cniAsync('STATUS', conf, { CNI_PATH, ...env });
  return { ...r, ms: Date.now() - started };
}

function assertReady(r: RunResult): void {
  assert.equal(r.status, 0, `STATUS should succeed: ${r.stdout} ${r.stderr}`);
  assert.equal(r.stdout, '', 'nothing on stdout on success');
}

/** Exit 1 with exactly one error object carrying `code`, whose msg contains every fragment. */
function assertStatusError(r: RunResult, code: number, ...fragments: string[]): string {
  assert.equal(r.status, 1, `exit status; stdout=${r.stdout} stderr=${r.stderr}`);
  assert.equal(r.json.code, code, `code in ${r.stdout}`);
  assert.equal(r.json.cniVersion, '1.1.0');
  const msg = String(r.json.msg);
  for (const f of fragments) assert.ok(msg.includes(f), `msg ${JSON.stringify(msg)} should mention ${JSON.stringify(f)}`);
  return msg;
}

function mountReadOnly(w: World, dir: string): void {
  mkdirSync(dir, { recursive: true });
  sh('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', dir]);
  w.onCleanup(() => trySh('umount', [dir]));
}

describe('STATUS forwards to 1.1.0 delegates', () => {
  it('succeeds silently, asking each 1.1.0 delegate with its own network config and no container, and skipping older ones', async (t) => {
    const w = world(t);
    const blue = { name: 'blue', cniVersion: '1.1.0', plugins: [
      { type: 'status-probe', probe: { log: w.log, step: 1 } },
      { type: 'status-probe', probe: { log: w.log, step: 2 } },
    ] };
    const conf = w.conf([w.probe('green', '1.1.0'), blue, w.probe('red', '1.0.0')], { runtimeConfig: { mac: '02:00:00:00:00:01' } });
    const r = await status(conf);
    assertReady(r);
    const calls = w.calls();
    assert.deepEqual(calls.map((c) => c.command), ['STATUS', 'STATUS', 'STATUS'], 'red (1.0.0) and the 1.0.0 cluster bridge are not asked');
    assert.deepEqual(calls.map((c) => c.stdin), [
      { type: 'status-probe', name: 'green', cniVersion: '1.1.0', probe: { log: w.log } },
      { type: 'status-probe', name: 'blue', cniVersion: '1.1.0', probe: { log: w.log, step: 1 } },
      { type: 'status-probe', name: 'blue', cniVersion: '1.1.0', probe: { log: w.log, step: 2 } },
    ]);
    for (const c of calls) assert.deepEqual(c.env, { CNI_COMMAND: 'STATUS', CNI_PATH }, 'STATUS has no container, netns, ifname or args');
  });

  it("returns a delegate's error with its code, prefixed with the delegate's name; a conflist stops at its first error", async (t) => {
    const w = world(t);
    const r51 = await status(w.conf([w.probe('green', '1.1.0', { answer: { STATUS: { code: 51, msg: 'uplink eth9 is down' } } })]));
    assertStatusError(r51, 51);
    assert.equal(r51.json.msg, 'status-probe (green) STATUS: uplink eth9 is down');

    rmSync(w.log, { force: true });
    const blue = { name: 'blue', cniVersion: '1.1.0', plugins: [
      { type: 'status-probe', probe: { log: w.log, answer: { STATUS: { code: 50, msg: 'no addresses left', details: 'pool 10.9.0.0/30' } } } },
      { type: 'status-probe', probe: { log: w.log } },
    ] };
    const r50 = await status(w.conf([blue]));
    assertStatusError(r50, 50);
    assert.equal(r50.json.msg, 'status-probe (blue) STATUS: no addresses left');
    assert.equal(r50.json.details, 'pool 10.9.0.0/30');
    assert.equal(w.calls().length, 1, 'the second plugin of the list is not asked after the first failed');

    // The probe's environment knob, which macmux's delegates inherit.
    const env = await status(w.conf([w.probe('green', '1.1.0')]), { PROBE_ANSWER_STATUS: '50:daemon not running' });
    assertStatusError(env, 50);
    assert.equal(env.json.msg, 'status-probe (green) STATUS: daemon not running');
  });

  it('a delegate that does not answer within the budget is code 50 naming it, and STATUS still answers within its budget', async (t) => {
    const w = world(t);
    const r = await status(w.conf([w.probe('green', '1.1.0', { hang: { STATUS: 60 } })], { timeBudget: { status: 1 } }));
    assertStatusError(r, 50, 'delegate "green": no STATUS answer within the 1s time budget');
    assert.ok(r.ms < 1000 + SLACK_MS, `STATUS took ${r.ms} ms with a 1 s budget`);
    t.diagnostic(`hanging delegate: STATUS answered in ${r.ms} ms (budget 1 s)`);
    assert.equal(w.calls().length, 1);
  });

  it('needs cniVersion 1.1.0, and CNI_PATH or binDir', async (t) => {
    const w = world(t);
    const r = await status({ ...w.conf(), cniVersion: '1.0.0' });
    assert.equal(r.status, 1);
    assert.equal(r.json.code, 1);
    assert.match(String(r.json.msg), /STATUS \(needs 1\.1\.0\)/);
    const nowhere = await status(w.conf(), { CNI_PATH: undefined });
    assert.equal(nowhere.json.code, 4, 'no CNI_PATH and no binDir: the delegates cannot be looked for');
    assert.match(String(nowhere.json.msg), /CNI_PATH is not set and the config has no binDir/);
  });
});

describe('STATUS 50: macmux cannot serve an ADD', () => {
  it('names the missing plugin: of the cluster network, of a delegate, an IPAM plugin; a missing clusterNetwork file; a missing master', async (t) => {
    const w = world(t);
    const cluster = w.conf();
    (cluster.delegates as Array<Record<string, unknown>>)[0]!.type = 'no-such-cni';
    const r1 = await status(cluster);
    assertStatusError(r1, 50, 'macmux cannot serve ADD: cluster network "cluster": plugin "no-such-cni" not found');
    assert.equal(r1.json.details, `searched: ${PLUGIN_DIR}, ${PROBE_DIR}`);

    const r2 = await status(w.conf([{ name: 'green', cniVersion: '1.1.0', type: 'no-such-vtap', probe: { log: w.log } }]));
    assertStatusError(r2, 50, 'delegate "green": plugin "no-such-vtap" not found');
    assert.deepEqual(w.calls(), [], 'a delegate that is not installed is not asked');

    const r3 = await status(w.conf([{ name: 'green', cniVersion: '1.0.0', type: 'macvlan', master: w.sb.bridge('l'), ipam: { type: 'no-such-ipam' } }]));
    assertStatusError(r3, 50, 'delegate "green": IPAM plugin of macvlan "no-such-ipam" not found');

    const self = await status(w.conf([{ name: 'green', cniVersion: '1.1.0', type: 'macvlan', master: w.sb.bridge('s'), ipam: { type: 'macmux' } }]));
    assertStatusError(self, 50, 'delegate "green": IPAM plugin of macvlan "macmux": its type is "macmux"; macmux never runs itself as a delegate');

    const r4 = await status({ cniVersion: '1.1.0', name: 'macmux', type: 'macmux', cacheDir: w.sb.cacheDir, clusterNetwork: `${w.sb.dir}/10-calico.conflist` });
    assertStatusError(r4, 50, 'macmux cannot serve ADD', `${w.sb.dir}/10-calico.conflist`);

    const r5 = await status(w.conf([{ name: 'green', cniVersion: '1.0.0', type: 'macvlan', master: `mmno${w.sb.id}`.slice(0, 15), ipam: { type: 'host-local', subnet: '10.251.0.0/24', dataDir: w.sb.ipamDir } }]));
    assertStatusError(r5, 50, `delegate "green": host device "${`mmno${w.sb.id}`.slice(0, 15)}" (master of macvlan) does not exist`);
  });

  it('names the state dir or the ledger dir that is not writable; the ledger dir counts only with the ledger on', async (t) => {
    const w = world(t);
    const ro = join(w.sb.dir, 'ro');
    mountReadOnly(w, ro);
    const r1 = await status(w.conf([], { cacheDir: ro }));
    assertStatusError(r1, 50, `macmux cannot serve ADD: state dir ${ro} is not writable: EROFS`);

    // A state dir not created yet is fine when its parent is writable (an ADD creates it) ...
    assertReady(await status(w.conf([], { cacheDir: join(w.sb.dir, 'new', 'state') })));
    // ... and is named with where it would be created when that parent is not.
    assertStatusError(await status(w.conf([], { cacheDir: join(ro, 'state') })), 50, `state dir ${ro}/state is not writable (it would be created in ${ro}): EROFS`);

    const ledger = join(w.sb.cacheDir, 'ledger');
    mountReadOnly(w, ledger);
    assertReady(await status(w.conf()));
    const macPool = { rangeStart: '02:aa:00:00:00:00', rangeEnd: '02:aa:00:00:00:ff' };
    const r2 = await status(w.conf([], { macPool }));
    assertStatusError(r2, 50, `macmux cannot serve ADD: ledger dir ${ledger} is not writable: EROFS`);
    assert.ok(!String(r2.json.msg).includes('state dir'), 'only the ledger dir is named');

    // A file where the ledger dir should be.
    const other = join(w.sb.dir, 'state2');
    mkdirSync(other);
    writeFileSync(join(other, 'ledger'), 'not a directory');
    assertStatusError(await status(w.conf([], { cacheDir: other, macPool })), 50, `ledger dir ${other}/ledger is not writable`, 'ENOTDIR');
    assert.deepEqual(readFileSync(join(other, 'ledger'), 'utf8'), 'not a directory');
  });

  it('asks the API when one is configured: a cheap GET, refused credentials and an unreachable server are code 50', async (t) => {
    const w = world(t);
    api.clearRequests();
    assertReady(await status(w.conf()));
    assert.equal(api.requests.length, 0, 'no kubeconfig and not in a cluster: the API is not asked');

    assertReady(await status(w.conf([], { kubeconfig: api.kubeconfig })));
    assert.deepEqual(api.requests.map((r) => `${r.verb} ${r.resource} ${r.name} ${r.status}`), ['get namespaces kube-system 200']);
    api.clearRequests();
    const macPool = { rangeStart: '02:aa:00:00:00:00', rangeEnd: '02:aa:00:00:00:ff' };
    assertReady(await status(w.conf([], { kubeconfig: api.kubeconfig, macPool })));
    assert.deepEqual(api.requests.map((r) => `${r.verb} ${r.resource} ${r.namespace}/${r.name} ${r.status}`), ['get configmaps kube-system/macmux-pool 404'], 'with the ledger on, the pool ConfigMap (not created yet)');

    const wrong = api.writeKubeconfig(join(w.sb.dir, 'wrong.kubeconfig'), { token: 'not-the-token' });
    assertStatusError(await status(w.conf([], { kubeconfig: wrong })), 50, 'macmux cannot serve ADD: Kubernetes API refused to get namespaces kube-system (HTTP 401');

    const closed = writeKubeconfig(join(w.sb.dir, 'closed.kubeconfig'), { server: 'https://127.0.0.1:1', caFile: api.caFile, token: api.token });
    const r = await status(w.conf([], { kubeconfig: closed, timeBudget: { status: 1 } }));
    assertStatusError(r, 50, 'macmux cannot serve ADD: Kubernetes API at https://127.0.0.1:1 unreachable', 'ECONNREFUSED');
    assert.ok(r.ms < 1000 + SLACK_MS, `STATUS took ${r.ms} ms with a 1 s budget`);

    const missing = join(w.sb.dir, 'missing.kubeconfig');
    assertStatusError(await status(w.conf([], { kubeconfig: missing })), 50, `Kubernetes API: kubeconfig ${missing}`);
  });

  it('answers within its budget when the API server hangs, or accepts connections and never speaks', async (t) => {
    const w = world(t);
    const hang = api.fault({ match: /./, delay: 60_000 });
    t.after(() => hang.cancel());
    const r1 = await status(w.conf([], { kubeconfig: api.kubeconfig, timeBudget: { status: 2 } }));
    assertStatusError(r1, 50, `macmux cannot serve ADD: Kubernetes API at ${api.url} unreachable`);
    assert.ok(r1.ms < 2000 + SLACK_MS, `STATUS took ${r1.ms} ms with a 2 s budget`);
    t.diagnostic(`hanging API server: STATUS answered in ${r1.ms} ms (budget 2 s)`);
    assert.ok(hang.hits >= 1, 'the request reached the hanging server');
    hang.cancel();

    const sockets = new Set<Socket>();
    const blackhole: Server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
    });
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      for (const s of sockets) s.destroy();
      blackhole.close();
    });
    const port = (blackhole.address() as { port: number }).port;
    const silent = writeKubeconfig(join(w.sb.dir, 'blackhole.kubeconfig'), { server: `https://127.0.0.1:${port}`, caFile: api.caFile, token: api.token });
    const r2 = await status(w.conf([], { kubeconfig: silent, timeBudget: { status: 2 } }));
    assertStatusError(r2, 50, `Kubernetes API at https://127.0.0.1:${port} unreachable`);
    assert.ok(r2.ms < 2000 + SLACK_MS, `STATUS took ${r2.ms} ms with a 2 s budget`);
    t.diagnostic(`silent server: STATUS answered in ${r2.ms} ms (budget 2 s)`);
    assert.ok(sockets.size >= 1, 'macmux connected to the silent server');
  });
});

describe('STATUS 51: existing pods are degraded', () => {
  it('a host device an attachment relies on is gone: the bridge of eth0 (51 only), a macvlan master (51, and 50 for new pods)', async (t) => {
    const w = world(t);
    const lower = w.sb.bridge('l');
    const conf = w.conf([{ name: 'green', cniVersion: '1.0.0', type: 'macvlan', master: lower, mode: 'bridge', ipam: { type: 'host-local', subnet: '10.251.0.0/24', dataDir: w.sb.ipamDir } }]);
    const add = await cniAsync('ADD', conf, w.sb.env('st-dev1'));
    assert.equal(add.status, 0, add.stdout);
    assertReady(await status(conf));

    const clusterBridge = String((conf.delegates as Array<Record<string, unknown>>)[0]!.bridge);
    sh('ip', ['link', 'del', clusterBridge]);
    const r1 = await status(conf);
    const m1 = assertStatusError(r1, 51, `existing pods are degraded: container st-dev1: attachment "cluster" (eth0): host device "${clusterBridge}" (bridge of bridge) is gone`);
    assert.ok(!m1.includes('cannot serve ADD'), 'the bridge plugin creates its bridge again for new pods');

    sh('ip', ['link', 'del', lower]);
    const r2 = await status(conf);
    assertStatusError(r2, 51, `attachment "green" (${GREEN}): host device "${lower}" (master of macvlan) is gone`, `macmux cannot serve ADD: delegate "green": host device "${lower}" (master of macvlan) does not exist`);
    assert.deepEqual(linkNames(w.sb.ns), ['eth0', 'lo'], 'the kernel took the macvlan with its master');

    // Once the pod's netns is gone, the pod is no longer degraded, only new pods cannot get green.
    w.sb.deleteNetns();
    const r3 = await status(conf);
    const m3 = assertStatusError(r3, 50, `delegate "green": host device "${lower}"`);
    assert.ok(!m3.includes('degraded'), m3);
  });

  it('an ADD that died half-way (its entry "adding" for longer than any ADD can take) is 51; an ADD in flight is not', async (t) => {
    const w = world(t);
    const conf = w.conf();
    assert.equal((await cniAsync('ADD', conf, w.sb.env('st-dead1'))).status, 0);
    const path = join(w.sb.cacheDir, 'cache', 'st-dead1');
    writeFileSync(path, readFileSync(path, 'utf8').replace('"state":"added"', '"state":"adding"'));
    assertReady(await status(conf));
    const old = new Date(Date.now() - 2 * 3600_000);
    utimesSync(path, old, old);
    const r = await status(conf);
    assertStatusError(r, 51, `existing pods are degraded: container st-dead1: its ADD died half-way (cache entry still "adding" since ${old.toISOString().slice(0, 16)}`);

    assert.equal((await cniAsync('DEL', conf, w.sb.env('st-dead1'))).status, 0);
    assertReady(await status(conf));
  });

  it('a delegate uninstalled under a running pod is 51, even once the config no longer names it', async (t) => {
    const w = world(t);
    const bin = join(w.sb.dir, 'bin');
    mkdirSync(bin);
    copyFileSync(join(PROBE_DIR, 'status-probe'), join(bin, 'old-probe'));
    sh('chmod', ['755', join(bin, 'old-probe')]);
    const withOld = w.conf([{ name: 'green', cniVersion: '1.0.0', type: 'old-probe', probe: { log: w.log } }], { binDir: bin });
    assert.equal((await cniAsync('ADD', withOld, w.sb.env('st-gone1'))).status, 0);
    assertReady(await status(withOld));

    rmSync(join(bin, 'old-probe'));
    const degraded = `existing pods are degraded: container st-gone1: attachment "green" (${GREEN}): plugin "old-probe" is no longer installed, so it can be neither checked nor deleted`;
    const r1 = await status(withOld);
    assertStatusError(r1, 51, degraded, 'macmux cannot serve ADD: delegate "green": plugin "old-probe" not found');
    const without = w.conf([], { binDir: bin });
    const r2 = await status(without);
    assertStatusError(r2, 51, degraded);
    assert.ok(!String(r2.json.msg).includes('cannot serve ADD'), String(r2.json.msg));

    copyFileSync(join(PROBE_DIR, 'status-probe'), join(bin, 'old-probe'));
    sh('chmod', ['755', join(bin, 'old-probe')]);
    assertReady(await status(without));
    assert.equal((await cniAsync('DEL', withOld, w.sb.env('st-gone1'))).status, 0);
    assert.deepEqual(w.calls().map((c) => c.command), ['ADD', 'DEL']);
  });
});
