// Integration: chaos. 200 ADD/DEL cycles of real macmux processes over 2 simulated nodes (own cacheDir and
// nodeName each, the ledger on), 4 at a time, pods with 1-2 macvlan secondaries on a host bridge and
// sometimes a requested MAC, while the API test server injects latency, 500, 429, 409 and dropped
// connections at random. Afterwards, and after a CNI GC per node and `macmux ledger sync`: no MAC held
// twice, none leaked, no link left, every failed ADD code 11 or a delegate's, every DEL a success.
// MACMUX_CHAOS_SEED=<n> replays a run's choices (which faults hit which request still depends on timing);
// MACMUX_CHAOS_CYCLES=<n> shortens it while developing; MACMUX_CHAOS_LOG=<file> logs every invocation (debug).
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startApiServer, type ApiServer, type RequestInfo } from '../apiserver/server';
import { PLUGIN_DIR, cliAsync, cniAsync, type RunResult } from './harness';
import { census, type Census } from '../../src/mac/census';
import { LEDGER_LABEL } from '../../src/mac/home';
import type { Cm } from '../../src/mac/store';
import { deviceName } from '../../src/util/names';
import { prng } from '../prng';

const exec = promisify(execFile);
const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
const MACNS = 'kube-system';
const NS = 'chaos';
const GRACE = 600;
/** 4096 MACs in blocks of 32, as in the ledger tests: the nodes lease many blocks and meet often. */
const RANGE = { rangeStart: '02:aa:00:00:00:00', rangeEnd: '02:aa:00:00:0f:ff', blockSize: 32 };
const CYCLES = Number(process.env.MACMUX_CHAOS_CYCLES ?? 200);
const CONCURRENCY = 4;
/** The API budget of ADD and DEL in seconds, and the delay of a stalled request, past it. */
const BUDGET = 5;
const STALL_MS = (BUDGET + 1) * 1000;
const PID = process.pid % 100000;
const SEED = Number(process.env.MACMUX_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));

const hex2 = (n: number) => (n & 0xff).toString(16).padStart(2, '0');
const why = (r: { status: number; stdout: string; stderr: string }) => `status ${r.status}: ${r.stdout} ${r.stderr.split('\n').slice(-4).join('\n')}`;
const codeOf = (r: RunResult) => (typeof r.json.code === 'number' ? r.json.code : undefined);
/** A delegate's error keeps the plugin's message behind "type (network) VERB:". */
const delegateError = (r: RunResult) => typeof r.json.msg === 'string' && /^[\w.-]+ \([^)]*\) (ADD|DEL|CHECK): /.test(r.json.msg);

type FaultKind = 'latency' | '500' | '429' | '409' | 'drop';
const FAULT_KINDS: FaultKind[] = ['latency', '500', '429', '409', 'drop'];

interface SimNode {
  name: string;
  cacheDir: string;
  conflist: string;
  conf: Record<string, unknown>;
}

interface Pod {
  name: string;
  uid: string;
  cid: string;
  netns: string;
  node: SimNode;
  nets: Array<{ name: string; mac?: string }>;
  env: Record<string, string>;
}

const ownerOf = (p: Pod, nad: string) => `${NS}/${p.name}/${nad}`;

/** The test's world: an API server, a temp dir, one host bridge, network namespaces; all removed by t.after. */
class World {
  readonly dir = mkdtempSync(join(tmpdir(), 'macmux-chaos-'));
  readonly lan = `mmx${PID}`.slice(0, 15);
  private readonly netnsNames = new Set<string>();
  private seq = 0;
  private closed = false;
  private constructor(readonly api: ApiServer) {}

  static async create(t: TestContext): Promise<World> {
    const w = new World(await startApiServer());
    t.after(() => w.cleanup());
    await exec('ip', ['link', 'add', w.lan, 'type', 'bridge']);
    await exec('ip', ['link', 'set', w.lan, 'up']);
    w.api.put({ kind: 'Namespace', metadata: { name: NS } });
    for (const name of ['blue', 'green']) {
      w.api.put({
        apiVersion: 'k8s.cni.cncf.io/v1',
        kind: 'NetworkAttachmentDefinition',
        metadata: { name, namespace: NS },
        spec: { config: JSON.stringify({ cniVersion: '1.0.0', name, type: 'macvlan', master: w.lan, mode: 'bridge', capabilities: { mac: true } }) },
      });
    }
    return w;
  }

