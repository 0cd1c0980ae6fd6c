// Integration: a DEL opens its MAC release's API connection while the delegates run, and nothing of that connection can delay, fail or outlive them (issue 16).
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { BINARY, PLUGIN_DIR, ROOT } from './harness';
import { refusedKubeconfig, World, sleep, type PodRun } from './world';

/** The test delegate (test/plugins/status-probe): its DEL sleeps as long as its config says, and creates no device. */
const PROBE_DIR = join(ROOT, 'test', 'plugins');
const HANG_SEC = 2;

before(() => {
  assert.ok(existsSync(BINARY), `${BINARY} missing: run npm run build`);
  assert.ok(existsSync(join(PROBE_DIR, 'status-probe')), 'test/plugins/status-probe missing');
  assert.equal(process.getuid?.(), 0, 'integration tests need root');
});

const why = (r: { stdout: string; stderr: string }) => `${r.stdout}\n${r.stderr}`;

/** A pod in `ns` with one attachment `slow`, a probe whose DEL takes HANG_SEC; added, with its pool MAC. */
async function slowPod(w: World, ns: string, name: string): Promise<{ p: PodRun; mac: string }> {
  w.api.put({
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: { name: 'slow', namespace: ns },
    spec: { config: JSON.stringify({ cniVersion: '1.0.0', name: 'slow', type: 'status-probe', probe: { hang: { DEL: HANG_SEC } }, capabilities: { mac: true } }) },
  });
  const a = w.node('node-a', { timeBudget: { del: 30 } });
  const p = await w.pod(a, ns, name, [{ name: 'slow' }]);
  p.env.CNI_PATH = `${PLUGIN_DIR}:${PROBE_DIR}`;
  const r = await w.add(p);
  assert.equal(r.status, 0, why(r));
  const held = w.holdings().filter((h) => h.h.owner === `${ns}/${name}/slow` && h.h.state === 'active');
  assert.equal(held.length, 1, 'the ADD took a pool MAC');
  return { p, mac: held[0]!.mac };
}

