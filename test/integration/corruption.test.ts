// Integration: crash consistency (multus issue 1087). A cache entry or the MAC journal truncated or
// corrupted by hand; the next invocation must say so in the log, move the file aside to *.corrupt-<time>,
// recover what it can from the config, the pod and the ledger ConfigMaps, and never exit 0 while the
// delegates' DEL was skipped. Real macmux, real delegates (bridge, macvlan, host-local) in real network
// namespaces, the API test server.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startApiServer, type ApiServer } from '../apiserver/server';
import { PLUGIN_DIR, Sandbox, cniAsync, linkNames, links, sh, type RunResult } from './harness';
import { decodeHolding, type Holding } from '../../src/mac/holding';
import { deviceName } from '../../src/util/names';

const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
const MACNS = 'kube-system';
const NS = 'crash';
const RANGE = { rangeStart: '02:ac:00:00:00:00', rangeEnd: '02:ac:00:00:0f:ff', blockSize: 32 };
const RESERVED_KEYS = new Set(['RANGE_START', 'RANGE_END', 'BLOCK_SIZE', 'LEASES']);
const BLUE = deviceName('blue');
const GREEN = deviceName('green');
const why = (r: RunResult) => `status ${r.status}: ${r.stdout} ${r.stderr}`;

/** Ways a file gets damaged: cut short by a crash or a full disk, zeroed by a filesystem, edited by hand. */
const DAMAGE = {
  truncated: (text: string) => text.slice(0, Math.floor(text.length / 2)),
  empty: () => '',
  zeroed: (text: string) => '\0'.repeat(text.length),
  wrongShape: () => '{"format":1,"containerID":42}',
};

interface Pod {
  name: string;
  uid: string;
  cid: string;
  sb: Sandbox;
  env: Record<string, string>;
}

/** One test's world: an API server, a node (cacheDir, log), a host bridge for macvlan, a netns per pod; removed by t.after. */
class World {
  readonly main: Sandbox;
  readonly lan: string;
  readonly cacheDir: string;
  readonly logFile: string;
  private readonly sandboxes: Sandbox[] = [];
  private seq = 0;

  private constructor(readonly api: ApiServer, t: TestContext) {
    this.main = this.sandbox(t);
    this.lan = this.main.bridge('l');
    this.cacheDir = this.main.cacheDir;
    this.logFile = join(this.main.dir, 'macmux.log');
  }

  static async create(t: TestContext): Promise<World> {
    const api = await startApiServer();
    t.after(() => api.stop());
    const w = new World(api, t);
    api.put({ kind: 'Namespace', metadata: { name: NS } });
    for (const [name, subnet] of [['blue', '10.231.0.0/24'], ['green', '10.232.0.0/24']] as const) {
      api.put({
        apiVersion: 'k8s.cni.cncf.io/v1',
        kind: 'NetworkAttachmentDefinition',
        metadata: { name, namespace: NS },
        spec: {
          config: JSON.stringify({ cniVersion: '1.0.0', name, type: 'macvlan', master: w.lan, mode: 'bridge', capabilities: { mac: true }, ipam: { type: 'host-local', subnet, dataDir: w.main.ipamDir } }),
        },
      });
    }
    return w;
  }

  private sandbox(t: TestContext): Sandbox {
    const sb = new Sandbox();
    this.sandboxes.push(sb);
    t.after(() => sb.cleanup());
    return sb;
  }