  /** A node: its macmux config (GC needs 1.1.0; the delegates say 1.0.0) and the same as an installed conflist. */
  node(name: string): SimNode {
    const cacheDir = join(this.dir, name);
    const plugin = {
      type: 'macmux',
      cacheDir,
      kubeconfig: this.api.kubeconfig,
      nodeName: name,
      macPool: RANGE,
      macGracePeriod: GRACE,
      // A short API budget, so that a stalled request ends an ADD with code 11 (and defers a DEL's releases).
      timeBudget: { add: BUDGET, del: BUDGET },
      delegates: [{ name: 'lo', type: 'loopback', cniVersion: '1.0.0' }],
    };
    const conflist = join(this.dir, `${name}.conflist`);
    writeFileSync(conflist, JSON.stringify({ cniVersion: '1.1.0', name: 'macmux', plugins: [plugin] }));
    return { name, cacheDir, conflist, conf: { cniVersion: '1.1.0', name: 'macmux', ...plugin } };
  }

  async pod(node: SimNode, name: string, nets: Pod['nets']): Promise<Pod> {
    if (this.closed) throw new Error('the test is over');
    const obj = this.api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS, annotations: { [NETWORKS]: JSON.stringify(nets) } } });
    const netns = `mmx-${PID}-${this.seq++}`;
    this.netnsNames.add(netns);
    await exec('ip', ['netns', 'add', netns]);
    const cid = `x${PID}c${this.seq++}`;
    const uid = obj.metadata!.uid!;
    const env = {
      CNI_CONTAINERID: cid,
      CNI_NETNS: `/run/netns/${netns}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: PLUGIN_DIR,
      ...(process.env.MACMUX_CHAOS_LOG ? { _CNI_LOGGING_FILE: process.env.MACMUX_CHAOS_LOG, _CNI_LOGGING_LEVEL: '3' } : {}),
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${NS};K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=${cid};K8S_POD_UID=${uid}`,
    };
    return { name, uid, cid, netns, node, nets, env };
  }

  run(command: string, node: SimNode, env: Record<string, string>, extra: Record<string, unknown> = {}): Promise<RunResult> {
    if (this.closed) return Promise.reject(new Error('the test is over'));
    return cniAsync(command, { ...node.conf, ...extra }, env);
  }

  async delNetns(name: string): Promise<void> {
    await exec('ip', ['netns', 'del', name]).catch(() => undefined);
    this.netnsNames.delete(name);
  }

  /** ifname → MAC in the netns; undefined when the netns is gone. */
  async links(netns: string): Promise<Map<string, string> | undefined> {
    if (!this.netnsNames.has(netns)) return undefined;
    const { stdout } = await exec('ip', ['-n', netns, '-j', 'link']);
    return new Map((JSON.parse(stdout) as Array<{ ifname: string; address: string }>).map((l) => [l.ifname, l.address]));
  }

  /** Every netns still there with a link other than lo: "netns: links". */
  async leftLinks(): Promise<string[]> {
    const out: string[] = [];
    for (const ns of this.netnsNames) {
      const names = [...((await this.links(ns)) ?? new Map()).keys()].filter((n) => n !== 'lo');
      if (names.length) out.push(`${ns}: ${names.join(',')}`);
    }
    return out;
  }

  /** The census of the ledger ConfigMaps, as macmux's own `ledger list` and metrics take it. */
  census(): Census {
    // The ledger's (label macmux.io/ledger), as the census lists them: not the owner index, hints in another format.
    const cms: Cm[] = (this.api.list('ConfigMap', MACNS) as unknown as Array<{ metadata: { name: string; labels?: Record<string, string> }; data?: Record<string, string> }>)
      .filter((c) => c.metadata.labels?.[LEDGER_LABEL] !== undefined)
      .map((c) => ({ name: c.metadata.name, data: c.data ?? {} }));
    return census(cms, Math.floor(Date.now() / 1000), GRACE);
  }

  async cleanup(): Promise<void> {
    this.closed = true;
    this.api.clearFaults();
    const batch = [...this.netnsNames].map((n) => `netns del ${n}`).join('\n') + '\n';
    await new Promise<void>((resolve) => {
      const c = spawn('ip', ['-force', '-batch', '-'], { stdio: ['pipe', 'ignore', 'ignore'] });
      c.on('close', () => resolve());
      c.on('error', () => resolve());
      c.stdin.end(batch);
    });
    this.netnsNames.clear();
    await exec('ip', ['link', 'del', this.lan]).catch(() => undefined);
    await this.api.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const cacheEntries = (n: SimNode) => (existsSync(join(n.cacheDir, 'cache')) ? readdirSync(join(n.cacheDir, 'cache')).filter((f) => !f.startsWith('.')) : []);

interface JournalFile {
  entries: Record<string, { owner: string; state: string; pendingRelease?: boolean }>;
  intents: unknown[];
}
const journal = (n: SimNode): JournalFile => {
  const f = join(n.cacheDir, 'ledger', 'journal.json');
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as JournalFile) : { entries: {}, intents: [] };
};

