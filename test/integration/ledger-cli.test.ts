// Integration: `macmux ledger list|show|release|gc|sync` run as subprocesses of the built executable against the
// API test server, on ledger ConfigMaps made by real plugin ADDs and DELs (macvlan secondaries in network
// namespaces) or put directly; asserts the JSON printed, the exit codes, and what the server holds afterwards.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startApiServer, type ApiServer } from '../apiserver/server';
import { PLUGIN_DIR, cliAsync, cniAsync, type RunResult } from './harness';
import { decodeHolding, type Holding } from '../../src/mac/holding';

const exec = promisify(execFile);
const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
const MACNS = 'kube-system';
const POOL = 'macmux-pool';
const RANGE = { rangeStart: '02:aa:00:00:00:00', rangeEnd: '02:aa:00:00:0f:ff', blockSize: 32 };
const RESERVED_KEYS = new Set(['RANGE_START', 'RANGE_END', 'BLOCK_SIZE', 'LEASES']);
const PID = process.pid % 100000;
const macKey = (mac: string) => mac.replace(/:/g, '');
const keyMac = (key: string) => key.replace(/(..)(?!$)/g, '$1:');


const cli = cliAsync;

/** Runs a CLI command that must succeed and print JSON; returns it parsed. */
async function cliJson<T>(args: string[]): Promise<T> {
  const r = await cli([...args, '-o', 'json']);
  assert.equal(r.status, 0, `macmux ${args.join(' ')}: status ${r.status}: ${r.stderr}${r.stdout}`);
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`macmux ${args.join(' ')} printed non-JSON: ${JSON.stringify(r.stdout)}`);
  }
}

const why = (r: { status: number; stdout: string; stderr: string }) => `status ${r.status}: ${r.stdout} ${r.stderr}`;

interface Listed {
  mac: string;
  owner: string;
  state: string;
  node: string;
  since: number;
  configMap: string;
  live: boolean;
  atHome: boolean;
}

interface HistoryLine {
  time: string;
  mac: string;
  owner: string;
  event: string;
  containerID?: string;
  node: string;
  force?: boolean;
}

interface Shown {
  mac: string;
  home: string | null;
  holding: Listed | null;
  leftovers: Listed[];
  journal: { file: string; node: string; readable: boolean; entry: { owner: string; state: string; containerID: string; pendingRelease?: boolean } | null };
  history: { source: string; file: string; records: HistoryLine[] };
}

interface SimNode {
  name: string;
  cacheDir: string;
  /** The installed conflist for this node (what --config reads). */
  conflist: string;
  conf: Record<string, unknown>;
  journal(): { entries: Record<string, { owner: string; state: string; containerID: string; pendingRelease?: boolean }> };
  history(): HistoryLine[];
}

interface PodRun {
  namespace: string;
  name: string;
  cid: string;
  netns: string;
  node: SimNode;
  env: Record<string, string>;
}

/** One test's world: an API server, a temp dir, a host bridge, network namespaces; removed by t.after. */
class World {
  private static seq = 0;
  readonly dir = mkdtempSync(join(tmpdir(), 'macmux-ledger-cli-'));
  readonly lan = `mmc${PID}x${World.seq++}`.slice(0, 15);
  private readonly netnsNames: string[] = [];
  private n = 0;
  private constructor(readonly api: ApiServer) {}

  static async create(t: TestContext, nads: string[]): Promise<World> {
    const w = new World(await startApiServer());
    t.after(() => w.cleanup());
    await exec('ip', ['link', 'add', w.lan, 'type', 'bridge']);
    await exec('ip', ['link', 'set', w.lan, 'up']);
    w.api.put({ kind: 'Namespace', metadata: { name: 't' } });
    for (const name of nads) {
      w.api.put({
        apiVersion: 'k8s.cni.cncf.io/v1',
        kind: 'NetworkAttachmentDefinition',
        metadata: { name, namespace: 't' },
        spec: { config: JSON.stringify({ cniVersion: '1.0.0', name, type: 'macvlan', master: w.lan, mode: 'bridge', capabilities: { mac: true } }) },
      });
    }
    return w;
  }