describe('DEL: the release API opens during the delegates (issue 16)', () => {
  it('API up: the connection is made while the delegate runs, a connection the server closed meanwhile is replaced, and the release is pushed with the same requests', async (t) => {
    const w = await World.create(t);
    w.namespace('o1');
    const { p, mac } = await slowPod(w, 'o1', 'p');

    w.api.clearRequests();
    const before = w.api.connections.length;
    const t0 = Date.now();
    const log = join(w.dir, 'del.log');
    const del = w.del(p, { logLevel: 3, logFile: log });
    // The delegate sleeps HANG_SEC: the release's connection is opened before it ends.
    let early = false;
    for (let waited = 0; waited < (HANG_SEC * 1000) / 2; waited += 20) {
      if (w.api.connections.length > before) {
        early = true;
        break;
      }
      await sleep(20);
    }
    assert.ok(early, `no connection to the API within ${HANG_SEC / 2} s of the DEL's start, while its ${HANG_SEC} s delegate ran`);
    assert.equal(w.api.requests.length, 0, 'connected only: no request before the delegates end');
    // As a server's idle timeout would: the release must take a fresh connection.
    await sleep(100);
    assert.ok(w.api.dropConnections() >= 1, 'the early connection was open');
    const d = await del;
    assert.equal(d.status, 0, why(d));
    assert.ok(Date.now() - t0 >= HANG_SEC * 1000, 'the delegate ran its course');
    assert.doesNotMatch(readFileSync(log, 'utf8'), /retrying/, 'the closed connection was replaced before the first request, not after it failed');

    assert.deepEqual(w.api.requests.map((r) => `${r.verb} ${r.resource} ${r.status}`), ['update configmaps 200', 'create configmaps 201'], 'the same requests as a DEL that connects after its delegates');
    const h = w.atHome(mac);
    assert.deepEqual(h && [h.state, h.owner], ['released', 'o1/p/slow'], 'released in the cluster, not deferred');
    assert.equal(w.node('node-a').journal().entries[mac]?.pendingRelease, undefined);
  });

  it('a kubeconfig that cannot be read: the delegates run, the DEL succeeds and the release is deferred to the journal', async (t) => {
    const w = await World.create(t);
    w.namespace('o2');
    const { p, mac } = await slowPod(w, 'o2', 'p');
    const log = join(w.dir, 'del.log');
    w.api.clearRequests();
    const before = w.api.connections.length;
    const d = await w.del(p, { kubeconfig: join(w.dir, 'missing.kubeconfig'), logLevel: 3, logFile: log });
    assert.equal(d.status, 0, why(d));
    assert.equal(w.api.connections.length, before, 'no connection');
    assert.match(readFileSync(log, 'utf8'), /MAC release deferred: kubeconfig \S+missing\.kubeconfig: cannot read it: ENOENT/);
    assert.match(readFileSync(log, 'utf8'), /deleting o2\/slow on net/);
    assert.deepEqual(w.node('node-a').cacheEntries(), [], 'the cache entry is gone: the delegates succeeded');
    const e = w.node('node-a').journal().entries[mac];
    assert.deepEqual(e && [e.owner, e.state, e.pendingRelease], ['o2/p/slow', 'released', true], 'the journal keeps a pending release');
  });

  it('API down (its port refuses connections): the refusal met during the delegates defers the release to the journal, with no request tried after them', async (t) => {
    const w = await World.create(t);
    w.namespace('o4');
    const { p, mac } = await slowPod(w, 'o4', 'p');
    const { path: refused } = await refusedKubeconfig(w);
    const log = join(w.dir, 'del.log');
    const d = await w.del(p, { kubeconfig: refused, logLevel: 3, logFile: log });
    assert.equal(d.status, 0, why(d));
    const text = readFileSync(log, 'utf8');
    assert.match(text, /release deferred.*: Kubernetes API at \S+ unreachable: (.*: )?ECONNREFUSED/);
    assert.equal(text.match(/connecting: ECONNREFUSED/g)?.length, 2, 'refused during the delegates, and again after them');
    // The phase line (docs/operations.md): the delegate ran, and no API request was made.
    const phases = text.split('\n').find((l) => l.includes(' phases v=1 '));
    assert.ok(phases, 'a phase line');
    assert.match(phases, / delegate:DEL:status-probe=/);
    assert.doesNotMatch(phases, / api:/, 'no request: the refusal was known, and found again on a fresh connection');
    assert.equal(phases.match(/ write:journal=/g)?.length, 1, 'one journal write: the deferred release');
    assert.deepEqual(w.node('node-a').cacheEntries(), []);
    const e = w.node('node-a').journal().entries[mac];
    assert.deepEqual(e && [e.owner, e.state, e.pendingRelease], ['o4/p/slow', 'released', true], 'the journal keeps a pending release');
  });

  it('API down during the delegates and back after them (a control-plane restart): the stale refusal is checked again, and the release is pushed to the cluster', async (t) => {
    const w = await World.create(t);
    w.namespace('o6');
    const { p, mac } = await slowPod(w, 'o6', 'p');
    // A port that refuses connections, until a proxy to the test API server listens on it.
    const proxy = createServer((s) => {
      const up = connect(w.api.port, '127.0.0.1');
      s.pipe(up).pipe(s);
      s.on('error', () => up.destroy());
      up.on('error', () => s.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    const port = (proxy.address() as { port: number }).port;
    await new Promise<void>((r) => proxy.close(() => r()));
    t.after(() => proxy.close());
    const restarting = join(w.dir, 'restarting.kubeconfig');
    writeFileSync(restarting, readFileSync(w.api.kubeconfig, 'utf8').replace(/https:\/\/127\.0\.0\.1:\d+/, `https://127.0.0.1:${port}`));
    const log = join(w.dir, 'del.log');
    w.api.clearRequests();
    const del = w.del(p, { kubeconfig: restarting, logLevel: 3, logFile: log });
    // The connection opened during the delegate is refused (logged at once), then the server is back before the delegate ends.
    let refused = false;
    for (let waited = 0; waited < (HANG_SEC * 1000) / 2 && !refused; waited += 20) {
      await sleep(20);
      refused = existsSync(log) && /connecting: ECONNREFUSED/.test(readFileSync(log, 'utf8'));
    }
    assert.ok(refused, `the early connection was not refused within ${HANG_SEC / 2} s of the DEL's start`);
    await new Promise<void>((r) => proxy.listen(port, '127.0.0.1', () => r()));
    const d = await del;
    assert.equal(d.status, 0, why(d));
    assert.doesNotMatch(readFileSync(log, 'utf8'), /release deferred/, 'not deferred on the stale refusal');
    assert.deepEqual(w.api.requests.map((r) => `${r.verb} ${r.resource} ${r.status}`), ['update configmaps 200', 'create configmaps 201'], 'the release is pushed as when the API was up all along');
    const h = w.atHome(mac);
    assert.deepEqual(h && [h.state, h.owner], ['released', 'o6/p/slow'], 'released in the cluster, not deferred');
    assert.equal(w.node('node-a').journal().entries[mac]?.pendingRelease, undefined, 'no pending release in the journal');
  });

  it('an API server that accepts the connection and never answers its handshake: the release waits no longer than its time budget, and is deferred', async (t) => {
    const w = await World.create(t);
    w.namespace('o5');
    const { p, mac } = await slowPod(w, 'o5', 'p');
    const held: Socket[] = [];
    const mute = createServer((s) => void held.push(s));
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', () => r()));
    t.after(() => {
      for (const s of held) s.destroy();
      mute.close();
    });
    const silent = join(w.dir, 'silent.kubeconfig');
    writeFileSync(silent, readFileSync(w.api.kubeconfig, 'utf8').replace(/https:\/\/127\.0\.0\.1:\d+/, `https://127.0.0.1:${(mute.address() as { port: number }).port}`));
    const t0 = Date.now();
    const d = await w.del(p, { kubeconfig: silent, timeBudget: { del: 1 } });
    assert.equal(d.status, 0, why(d));
    assert.ok(held.length >= 1, 'the connection was made');
    // The delegate's HANG_SEC, then at most the rest of the 1 s budget (it counts from the DEL's start), and process costs.
    assert.ok(Date.now() - t0 < (HANG_SEC + 3) * 1000, `the DEL took ${Date.now() - t0} ms`);
    const e = w.node('node-a').journal().entries[mac];
    assert.deepEqual(e && [e.owner, e.state, e.pendingRelease], ['o5/p/slow', 'released', true], 'the journal keeps a pending release');
  });

  it('nothing to release (a namespace whose pods get no pool MAC): the DEL opens no connection at all', async (t) => {
    const w = await World.create(t);
    w.namespace('o3', { 'macmux.io/mac-assignment': 'ignore' });
    w.api.put({
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name: 'plain', namespace: 'o3' },
      spec: { config: JSON.stringify({ cniVersion: '1.0.0', name: 'plain', type: 'status-probe' }) },
    });
    const a = w.node('node-a');
    const p = await w.pod(a, 'o3', 'p', [{ name: 'plain' }]);
    p.env.CNI_PATH = `${PLUGIN_DIR}:${PROBE_DIR}`;
    assert.equal((await w.add(p)).status, 0);
    assert.deepEqual(w.holdings().filter((h) => h.h.owner === 'o3/p/plain'), [], 'no MAC held');
    const before = w.api.connections.length;
    w.api.clearRequests();
    const d = await w.del(p);
    assert.equal(d.status, 0, why(d));
    assert.equal(w.api.connections.length, before, 'no connection');
    assert.deepEqual(w.api.requests, []);
  });
});