/**
 * The injector: each API request draws once from a seeded generator which fault, if any, it gets:
 * latency (200 ms, or now and then a stall past the verb's API budget), 500, 429, 409 (only on writes,
 * PUT, POST and PATCH, where a real server answers it) or a dropped connection: before the request is
 * served, or (writes only) after it was applied, so that only the answer is lost.
 */
function injectFaults(api: ApiServer, seed: number): { hits(): Record<FaultKind, number>; stalls(): number; lost(): number } {
  const draw = prng(seed);
  const decided = new WeakMap<RequestInfo, string>();
  const decide = (r: RequestInfo): string => {
    let k = decided.get(r);
    if (k === undefined) {
      const x = draw();
      const write = r.method !== 'GET';
      k = x < 0.05 ? 'latency' : x < 0.06 ? 'stall' : x < 0.085 ? '500' : x < 0.1 ? '429' : x < 0.13 ? (write ? '409' : 'none') : x < 0.15 ? 'drop' : x < 0.17 ? (write ? 'lost' : 'none') : 'none';
      decided.set(r, k);
    }
    return k;
  };
  const on = (kind: string) => (r: RequestInfo) => decide(r) === kind;
  const f = {
    latency: api.fault({ match: on('latency'), delay: 200 }),
    stall: api.fault({ match: on('stall'), delay: STALL_MS }),
    '500': api.fault({ match: on('500'), status: 500, message: 'injected chaos' }),
    '429': api.fault({ match: on('429'), status: 429, retryAfter: 1 }),
    '409': api.fault({ match: on('409'), status: 409, message: 'injected chaos' }),
    drop: api.fault({ match: on('drop'), drop: true }),
    lost: api.fault({ match: on('lost'), dropAnswer: true }),
  };
  return {
    hits: () => ({ latency: f.latency.hits + f.stall.hits, '500': f['500'].hits, '429': f['429'].hits, '409': f['409'].hits, drop: f.drop.hits + f.lost.hits }),
    stalls: () => f.stall.hits,
    lost: () => f.lost.hits,
  };
}