  node(name: string, extra: Record<string, unknown> = {}): SimNode {
    const cacheDir = join(this.dir, name);
    const conf = {
      type: 'macmux',
      cacheDir,
      kubeconfig: this.api.kubeconfig,
      nodeName: name,
      macPool: RANGE,
      macGracePeriod: 600,
      delegates: [{ name: 'lo', type: 'loopback', cniVersion: '1.0.0' }],
      ...extra,
    };
    const conflist = join(this.dir, `${name}.conflist`);
    writeFileSync(conflist, JSON.stringify({ cniVersion: '1.0.0', name: 'macmux', plugins: [conf] }));
    return {
      name,
      cacheDir,
      conflist,
      conf: { cniVersion: '1.0.0', name: 'macmux', ...conf },
      journal: () => JSON.parse(readFileSync(join(cacheDir, 'ledger', 'journal.json'), 'utf8')) as ReturnType<SimNode['journal']>,
      history: () => {
        const f = join(cacheDir, 'ledger', 'history.jsonl');
        return existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as HistoryLine) : [];
      },
    };
  }

  /** Creates the pod object, a netns and sandbox ID, and ADDs it (must succeed). */
  async addPod(node: SimNode, name: string, nets: Array<{ name: string; mac?: string }>): Promise<PodRun> {
    this.api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 't', annotations: { [NETWORKS]: JSON.stringify(nets) } } });
    const netns = `mmc-${PID}-${this.n++}`;
    await exec('ip', ['netns', 'add', netns]);
    this.netnsNames.push(netns);
    const cid = `c${PID}y${this.n++}`;
    const env = {
      CNI_CONTAINERID: cid,
      CNI_NETNS: `/run/netns/${netns}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: PLUGIN_DIR,
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=t;K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=${cid}`,
    };
    const p = { namespace: 't', name, cid, netns, node, env };
    const r = await cniAsync('ADD', node.conf, env);
    assert.equal(r.status, 0, `ADD ${name}: ${why(r)}`);
    return p;
  }

  async del(p: PodRun): Promise<RunResult> {
    return cniAsync('DEL', p.node.conf, p.env);
  }

  /** Every holding in the ledger ConfigMaps, as the server holds them. */
  holdings(): Array<{ cm: string; mac: string; h: Holding }> {
    const out: Array<{ cm: string; mac: string; h: Holding }> = [];
    for (const cm of this.api.list('ConfigMap', MACNS) as unknown as Array<{ metadata: { name: string }; data?: Record<string, string> }>) {
      if (!cm.metadata.name.startsWith('macmux-')) continue;
      for (const [k, v] of Object.entries(cm.data ?? {})) {
        if (RESERVED_KEYS.has(k)) continue;
        out.push({ cm: cm.metadata.name, mac: keyMac(k), h: decodeHolding(v)! });
      }
    }
    return out.sort((a, b) => a.mac.localeCompare(b.mac) || a.cm.localeCompare(b.cm));
  }

  /** The holdings of `owner` (one per ConfigMap). */
  of(owner: string): Array<{ cm: string; mac: string; h: Holding }> {
    return this.holdings().filter((x) => x.h.owner === owner);
  }

  cmData(name: string): Record<string, string> {
    return ((this.api.get('ConfigMap', MACNS, name) as unknown as { data?: Record<string, string> } | undefined)?.data) ?? {};
  }

  putCmData(name: string, data: Record<string, string>): void {
    const cm = this.api.get('ConfigMap', MACNS, name) as unknown as Record<string, unknown>;
    this.api.put({ ...cm, data } as never);
  }

  async cleanup(): Promise<void> {
    this.api.clearFaults();
    for (const n of this.netnsNames) await exec('ip', ['netns', 'del', n]).catch(() => undefined);
    await exec('ip', ['link', 'del', this.lan]).catch(() => undefined);
    await this.api.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('macmux ledger', () => {
  it('--help works for ledger and each of its commands', async () => {
    for (const args of [['ledger'], ['ledger', 'list'], ['ledger', 'show'], ['ledger', 'release'], ['ledger', 'gc'], ['ledger', 'sync'], ['ledger', 'migrate']]) {
      const r = await cli([...args, '--help']);
      assert.equal(r.status, 0, `${args.join(' ')} --help: ${why(r)}`);
      assert.match(r.stdout, new RegExp(`^Usage: macmux ${args.join(' ')}`), r.stdout);
      if (args.length > 1) {
        for (const flag of ['--config', '--kubeconfig', '--namespace', '--node', '--output', 'Exit codes']) assert.ok(r.stdout.includes(flag), `${args.join(' ')} --help mentions ${flag}`);
      }
    }
    assert.match((await cli(['ledger', 'release', '--help'])).stdout, /--force/);
    assert.match((await cli(['ledger', 'gc', '--help'])).stdout, /--dry-run/);
    assert.match((await cli(['ledger', 'migrate', '--help'])).stdout, /--dry-run/);
    for (const sub of ['list', 'show', 'release', 'gc', 'sync', 'migrate']) assert.match((await cli(['ledger', '--help'])).stdout, new RegExp(`\\b${sub}\\b`));
    // Usage errors are exit 2: no subcommand, a missing argument, an unknown option.
    for (const args of [['ledger'], ['ledger', 'show'], ['ledger', 'list', '--bogus']]) {
      const r = await cli(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${why(r)}`);
    }
  });

  it('list shows every holding (with --node), show gives home, holding, leftovers, journal and history; usage and not-found exit codes', async (t) => {
    const w = await World.create(t, ['blue', 'green']);
    const a = w.node('node-a');
    const b = w.node('node-b');
    const p1 = await w.addPod(a, 'p1', [{ name: 'blue' }, { name: 'green' }]);
    await w.addPod(b, 'p2', [{ name: 'blue' }]);
    const claimed = '02:bb:00:00:00:07';
    await w.addPod(b, 'p3', [{ name: 'blue', mac: claimed }]);

    // list: exactly what the server holds, all at home and live.
    const all = await cliJson<Listed[]>(['ledger', 'list', '--config', a.conflist]);
    const held = w.holdings();
    assert.equal(held.length, 4);
    assert.deepEqual(
      all.map((x) => [x.mac, x.owner, x.state, x.node, x.configMap, x.live, x.atHome]).sort(),
      held.map((x) => [x.mac, x.h.owner, x.h.state, x.h.node, x.cm, true, true]).sort(),
    );
    for (const x of all) assert.equal(x.since, held.find((h) => h.mac === x.mac)!.h.since);
    assert.deepEqual(new Set(all.map((x) => x.configMap)), new Set(['macmux-ledger-node-a', 'macmux-ledger-node-b', all.find((x) => x.mac === claimed)!.configMap]));
    assert.match(all.find((x) => x.mac === claimed)!.configMap, /^macmux-claims-[0-9a-f]{2}$/);
    const onlyB = await cliJson<Listed[]>(['ledger', 'list', '--config', a.conflist, '--node', 'node-b']);
    assert.deepEqual(onlyB.map((x) => x.owner).sort(), ['t/p2/blue', 't/p3/blue']);
    assert.deepEqual(await cliJson<Listed[]>(['ledger', 'list', '--config', a.conflist, '--node', 'node-z']), []);
    const table = await cli(['ledger', 'list', '--config', a.conflist]);
    assert.equal(table.status, 0, why(table));
    assert.match(table.stdout, /^MAC\s+OWNER\s+STATE\s+NODE\s+SINCE\s+CONFIGMAP\s+LIVE\s+WHERE\n/);
    assert.equal(table.stdout.trim().split('\n').length, 5);

    // A leftover copy in the pool (as left by a claim made before its block was leased) is listed as such.
    const blue1 = w.of('t/p1/blue')[0]!.mac;
    const pool = w.cmData(POOL);
    w.putCmData(POOL, { ...pool, [macKey(blue1)]: `x|t/old/blue|node-b|${Math.floor(Date.now() / 1000) - 10}` });
    const withLeftover = await cliJson<Listed[]>(['ledger', 'list', '--config', a.conflist]);
    const left = withLeftover.filter((x) => x.mac === blue1);
    assert.deepEqual(left.map((x) => [x.configMap, x.owner, x.state, x.atHome, x.live]), [
      ['macmux-ledger-node-a', 't/p1/blue', 'active', true, true],
      [POOL, 't/old/blue', 'released', false, true],
    ]);

    // show, on node-a (its journal and history): the holding at home, the leftover, the journal entry, reserve + activate.
    let s = await cliJson<Shown>(['ledger', 'show', blue1.toUpperCase(), '--config', a.conflist]);
    assert.equal(s.mac, blue1);
    assert.equal(s.home, 'macmux-ledger-node-a');
    assert.deepEqual(s.holding && [s.holding.owner, s.holding.state, s.holding.node, s.holding.configMap], ['t/p1/blue', 'active', 'node-a', 'macmux-ledger-node-a']);
    assert.deepEqual(s.leftovers.map((l) => [l.configMap, l.owner]), [[POOL, 't/old/blue']]);
    assert.deepEqual(s.journal.entry && [s.journal.readable, s.journal.entry.owner, s.journal.entry.state, s.journal.entry.containerID], [true, 't/p1/blue', 'active', p1.cid]);
    assert.equal(s.history.file, join(a.cacheDir, 'ledger', 'history.jsonl'));
    assert.match(s.history.source, /this node/);
    assert.deepEqual(s.history.records.map((r) => [r.event, r.owner, r.node, r.containerID]), [
      ['reserve', 't/p1/blue', 'node-a', p1.cid],
      ['activate', 't/p1/blue', 'node-a', p1.cid],
    ]);
    assert.ok(s.history.records.every((r) => !Number.isNaN(Date.parse(r.time))));

    // After DEL: released at home, and the release is in the history.
    const d = await w.del(p1);
    assert.equal(d.status, 0, why(d));
    s = await cliJson<Shown>(['ledger', 'show', blue1, '--config', a.conflist]);
    assert.deepEqual(s.holding && [s.holding.owner, s.holding.state, s.holding.live], ['t/p1/blue', 'released', true]);
    assert.deepEqual(s.history.records.map((r) => r.event), ['reserve', 'activate', 'release']);
    assert.equal(s.journal.entry?.state, 'released');
    // The history file holds green's changes too, one JSON line each.
    assert.deepEqual(a.history().map((r) => `${r.event} ${r.owner}`).sort(), ['activate t/p1/blue', 'activate t/p1/green', 'release t/p1/blue', 'release t/p1/green', 'reserve t/p1/blue', 'reserve t/p1/green']);

    // From node-b's config: the same cluster view, but node-b's journal and history know nothing of it.
    const fromB = await cliJson<Shown>(['ledger', 'show', blue1, '--config', b.conflist]);
    assert.deepEqual([fromB.holding?.state, fromB.journal.entry, fromB.history.records], ['released', null, []]);
    const text = await cli(['ledger', 'show', blue1, '--config', a.conflist]);
    assert.equal(text.status, 0, why(text));
    assert.match(text.stdout, /home\s+macmux-ledger-node-a/);
    assert.match(text.stdout, /reserve/);

    // Exit codes: a bad MAC is usage (2) naming it; a MAC nobody recorded is not found (3).
    const bad = await cli(['ledger', 'show', 'not-a-mac', '--config', a.conflist]);
    assert.equal(bad.status, 2, why(bad));
    assert.match(bad.stderr, /not-a-mac/);
    const unknown = await cli(['ledger', 'show', '02:aa:00:00:0f:00', '--config', a.conflist]);
    assert.equal(unknown.status, 3, why(unknown));
    assert.match(unknown.stderr, /02:aa:00:00:0f:00/);
    assert.equal((await cli(['ledger', 'release', '02:aa:00:00:0f:00', '--config', a.conflist])).status, 3);
    assert.equal((await cli(['ledger', 'release', 'zz:zz', '--config', a.conflist])).status, 2);
    const missing = await cli(['ledger', 'list', '--config', join(w.dir, 'nope.conflist')]);
    assert.equal(missing.status, 2, why(missing));
    assert.match(missing.stderr, /--config/);
    const badOut = await cli(['ledger', 'list', '--config', a.conflist, '-o', 'yaml']);
    assert.equal(badOut.status, 2, why(badOut));
  });

  it('release is refused while the pod exists, --force frees it; gc --dry-run changes nothing, gc releases only holdings of deleted pods', async (t) => {
    const w = await World.create(t, ['blue']);
    const a = w.node('node-a');
    for (const name of ['p1', 'p2', 'p3', 'p4']) await w.addPod(a, name, [{ name: 'blue' }]);
    const macOf = (pod: string) => w.of(`t/${pod}/blue`)[0]!.mac;
    const [m1, m2, m3, m4] = ['p1', 'p2', 'p3', 'p4'].map(macOf) as [string, string, string, string];
    const home = 'macmux-ledger-node-a';

    // p1's pod exists: refused (exit 1), the message suggests --force, nothing written.
    const before = w.cmData(home);
    const refused = await cli(['ledger', 'release', m1, '--config', a.conflist]);
    assert.equal(refused.status, 1, why(refused));
    assert.match(refused.stderr, /t\/p1/);
    assert.match(refused.stderr, /--force/);
    assert.deepEqual(w.cmData(home), before);

    // --force: released and free at once (no record left at its home), recorded in the history as forced.
    const forced = await cliJson<{ mac: string; owner: string; pod: string; result: string; configMaps: string[] }>(['ledger', 'release', m1, '--force', '--config', a.conflist]);
    assert.deepEqual([forced.mac, forced.owner, forced.pod, forced.result, forced.configMaps], [m1, 't/p1/blue', 'exists', 'freed', [home]]);
    assert.equal(w.cmData(home)[macKey(m1)], undefined);
    assert.deepEqual(w.of('t/p1/blue'), []);
    const last = a.history().at(-1)!;
    assert.deepEqual([last.event, last.mac, last.owner, last.node, last.force], ['operator-release', m1, 't/p1/blue', 'node-a', true]);

    // p2's pod is deleted: release without --force works and keeps the grace period (released, same owner).
    w.api.remove('Pod', 't', 'p2');
    const rel = await cliJson<{ pod: string; result: string }>(['ledger', 'release', m2, '--config', a.conflist]);
    assert.deepEqual([rel.pod, rel.result], ['gone', 'released']);
    assert.deepEqual(w.of('t/p2/blue').map((x) => [x.cm, x.h.state]), [[home, 'released']]);
    const again = await cliJson<{ result: string }>(['ledger', 'release', m2, '--config', a.conflist]);
    assert.equal(again.result, 'already-released');

    // gc: p3's pod is deleted, p4's exists. --dry-run lists p3's MAC only and writes nothing.
    w.api.remove('Pod', 't', 'p3');
    const snapshot = JSON.stringify(w.holdings());
    const dry = await cliJson<Array<{ mac: string; owner: string; action: string; configMap: string }>>(['ledger', 'gc', '--dry-run', '--config', a.conflist]);
    assert.deepEqual(dry.map((x) => [x.mac, x.owner, x.action, x.configMap]), [[m3, 't/p3/blue', 'would-release', home]]);
    assert.equal(JSON.stringify(w.holdings()), snapshot, '--dry-run changed nothing');
    const dryText = await cli(['ledger', 'gc', '--dry-run', '--config', a.conflist]);
    assert.match(dryText.stdout, /would be released/);

    const done = await cliJson<Array<{ mac: string; action: string }>>(['ledger', 'gc', '--config', a.conflist]);
    assert.deepEqual(done.map((x) => [x.mac, x.action]), [[m3, 'released']]);
    assert.deepEqual(w.of('t/p3/blue').map((x) => x.h.state), ['released']);
    assert.deepEqual(w.of('t/p4/blue').map((x) => [x.mac, x.h.state]), [[m4, 'active']], "gc left the existing pod's MAC alone");
    assert.deepEqual(w.of('t/p2/blue').map((x) => x.h.state), ['released']);
    assert.equal(a.history().filter((r) => r.event === 'operator-release' && r.mac === m3).length, 1);
    assert.deepEqual(await cliJson<unknown[]>(['ledger', 'gc', '--config', a.conflist]), [], 'nothing left to collect');
  });

  it('after release --force lets another owner take the MAC, the old owner\'s next sandbox gets a new MAC instead of failing', async (t) => {
    const w = await World.create(t, ['blue']);
    const a = w.node('node-a');
    const b = w.node('node-b');
    const first = await w.addPod(a, 'p1', [{ name: 'blue' }]);
    const [m] = w.of('t/p1/blue').map((x) => x.mac) as [string];
    await cliJson(['ledger', 'release', m, '--force', '--config', a.conflist]);
    assert.equal((await w.del(first)).status, 0);
    assert.equal(a.journal().entries[m]?.owner, 't/p1/blue', "node-a's journal still remembers p1's MAC");
    // Another pod on another node asks for that very MAC and gets it.
    await w.addPod(b, 'q', [{ name: 'blue', mac: m }]);
    assert.deepEqual(w.of('t/q/blue').map((x) => [x.mac, x.h.state]), [[m, 'active']]);
    // p1 comes back on node-a: its old MAC is taken, so it gets another one (the ADD must not fail with code 100).
    await w.addPod(a, 'p1', [{ name: 'blue' }]);
    const now = w.of('t/p1/blue').filter((x) => x.h.state === 'active');
    assert.equal(now.length, 1);
    assert.notEqual(now[0]!.mac, m);
    assert.deepEqual(w.of('t/q/blue').map((x) => [x.mac, x.h.state]), [[m, 'active']], "q keeps its MAC");
    assert.notEqual(a.journal().entries[m]?.owner, 't/p1/blue', 'the stale journal entry is gone');
  });

  it('sync pushes a release deferred while the API was down; API unreachable is exit 4', async (t) => {
    const w = await World.create(t, ['blue']);
    const a = w.node('node-a', { timeBudget: { del: 2 } });
    const p = await w.addPod(a, 'p', [{ name: 'blue' }]);
    const mac = w.of('t/p/blue')[0]!.mac;

    const down = w.api.fault({ match: /./, status: 503, message: 'injected outage' });
    const d = await w.del(p);
    assert.equal(d.status, 0, why(d));
    assert.ok(down.hits > 0);
    assert.deepEqual([a.journal().entries[mac]?.state, a.journal().entries[mac]?.pendingRelease], ['released', true]);
    assert.deepEqual(w.of('t/p/blue').map((x) => x.h.state), ['active'], 'the cluster still counts it held');

    // With the API down, the commands give up with exit 4 and say what to check; the release stays pending.
    for (const args of [['ledger', 'list'], ['ledger', 'sync']]) {
      const r = await cli([...args, '--config', a.conflist, '--timeout', '1']);
      assert.equal(r.status, 4, `${args.join(' ')}: ${why(r)}`);
      assert.match(r.stderr, /unreachable.*--kubeconfig/);
    }
    assert.equal(a.journal().entries[mac]?.pendingRelease, true);

    down.cancel();
    const synced = await cliJson<{ node: string; changes: Array<{ change: string; mac?: string; owner: string; containerID: string }> }>(['ledger', 'sync', '--config', a.conflist]);
    assert.equal(synced.node, 'node-a');
    assert.deepEqual(synced.changes, [{ change: 'pushed', owner: 't/p/blue', mac, containerID: p.cid }]);
    assert.deepEqual(w.of('t/p/blue').map((x) => [x.h.state, x.h.node]), [['released', 'node-a']], 'the release reached the cluster');
    assert.equal(a.journal().entries[mac]?.pendingRelease, undefined);
    assert.deepEqual(a.history().map((r) => r.event), ['reserve', 'activate', 'release', 'sync-release']);
    assert.deepEqual((await cliJson<{ changes: unknown[] }>(['ledger', 'sync', '--config', a.conflist])).changes, []);
    const text = await cli(['ledger', 'sync', '--config', a.conflist]);
    assert.match(text.stdout, /nothing to sync/);

    // A node whose state dir does not exist here (the command run off the node): not found, saying where to run it.
    const elsewhere = await cli(['ledger', 'sync', '--config', w.node('node-q').conflist]);
    assert.equal(elsewhere.status, 3, why(elsewhere));
    assert.match(elsewhere.stderr, /run `\/opt\/cni\/bin\/macmux ledger sync` on that node/);
    // No credentials in the config and no --kubeconfig: usage, naming --kubeconfig.
    const noCreds = w.node('node-n', { kubeconfig: undefined });
    const r = await cli(['ledger', 'list', '--config', noCreds.conflist]);
    assert.equal(r.status, 2, why(r));
    assert.match(r.stderr, /--kubeconfig/);
    // --kubeconfig wins over the config's.
    const viaFlag = await cliJson<Listed[]>(['ledger', 'list', '--config', noCreds.conflist, '--kubeconfig', w.api.kubeconfig]);
    assert.deepEqual(viaFlag.map((x) => [x.mac, x.state]), [[mac, 'released']]);
  });

  it('migrate moves every block of a legacy-layout ledger into a ConfigMap of its own (--dry-run changes nothing, a second run nothing more); ADDs then write there', async (t) => {
    const w = await World.create(t, ['blue']);
    const a = w.node('node-a');
    const since = Math.floor(Date.now() / 1000) - 100;
    const put = (name: string, kind: string, data: Record<string, string>) =>
      w.api.put({ kind: 'ConfigMap', metadata: { name, namespace: MACNS, labels: { 'macmux.io/ledger': kind } }, data } as never);
    // As releases before 15 left it: blocks 0 and 2 leased to node-a, block 1 to node-b, one ConfigMap per node.
    put(POOL, 'pool', { RANGE_START: RANGE.rangeStart, RANGE_END: RANGE.rangeEnd, BLOCK_SIZE: '32', LEASES: '{"0":"node-a","1":"node-b","2":"node-a"}' });
    const legacyA = { '02aa00000001': `a|t/old1/blue|node-a|${since}`, '02aa00000002': `x|t/old2/blue|node-a|${since}`, '02aa00000041': `a|t/old3/blue|node-a|${since}` };
    const legacyB = { '02aa00000021': `a|t/old4/blue|node-b|${since}` };
    put('macmux-ledger-node-a', 'node', legacyA);
    put('macmux-ledger-node-b', 'node', legacyB);

    const dry = await cliJson<Array<{ block: number; node: string; from: string; to: string; holdings: number; action: string }>>(['ledger', 'migrate', '--dry-run', '--config', a.conflist]);
    assert.deepEqual(dry.map((r) => [r.block, r.node, r.from, r.to, r.holdings, r.action]), [
      [0, 'node-a', 'macmux-ledger-node-a', 'macmux-ledger-node-a.b0', 2, 'would-migrate'],
      [1, 'node-b', 'macmux-ledger-node-b', 'macmux-ledger-node-b.b1', 1, 'would-migrate'],
      [2, 'node-a', 'macmux-ledger-node-a', 'macmux-ledger-node-a.b2', 1, 'would-migrate'],
    ]);
    const dryText = await cli(['ledger', 'migrate', '--dry-run', '--config', a.conflist]);
    assert.match(dryText.stdout, /3 block\(s\) would be moved .*once every node runs macmux/);
    assert.deepEqual(w.cmData('macmux-ledger-node-a'), legacyA);
    assert.equal(w.api.get('ConfigMap', MACNS, 'macmux-ledger-node-a.b0'), undefined);

    const done = await cliJson<Array<{ block: number; action: string }>>(['ledger', 'migrate', '--config', a.conflist]);
    assert.deepEqual(done.map((r) => [r.block, r.action]), [[0, 'migrated'], [1, 'migrated'], [2, 'migrated']]);
    assert.deepEqual(JSON.parse(w.cmData(POOL).LEASES!), { 0: 'node-a.b0', 1: 'node-b.b1', 2: 'node-a.b2' });
    assert.deepEqual(w.cmData('macmux-ledger-node-a.b0'), { '02aa00000001': legacyA['02aa00000001'], '02aa00000002': legacyA['02aa00000002'] });
    assert.deepEqual(w.cmData('macmux-ledger-node-a.b2'), { '02aa00000041': legacyA['02aa00000041'] });
    assert.deepEqual(w.cmData('macmux-ledger-node-b.b1'), legacyB);
    const label = (name: string) => (w.api.get('ConfigMap', MACNS, name) as unknown as { metadata: { labels?: Record<string, string> } }).metadata.labels?.['macmux.io/ledger'];
    for (const b of ['node-a.b0', 'node-a.b2', 'node-b.b1']) assert.equal(label(`macmux-ledger-${b}`), 'block');
    // The legacy ledgers stay, with their markers only.
    assert.deepEqual(w.cmData('macmux-ledger-node-a'), { 'moved.b0': 'macmux-ledger-node-a.b0', 'moved.b2': 'macmux-ledger-node-a.b2' });
    assert.deepEqual(w.cmData('macmux-ledger-node-b'), { 'moved.b1': 'macmux-ledger-node-b.b1' });

    assert.deepEqual(await cliJson<unknown[]>(['ledger', 'migrate', '--config', a.conflist]), []);
    assert.match((await cli(['ledger', 'migrate', '--config', a.conflist])).stdout, /^nothing to migrate/);
    // list reads the new layout: every holding at its home, no marker taken for one.
    const all = await cliJson<Listed[]>(['ledger', 'list', '--config', a.conflist]);
    assert.deepEqual(all.map((x) => [x.mac, x.configMap, x.atHome]), [
      ['02:aa:00:00:00:01', 'macmux-ledger-node-a.b0', true],
      ['02:aa:00:00:00:02', 'macmux-ledger-node-a.b0', true],
      ['02:aa:00:00:00:21', 'macmux-ledger-node-b.b1', true],
      ['02:aa:00:00:00:41', 'macmux-ledger-node-a.b2', true],
    ]);
    // A pod's requested MAC in a migrated block of another node is recorded in that block's ConfigMap.
    await w.addPod(a, 'p1', [{ name: 'blue', mac: '02:aa:00:00:00:22' }]);
    assert.match(w.cmData('macmux-ledger-node-b.b1')['02aa00000022'] ?? '', /^a\|t\/p1\/blue\|node-a\|/);
    assert.deepEqual(Object.keys(w.cmData('macmux-ledger-node-b')), ['moved.b1']);
    // Without a pool there is nothing to migrate: not found.
    assert.equal((await cli(['ledger', 'migrate', '--config', a.conflist, '--namespace', 'elsewhere'])).status, 3);
  });
});