  /** The node's macmux config (1.1.0 for GC; the delegates say 1.0.0): eth0 on a bridge with host-local, the ledger on. */
  conf(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      cniVersion: '1.1.0',
      name: 'macmux',
      type: 'macmux',
      cacheDir: this.cacheDir,
      kubeconfig: this.api.kubeconfig,
      nodeName: 'node-c',
      macPool: RANGE,
      timeBudget: { del: 2, gc: 2 },
      delegates: [
        {
          name: 'cluster',
          cniVersion: '1.0.0',
          type: 'bridge',
          bridge: this.main.bridgeName('c'),
          ipam: { type: 'host-local', subnet: '10.230.0.0/24', dataDir: this.main.ipamDir },
        },
      ],
      ...extra,
    };
  }

  /** A pod object with these networks, its own netns and sandbox ID (not added). */
  pod(t: TestContext, nets: Array<{ name: string; mac?: string }>): Pod {
    const name = `pod${this.seq++}`;
    const uid = this.api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS, annotations: { [NETWORKS]: JSON.stringify(nets) } } }).metadata!.uid!;
    const sb = this.sandboxes.length === 1 && this.seq === 1 ? this.main : this.sandbox(t);
    const cid = `crash${process.pid % 10000}x${this.seq}`;
    const env = {
      ...sb.env(cid),
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${NS};K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=${cid};K8S_POD_UID=${uid}`,
      _CNI_LOGGING_FILE: this.logFile,
      _CNI_LOGGING_LEVEL: '2',
    };
    return { name, uid, cid, sb, env };
  }

  run(command: string, p: Pod, conf = this.conf()): Promise<RunResult> {
    return cniAsync(command, conf, p.env);
  }

  async added(t: TestContext, nets: Array<{ name: string; mac?: string }> = [{ name: 'blue' }, { name: 'green' }]): Promise<Pod> {
    const p = this.pod(t, nets);
    const r = await this.run('ADD', p);
    assert.equal(r.status, 0, `ADD: ${why(r)}`);
    assert.deepEqual(linkNames(p.sb.ns), ['eth0', ...nets.map((n) => deviceName(n.name)), 'lo'].sort(), 'ADD made every interface');
    return p;
  }

  cachePath(p: Pod): string {
    return join(this.cacheDir, 'cache', p.cid);
  }

  damage(path: string, how: keyof typeof DAMAGE): void {
    writeFileSync(path, DAMAGE[how](readFileSync(path, 'utf8')));
  }

  /** Files in cache/ named after the container and set aside: pending (<id>.corrupt-<time>) and recovered. */
  asides(p: Pod): { pending: string[]; recovered: string[] } {
    const names = readdirSync(join(this.cacheDir, 'cache')).filter((n) => n.startsWith(`${p.cid}.corrupt-`));
    return { pending: names.filter((n) => /\.corrupt-[0-9TZ-]+$/.test(n)), recovered: names.filter((n) => n.endsWith('.recovered')) };
  }

  /** Log lines (all of them, or those after `from`). */
  log(from = 0): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8').slice(from) : '';
  }

  logSize(): number {
    return this.log().length;
  }

  /** The pod's holdings in the ledger ConfigMaps: [mac, state]. */
  holdings(p: Pod): Array<[string, Holding['state']]> {
    const out: Array<[string, Holding['state']]> = [];
    for (const cm of this.api.list('ConfigMap', MACNS) as unknown as Array<{ metadata: { name: string }; data?: Record<string, string> }>) {
      for (const [k, v] of Object.entries(cm.data ?? {})) {
        if (RESERVED_KEYS.has(k)) continue;
        const h = decodeHolding(v);
        if (h?.owner.startsWith(`${NS}/${p.name}/`)) out.push([k.replace(/(..)(?!$)/g, '$1:'), h.state]);
      }
    }
    return out.sort();
  }

  /** host-local leases of every network (files named after addresses) held for this container. */
  leases(p: Pod): string[] {
    const dir = this.main.ipamDir;
    if (!existsSync(dir)) return [];
    return readdirSync(dir).flatMap((net) =>
      readdirSync(join(dir, net))
        .filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f) && readFileSync(join(dir, net, f), 'utf8').startsWith(p.cid))
        .map((f) => `${net}/${f}`),
    );
  }
}

const macsIn = (p: Pod) => new Map(links(p.sb.ns).map((l) => [l.ifname, l.address]));

/** Asserts the log reports the damage of the pod's entry and where it went. */
function assertReported(w: World, p: Pod, from: number): void {
  const log = w.log(from);
  assert.match(log, new RegExp(`error .*cache entry \\S*${p.cid} is damaged \\(.+\\); moved aside to \\S*${p.cid}\\.corrupt-`), `the log reports the damage:\n${log}`);
}

function assertError(r: RunResult, code: number, ...fragments: string[]): void {
  assert.equal(r.status, 1, why(r));
  assert.equal(r.json.code, code, why(r));
  for (const f of fragments) assert.ok(String(r.json.msg).includes(f), `${JSON.stringify(r.json.msg)} should mention ${f}`);
}

describe('crash consistency: a damaged cache entry', () => {
  for (const how of ['truncated', 'zeroed', 'wrongShape'] as const) {
    it(`DEL with a ${how} entry, API up: rebuilt from the config and the pod's annotations and NADs, every delegate's DEL runs, the pod's MACs are released`, async (t) => {
      const w = await World.create(t);
      const p = await w.added(t);
      const macs = macsIn(p);
      assert.deepEqual(w.holdings(p), [[macs.get(BLUE)!, 'active'], [macs.get(GREEN)!, 'active']].sort());
      assert.equal(w.leases(p).length, 3, 'eth0, blue and green have an address');

      w.damage(w.cachePath(p), how);
      const mark = w.logSize();
      const d = await w.run('DEL', p);
      assert.equal(d.status, 0, why(d));
      assert.deepEqual(linkNames(p.sb.ns), ['lo'], 'every interface was deleted');
      assert.deepEqual(w.leases(p), [], 'every IPAM lease was released');
      assert.deepEqual(w.holdings(p), [[macs.get(BLUE)!, 'released'], [macs.get(GREEN)!, 'released']].sort(), 'the MACs are released in the ConfigMaps');
      assertReported(w, p, mark);
      assert.match(w.log(mark), /recovered from the damaged cache entry .*: 3 attachment\(s\) deleted, 2 MAC\(s\) released/);
      const aside = w.asides(p);
      assert.deepEqual(aside.pending, [], 'nothing pending');
      assert.equal(aside.recovered.length, 1, 'the damaged file is kept, marked recovered');
      assert.ok(!existsSync(w.cachePath(p)));

      // The runtime's DEL again: nothing left to do, success.
      const again = await w.run('DEL', p);
      assert.equal(again.status, 0, why(again));
    });
  }

  it('DEL with a damaged entry, API down: code 11 naming the file, the secondaries are left (not claimed gone); once the API answers, DEL deletes them', async (t) => {
    const w = await World.create(t);
    const p = await w.added(t);
    const macs = macsIn(p);
    w.damage(w.cachePath(p), 'truncated');
    const down = w.api.fault({ match: /./, status: 503, message: 'injected outage' });
    const mark = w.logSize();
    const d = await w.run('DEL', p);
    assertError(d, 11, 'damaged', `${p.cid}.corrupt-`, 'cannot be rebuilt', 'unreachable');
    assert.ok(down.hits > 0);
    assertReported(w, p, mark);
    assert.deepEqual(linkNames(p.sb.ns), [BLUE, GREEN, 'lo'].sort(), "only the config's network (eth0) was deleted; the pod's are still there");
    assert.deepEqual(w.holdings(p).map((h) => h[1]), ['active', 'active'], 'no MAC released while its interface may exist');
    assert.equal(w.asides(p).pending.length, 1, 'the damaged file is set aside, pending');

    // The runtime retries: still down, still 11 (the aside is found again: no silent success).
    assertError(await w.run('DEL', p), 11, `${p.cid}.corrupt-`);
    down.cancel();
    const ok = await w.run('DEL', p);
    assert.equal(ok.status, 0, why(ok));
    assert.deepEqual(linkNames(p.sb.ns), ['lo']);
    assert.deepEqual(w.leases(p), []);
    assert.deepEqual(w.holdings(p), [[macs.get(BLUE)!, 'released'], [macs.get(GREEN)!, 'released']].sort());
    assert.deepEqual(w.asides(p).pending, []);
  });

  it('DEL with a damaged entry of a pod that is gone: code 5 naming the file on every retry, until an operator cleans up and deletes it', async (t) => {
    const w = await World.create(t);
    const p = await w.added(t);
    const macs = macsIn(p);
    w.damage(w.cachePath(p), 'zeroed');
    w.api.remove('Pod', NS, p.name);
    for (let i = 0; i < 2; i++) {
      const d = await w.run('DEL', p);
      assertError(d, 5, 'damaged', `${p.cid}.corrupt-`, 'not found', 'remove what is left of them by hand');
      assert.deepEqual(linkNames(p.sb.ns), [BLUE, GREEN, 'lo'].sort(), 'the secondaries are not claimed deleted');
      assert.deepEqual(w.holdings(p).map((h) => h[1]), ['active', 'active']);
    }
    // The operator follows the message: the interfaces by hand, then the file.
    for (const dev of [BLUE, GREEN]) sh('ip', ['-n', p.sb.ns, 'link', 'del', dev]);
    const pending = w.asides(p).pending;
    assert.equal(pending.length, 1);
    rmSync(join(w.cacheDir, 'cache', pending[0]!));
    const d = await w.run('DEL', p);
    assert.equal(d.status, 0, why(d));
    assert.deepEqual(linkNames(p.sb.ns), ['lo']);
    assert.deepEqual(w.holdings(p), [[macs.get(BLUE)!, 'released'], [macs.get(GREEN)!, 'released']].sort(), 'the MACs the journal gave the container are released');
  });

  it('DEL with a damaged entry and a static-only config (no API): rebuilt from the config alone, every delegate deleted', async (t) => {
    const w = await World.create(t);
    const p = w.pod(t, []);
    const conf = w.conf({
      kubeconfig: undefined,
      macPool: undefined,
      delegates: [
        ...(w.conf().delegates as unknown[]),
        { name: 'green', cniVersion: '1.0.0', type: 'macvlan', master: w.lan, mode: 'bridge', ipam: { type: 'host-local', subnet: '10.232.0.0/24', dataDir: w.main.ipamDir } },
        { name: 'blue', cniVersion: '1.0.0', type: 'macvlan', master: w.lan, mode: 'bridge', ipam: { type: 'host-local', subnet: '10.231.0.0/24', dataDir: w.main.ipamDir } },
      ],
    });
    const a = await w.run('ADD', p, conf);
    assert.equal(a.status, 0, why(a));
    assert.deepEqual(linkNames(p.sb.ns), ['eth0', BLUE, GREEN, 'lo'].sort());
    w.damage(w.cachePath(p), 'empty');
    const mark = w.logSize();
    const d = await w.run('DEL', p, conf);
    assert.equal(d.status, 0, why(d));
    assert.deepEqual(linkNames(p.sb.ns), ['lo']);
    assert.deepEqual(w.leases(p), []);
    assertReported(w, p, mark);
    assert.equal(w.asides(p).recovered.length, 1);
  });

  it('CHECK with a damaged entry: code 5 naming the file (the results to check against are lost); the DEL after recovers', async (t) => {
    const w = await World.create(t);
    const p = await w.added(t);
    w.damage(w.cachePath(p), 'truncated');
    const mark = w.logSize();
    const c = await w.run('CHECK', p);
    assertError(c, 5, 'damaged', `${p.cid}.corrupt-`, 'cannot be checked');
    assertReported(w, p, mark);
    assert.deepEqual(linkNames(p.sb.ns), ['eth0', BLUE, GREEN, 'lo'].sort(), 'CHECK changes nothing in the pod');
    assertError(await w.run('CHECK', p), 5, `${p.cid}.corrupt-`);
    const d = await w.run('DEL', p);
    assert.equal(d.status, 0, why(d));
    assert.deepEqual(linkNames(p.sb.ns), ['lo']);
    assert.deepEqual(w.holdings(p).map((h) => h[1]), ['released', 'released']);
  });

  it('GC: a damaged entry of a listed container is set aside and left for its DEL (its networks kept); a stale one is recovered from the journal, the pod and the config', async (t) => {
    const w = await World.create(t);
    const live = await w.added(t);
    const stale = await w.added(t, [{ name: 'green' }]);
    const staleMacs = macsIn(stale);
    w.damage(w.cachePath(live), 'truncated');
    w.damage(w.cachePath(stale), 'wrongShape');
    stale.sb.deleteNetns(); // as the runtime does before it forgets a sandbox
    const mark = w.logSize();
    const g = await cniAsync('GC', { ...w.conf(), 'cni.dev/valid-attachments': [{ containerID: live.cid, ifname: 'eth0' }] }, { CNI_PATH: PLUGIN_DIR, _CNI_LOGGING_FILE: w.logFile, _CNI_LOGGING_LEVEL: '2' });
    assert.equal(g.status, 0, why(g));
    assertReported(w, live, mark);
    assertReported(w, stale, mark);
    // The listed one: untouched, its IPs kept (the delegates' GC was told eth0 is in use), pending for its DEL.
    assert.deepEqual(linkNames(live.sb.ns), ['eth0', BLUE, GREEN, 'lo'].sort());
    assert.equal(w.leases(live).length, 3);
    assert.equal(w.asides(live).pending.length, 1);
    assert.deepEqual(w.holdings(live).map((h) => h[1]), ['active', 'active']);
    // The stale one: its leases and MACs released, the aside recovered.
    assert.deepEqual(w.leases(stale), [], "the stale container's IPAM leases are released");
    assert.deepEqual(w.holdings(stale), [[staleMacs.get(GREEN)!, 'released']]);
    assert.deepEqual(w.asides(stale), { pending: [], recovered: w.asides(stale).recovered });
    assert.equal(w.asides(stale).recovered.length, 1);
    // The listed container's DEL then recovers too.
    const d = await w.run('DEL', live);
    assert.equal(d.status, 0, why(d));
    assert.deepEqual(linkNames(live.sb.ns), ['lo']);
    assert.deepEqual(w.leases(live), []);
  });

  it("hot-plug DEL (K8S_POD_NETWORK) with a damaged entry: code 5 naming the file, never \"not attached\"; the pod's DEL then recovers", async (t) => {
    const w = await World.create(t);
    const p = await w.added(t);
    w.damage(w.cachePath(p), 'truncated');
    const mark = w.logSize();
    const r = await cniAsync('DEL', w.conf(), { ...p.env, CNI_ARGS: `${p.env.CNI_ARGS};K8S_POD_NETWORK=blue` });
    assertError(r, 5, 'hot-plug DEL of blue', `${p.cid}.corrupt-`, 'attachment is unknown');
    assertReported(w, p, mark);
    assert.deepEqual(linkNames(p.sb.ns), ['eth0', BLUE, GREEN, 'lo'].sort(), 'nothing deleted');
    const d = await w.run('DEL', p);
    assert.equal(d.status, 0, why(d));
    assert.deepEqual(linkNames(p.sb.ns), ['lo']);
    assert.deepEqual(w.holdings(p).map((h) => h[1]), ['released', 'released']);
  });

  it('ADD finding a damaged leftover entry of its container: set aside, its attachments deleted first, the ADD succeeds with the same MACs', async (t) => {
    const w = await World.create(t);
    const p = await w.added(t);
    const macs = macsIn(p);
    w.damage(w.cachePath(p), 'truncated');
    const mark = w.logSize();
    const a = await w.run('ADD', p);
    assert.equal(a.status, 0, why(a));
    assertReported(w, p, mark);
    assert.match(w.log(mark), /deleting this ADD's 3 attachment\(s\) first/);
    assert.deepEqual(linkNames(p.sb.ns), ['eth0', BLUE, GREEN, 'lo'].sort());
    const now = macsIn(p);
    assert.deepEqual([now.get(BLUE), now.get(GREEN)], [macs.get(BLUE), macs.get(GREEN)], 'the pod keeps its MACs');
    assert.deepEqual(w.holdings(p).map((h) => h[1]), ['active', 'active']);
    assert.equal(w.leases(p).length, 3, 'one lease per interface, none leaked by the earlier ADD');
    assert.deepEqual(w.asides(p).pending, []);
    const d = await w.run('DEL', p);
    assert.equal(d.status, 0, why(d));
    assert.deepEqual(linkNames(p.sb.ns), ['lo']);
  });
});