describe('chaos', () => {
  it(`${CYCLES} ADD/DEL cycles on 2 nodes under API faults: no duplicate or leaked MAC, no link left, ADD fails only with 11 or a delegate's error, DEL always succeeds`, async (t) => {
    const started = Date.now();
    t.diagnostic(`seed ${SEED} (MACMUX_CHAOS_SEED=${SEED} replays the choices)`);
    const w = await World.create(t);
    const nodes = [w.node('node-a'), w.node('node-b')];
    const plan = prng(SEED);
    const alive: Pod[] = [];
    const addCodes = new Map<string, number>();
    let addOk = 0;
    let dels = 0;
    const addMs: number[] = [];
    const delMs: number[] = [];
    const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? 0;
    const problems: string[] = [];

    /** The runtime's DEL (must succeed), then nothing of the pod in its netns. */
    async function del(p: Pod, what: string): Promise<void> {
      const t0 = Date.now();
      const d = await w.run('DEL', p.node, p.env);
      delMs.push(Date.now() - t0);
      dels++;
      if (d.status !== 0) problems.push(`${what}: DEL of ${p.name} on ${p.node.name} failed: ${why(d)}`);
      const left = [...((await w.links(p.netns)) ?? new Map()).keys()].filter((n) => n !== 'lo');
      if (left.length) problems.push(`${what}: ${p.name}'s netns still has ${left.join(', ')} after DEL`);
    }

    // Every cycle's choices are drawn up front, in order, from the seed.
    const cycles = Array.from({ length: CYCLES }, (_, i) => {
      const node = nodes[plan() < 0.5 ? 0 : 1]!;
      const two = plan() < 0.5;
      const nets: Pod['nets'] = two ? [{ name: 'blue' }, { name: 'green' }] : [{ name: plan() < 0.5 ? 'blue' : 'green' }];
      // A requested MAC, unique per cycle: in the range (block 96 and up, far from what the nodes lease) or outside it.
      const r = plan();
      if (r < 0.12) nets[0]!.mac = `02:aa:00:00:${hex2(0x0c + (i >> 8))}:${hex2(i)}`;
      else if (r < 0.24) nets[nets.length - 1]!.mac = `02:bb:00:00:${hex2(i >> 8)}:${hex2(i)}`;
      const keep = plan() < 0.25;
      const end = plan();
      return { i, node, nets, keep, podGone: end < 0.15, netnsGone: end >= 0.15 && end < 0.25 };
    });

    const faults = injectFaults(w.api, SEED + 1);
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < cycles.length && problems.length < 20) {
          const c = cycles[next++]!;
          const p = await w.pod(c.node, `p${c.i}`, c.nets);
          const t0 = Date.now();
          const a = await w.run('ADD', p.node, p.env);
          addMs.push(Date.now() - t0);
          if (a.status === 0) {
            addOk++;
            if (c.keep) {
              alive.push(p);
              continue;
            }
          } else {
            const key = codeOf(a) === 11 ? '11' : delegateError(a) ? `delegate ${codeOf(a)}` : `other ${codeOf(a)}`;
            addCodes.set(key, (addCodes.get(key) ?? 0) + 1);
            if (!key.startsWith('11') && !key.startsWith('delegate')) problems.push(`cycle ${c.i}: ADD failed with ${why(a)}`);
          }
          // The runtime's DEL: sometimes after the pod object or the netns is gone already.
          if (c.podGone) w.api.remove('Pod', NS, p.name);
          if (c.netnsGone) await w.delNetns(p.netns);
          await del(p, `cycle ${c.i}`);
        }
      }),
    );
    const injected = faults.hits();
    w.api.clearFaults();
    t.diagnostic(
      `chaos phase: ${w.api.requests.length} API requests (${w.api.requests.filter((r) => r.method !== 'GET').length} writes); ` +
        `ADD ms p50 ${pct(addMs, 0.5)} p90 ${pct(addMs, 0.9)} max ${pct(addMs, 1)}, DEL ms p50 ${pct(delMs, 0.5)} p90 ${pct(delMs, 0.9)} max ${pct(delMs, 1)}`,
    );
    assert.deepEqual(problems, [], `seed ${SEED}`);
    for (const k of FAULT_KINDS) assert.ok(injected[k] > 0, `seed ${SEED}: some ${k} faults were injected`);

    // Afterwards: a CNI GC on each node listing the live sandboxes, then `macmux ledger sync`.
    for (const n of nodes) {
      const valid = alive.filter((p) => p.node === n).map((p) => ({ containerID: p.cid, ifname: 'eth0' }));
      const g = await w.run('GC', n, { CNI_PATH: PLUGIN_DIR }, { 'cni.dev/valid-attachments': valid });
      assert.equal(g.status, 0, `seed ${SEED}: GC on ${n.name}: ${why(g)}`);
      const s = await cliAsync(['ledger', 'sync', '--config', n.conflist, '-o', 'json']);
      assert.equal(s.status, 0, `seed ${SEED}: ledger sync on ${n.name}: ${s.stdout} ${s.stderr}`);
      assert.deepEqual(cacheEntries(n).sort(), valid.map((v) => v.containerID).sort(), `seed ${SEED}: ${n.name} caches exactly its live sandboxes`);
    }

    async function verify(what: string): Promise<void> {
      const c = w.census();
      assert.deepEqual(c.damaged, [], `${what}: every ledger value decodes`);
      assert.deepEqual(c.duplicates.map((d) => `${d.mac}: ${d.holders.map((h) => `${h.owner}@${h.cm}`).join(' ')}`), [], `${what}: no MAC held by two owners`);
      // No leak: a holding not released belongs to a live pod, at its home, and is the MAC in that pod's netns.
      const liveOwners = new Map<string, Pod>();
      for (const p of alive) for (const n of p.nets) liveOwners.set(ownerOf(p, n.name), p);
      const leaks = c.entries.filter((e) => e.state !== 'released' && !liveOwners.has(e.owner)).map((e) => `${e.mac} ${e.state} for ${e.owner} in ${e.cm}`);
      assert.deepEqual(leaks, [], `${what}: no MAC held for a pod that is gone`);
      const seen = new Map<string, string>();
      for (const [owner, p] of liveOwners) {
        const nad = owner.split('/')[2]!;
        const mac = (await w.links(p.netns))?.get(deviceName(nad));
        const wanted = p.nets.find((n) => n.name === nad)!.mac;
        assert.ok(mac, `${what}: ${owner} has its interface`);
        if (wanted) assert.equal(mac, wanted, `${what}: ${owner} got the MAC it asked for`);
        assert.equal(seen.get(mac), undefined, `${what}: ${mac} is in two pods (${seen.get(mac)} and ${owner})`);
        seen.set(mac, owner);
        const held = c.entries.filter((e) => e.mac === mac && e.state !== 'released');
        assert.deepEqual(held.map((e) => [e.owner, e.state, e.atHome]), [[owner, 'active', true]], `${what}: ${mac} is held at its home for ${owner} only`);
      }
      for (const n of nodes) {
        const j = journal(n);
        assert.deepEqual(j.intents, [], `${what}: ${n.name} has no allocation intent left`);
        const pending = Object.entries(j.entries).filter(([, e]) => e.pendingRelease || (e.state !== 'released' && !liveOwners.has(e.owner)));
        assert.deepEqual(pending, [], `${what}: ${n.name}'s journal holds only live pods' MACs, nothing pending`);
      }
    }
    await verify(`seed ${SEED}, after the chaos`);

    // Then every pod goes: nothing held any more but released MACs in their grace period, no link, no cache.
    for (const p of alive.splice(0)) await del(p, 'teardown');
    for (const n of nodes) {
      const g = await w.run('GC', n, { CNI_PATH: PLUGIN_DIR }, { 'cni.dev/valid-attachments': [] });
      assert.equal(g.status, 0, `GC on ${n.name}: ${why(g)}`);
      const s = await cliAsync(['ledger', 'sync', '--config', n.conflist, '-o', 'json']);
      assert.equal(s.status, 0, `ledger sync on ${n.name}: ${s.stderr}`);
      assert.deepEqual(cacheEntries(n), [], `${n.name}: no cache entry left`);
    }
    assert.deepEqual(problems, [], `seed ${SEED}`);
    await verify(`seed ${SEED}, after DELing everything`);
    assert.deepEqual(await w.leftLinks(), [], 'no link left in any netns');
    const c = w.census();
    assert.ok(c.entries.length > 0 && c.entries.every((e) => e.state === 'released' && e.live), 'every MAC is released, within its grace period');

    const failed = [...addCodes].map(([k, n]) => `${k}: ${n}`).join(', ') || 'none';
    const summary =
      `chaos: seed ${SEED}, ${CYCLES} cycles on 2 nodes, ${CONCURRENCY} at a time; ADD ok ${addOk}, failed ${CYCLES - addOk} (${failed}); ` +
      `DEL ${dels}, all ok; faults ${FAULT_KINDS.map((k) => `${k} ${injected[k]}`).join(', ')} (${faults.stalls()} stalls past the budget, ${faults.lost()} answers lost after a write); ${((Date.now() - started) / 1000).toFixed(1)} s`;
    console.log(summary);
  });
  it('a ledger write applied whose answer was lost (its retry meets 409 or AlreadyExists): the ADD keeps the MAC it wrote, no second one is held', async (t) => {
    const w = await World.create(t);
    const node = w.node('node-a');
    let posts = 0;
    let puts = 0;
    // The creation of the ConfigMap of the node's first block (the second POST, after the pool's), then its first update.
    const lost = w.api.fault({
      match: (r) => r.path.includes('/configmaps') && ((r.method === 'POST' && ++posts === 2) || (r.method === 'PUT' && r.path.endsWith('/macmux-ledger-node-a.b0') && ++puts === 1)),
      dropAnswer: true,
    });
    const pods: Pod[] = [];
    for (const name of ['lost1', 'lost2']) {
      const p = await w.pod(node, name, [{ name: 'blue' }]);
      const a = await w.run('ADD', node, p.env);
      assert.equal(a.status, 0, why(a));
      pods.push(p);
    }
    assert.equal(lost.hits, 2, 'both answers were lost');
    for (const p of pods) {
      const mac = (await w.links(p.netns))?.get(deviceName('blue'));
      const held = w.census().entries.filter((e) => e.owner === ownerOf(p, 'blue')).map((e) => [e.mac, e.state]);
      assert.deepEqual(held, [[mac, 'active']], `${p.name}: one MAC held, the one in its netns`);
    }
    for (const p of pods) assert.equal((await w.run('DEL', node, p.env)).status, 0);
    assert.deepEqual(w.census().entries.filter((e) => e.state !== 'released').map((e) => `${e.mac} ${e.owner}`), [], 'nothing held after DEL');
  });
});