describe('crash consistency: a damaged MAC journal', () => {
  for (const how of ['truncated', 'zeroed'] as const) {
    it(`a ${how} journal is moved aside and rebuilt from the cache: no MAC handed out twice, DEL still releases the pod's MACs`, async (t) => {
      const w = await World.create(t);
      const p = await w.added(t);
      const macs = macsIn(p);
      const file = join(w.cacheDir, 'ledger', 'journal.json');
      w.damage(file, how);

      const mark = w.logSize();
      const q = await w.added(t);
      const log = w.log(mark);
      assert.match(log, /error .*MAC ledger \S+journal\.json was damaged \(.+\); moved aside to \S+journal\.json\.corrupt-\S+ and rebuilt from the cache: 2 MAC\(s\)/, log);
      assert.equal(readdirSync(join(w.cacheDir, 'ledger')).filter((f) => f.startsWith('journal.json.corrupt-')).length, 1, 'the damaged journal is kept aside');
      const j = JSON.parse(readFileSync(file, 'utf8')) as { entries: Record<string, { owner: string; state: string; containerID: string }> };
      for (const dev of [BLUE, GREEN]) {
        assert.deepEqual(j.entries[macs.get(dev)!] && [j.entries[macs.get(dev)!]!.state, j.entries[macs.get(dev)!]!.containerID], ['active', p.cid], `the journal knows ${dev} of the first pod again`);
      }
      const qm = macsIn(q);
      for (const dev of [BLUE, GREEN]) assert.ok(![...macs.values()].includes(qm.get(dev)!), `the new pod's ${dev} MAC ${qm.get(dev)} is not one the first pod holds`);

      const d = await w.run('DEL', p);
      assert.equal(d.status, 0, why(d));
      assert.deepEqual(linkNames(p.sb.ns), ['lo']);
      assert.deepEqual(w.holdings(p), [[macs.get(BLUE)!, 'released'], [macs.get(GREEN)!, 'released']].sort());
      assert.deepEqual(w.holdings(q).map((h) => h[1]), ['active', 'active']);
    });
  }
});
