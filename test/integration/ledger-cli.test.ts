// Integration: `macmux ledger list|show|release|gc|sync` run as subprocesses of the built executable against the
// API test server, on ledger ConfigMaps made by real plugin ADDs and DELs (macvlan secondaries in network
// namespaces) or put directly; asserts the JSON printed, the exit codes, and what the server holds afterwards.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliAsync } from './harness';
import { indexKey } from '../../src/mac/owners';
import { MACNS, POOL, RANGE, blockCm, macKey, why, World, type PodRun, type SimNode } from './world';

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

/** A node of the ledger world with its conflist installed (what --config reads) and its history file. */
interface CliNode extends SimNode {
  conflist: string;
  history(): HistoryLine[];
}

/** The ledger world (world.ts) with a host bridge and namespace `t` holding a macvlan NAD per name in `nads`. */
async function world(t: Parameters<typeof World.create>[0], nads: string[]): Promise<World> {
  const w = await World.create(t);
  const lan = w.bridge('c');
  await w.makeBridges();
  w.namespace('t');
  for (const name of nads) w.nad('t', name, lan);
  return w;
}

/** A node with a 600 s grace period, and its conflist written as `macmux install` would. */
function cliNode(w: World, name: string, extra: Record<string, unknown> = {}): CliNode {
  const n = w.node(name, { macGracePeriod: 600, ...extra });
  const { cniVersion: _v, name: _n, ...plugin } = n.conf();
  const conflist = join(w.dir, `${name}.conflist`);
  writeFileSync(conflist, JSON.stringify({ cniVersion: '1.0.0', name: 'macmux', plugins: [plugin] }));
  return {
    ...n,
    conflist,
    history: () => {
      const f = join(n.cacheDir, 'ledger', 'history.jsonl');
      return existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as HistoryLine) : [];
    },
  };
}

/** Creates pod `t/<name>` with a netns and sandbox ID, and ADDs it (must succeed). */
async function addPod(w: World, node: CliNode, name: string, nets: Array<{ name: string; mac?: string }>): Promise<PodRun> {
  const p = await w.pod(node, 't', name, nets);
  const r = await w.add(p);
  assert.equal(r.status, 0, `ADD ${name}: ${why(r)}`);
  return p;
}

/** The holdings of `owner` in the ledger ConfigMaps (one per ConfigMap that records it). */
const of = (w: World, owner: string) => w.holdings().filter((x) => x.h.owner === owner);

const putCmData = (w: World, name: string, data: Record<string, string>) => {
  const cm = w.api.get('ConfigMap', MACNS, name) as unknown as Record<string, unknown>;
  w.api.put({ ...cm, data } as never);
};

/** The owner-index objects (label `macmux.io/ledger-index`) by name, with their data. */
const indexObjects = (w: World) =>
  Object.fromEntries(
    (w.api.list('ConfigMap', MACNS) as unknown as Array<{ metadata: { name: string; labels?: Record<string, string> }; data?: Record<string, string> }>)
      .filter((cm) => cm.metadata.labels?.['macmux.io/ledger-index'] === 'owners')
      .map((cm) => [cm.metadata.name, cm.data ?? {}]),
  );

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
    const w = await world(t, ['blue', 'green']);
    const a = cliNode(w, 'node-a');
    const b = cliNode(w, 'node-b');
    const p1 = await addPod(w, a, 'p1', [{ name: 'blue' }, { name: 'green' }]);
    await addPod(w, b, 'p2', [{ name: 'blue' }]);
    const claimed = '02:bb:00:00:00:07';
    await addPod(w, b, 'p3', [{ name: 'blue', mac: claimed }]);

    // list: exactly what the server holds, all at home and live.
    const all = await cliJson<Listed[]>(['ledger', 'list', '--config', a.conflist]);
    const held = w.holdings();
    assert.equal(held.length, 4);
    assert.deepEqual(
      all.map((x) => [x.mac, x.owner, x.state, x.node, x.configMap, x.live, x.atHome]).sort(),
      held.map((x) => [x.mac, x.h.owner, x.h.state, x.h.node, x.cm, true, true]).sort(),
    );
    for (const x of all) assert.equal(x.since, held.find((h) => h.mac === x.mac)!.h.since);
    // node-a leased block 0 and node-b block 1, each its own ConfigMap; the MAC outside the range is in its claims shard.
    assert.deepEqual(w.leases(), { 0: 'node-a.b0', 1: 'node-b.b1' });
    const [homeA, homeB] = [blockCm('node-a', 0), blockCm('node-b', 1)];
    assert.deepEqual(new Set(all.map((x) => x.configMap)), new Set([homeA, homeB, all.find((x) => x.mac === claimed)!.configMap]));
    assert.match(all.find((x) => x.mac === claimed)!.configMap, /^macmux-claims-[0-9a-f]{2}$/);
    const onlyB = await cliJson<Listed[]>(['ledger', 'list', '--config', a.conflist, '--node', 'node-b']);
    assert.deepEqual(onlyB.map((x) => x.owner).sort(), ['t/p2/blue', 't/p3/blue']);
    assert.deepEqual(await cliJson<Listed[]>(['ledger', 'list', '--config', a.conflist, '--node', 'node-z']), []);
    const table = await cli(['ledger', 'list', '--config', a.conflist]);
    assert.equal(table.status, 0, why(table));
    assert.match(table.stdout, /^MAC\s+OWNER\s+STATE\s+NODE\s+SINCE\s+CONFIGMAP\s+LIVE\s+WHERE\n/);
    assert.equal(table.stdout.trim().split('\n').length, 5);

    // A leftover copy in the pool (as left by a claim made before its block was leased) is listed as such.
    const blue1 = of(w, 't/p1/blue')[0]!.mac;
    const pool = w.cmData(POOL);
    putCmData(w, POOL, { ...pool, [macKey(blue1)]: `x|t/old/blue|node-b|${Math.floor(Date.now() / 1000) - 10}` });
    const withLeftover = await cliJson<Listed[]>(['ledger', 'list', '--config', a.conflist]);
    const left = withLeftover.filter((x) => x.mac === blue1);
    assert.deepEqual(left.map((x) => [x.configMap, x.owner, x.state, x.atHome, x.live]), [
      [homeA, 't/p1/blue', 'active', true, true],
      [POOL, 't/old/blue', 'released', false, true],
    ]);

    // show, on node-a (its journal and history): the holding at home, the leftover, the journal entry, reserve + activate.
    let s = await cliJson<Shown>(['ledger', 'show', blue1.toUpperCase(), '--config', a.conflist]);
    assert.equal(s.mac, blue1);
    assert.equal(s.home, homeA);
    assert.deepEqual(s.holding && [s.holding.owner, s.holding.state, s.holding.node, s.holding.configMap], ['t/p1/blue', 'active', 'node-a', homeA]);
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
    assert.match(text.stdout, /home\s+macmux-ledger-node-a\.b0\n/);
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
    const w = await world(t, ['blue']);
    const a = cliNode(w, 'node-a');
    for (const name of ['p1', 'p2', 'p3', 'p4']) await addPod(w, a, name, [{ name: 'blue' }]);
    const macOf = (pod: string) => of(w, `t/${pod}/blue`)[0]!.mac;
    const [m1, m2, m3, m4] = ['p1', 'p2', 'p3', 'p4'].map(macOf) as [string, string, string, string];
    const home = blockCm('node-a', 0);

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
    assert.deepEqual(of(w, 't/p1/blue'), []);
    const last = a.history().at(-1)!;
    assert.deepEqual([last.event, last.mac, last.owner, last.node, last.force], ['operator-release', m1, 't/p1/blue', 'node-a', true]);
    assert.deepEqual(indexObjects(w), {}, 'a MAC freed at once is kept for nobody: no owner-index entry');

    // p2's pod is deleted: release without --force works and keeps the grace period (released, same owner).
    w.api.remove('Pod', 't', 'p2');
    const rel = await cliJson<{ pod: string; result: string }>(['ledger', 'release', m2, '--config', a.conflist]);
    assert.deepEqual([rel.pod, rel.result], ['gone', 'released']);
    assert.deepEqual(of(w, 't/p2/blue').map((x) => [x.cm, x.h.state]), [[home, 'released']]);
    // ... and points the owner index at it, as a DEL's release does, so that p2 re-created on any node gets it back.
    const e2 = w.ownerEntry('t/p2/blue');
    assert.deepEqual(e2 && [e2.mac, e2.key], [m2, 't/p2/blue'], "p2's owner-index entry");
    assert.ok(Math.abs(e2!.since - Date.now() / 1000) < 60, `released now: ${e2!.since}`);
    assert.deepEqual(Object.keys(indexObjects(w)), [indexKey('t/p2/blue').name], "one owner-index object, p2's");
    const again = await cliJson<{ result: string }>(['ledger', 'release', m2, '--config', a.conflist]);
    assert.equal(again.result, 'already-released');

    // An owner-index object whose entry's grace period (600 s) ended long ago, and whose node never deleted
    // it (its journal was lost): gc's to delete. p2's, in its grace period, is not.
    const expired = indexKey('t/gone/blue');
    const expiredMac = '02:aa:00:00:0f:f0';
    const expiredData = { [createHash('sha256').update(expired.key).digest('hex').slice(0, 32)]: `${expiredMac}|${Math.floor(Date.now() / 1000) - 700}|${expired.key}` };
    w.api.put({ kind: 'ConfigMap', metadata: { name: expired.name, namespace: MACNS, labels: { 'macmux.io/ledger-index': 'owners' } }, data: expiredData } as never);

    // gc: p3's pod is deleted, p4's exists. --dry-run lists p3's MAC only and writes nothing.
    w.api.remove('Pod', 't', 'p3');
    const snapshot = JSON.stringify([w.holdings(), indexObjects(w)]);
    const dry = await cliJson<Array<{ mac: string; owner: string; action: string; configMap: string }>>(['ledger', 'gc', '--dry-run', '--config', a.conflist]);
    assert.deepEqual(dry.map((x) => [x.mac, x.owner, x.action, x.configMap]), [[m3, 't/p3/blue', 'would-release', home]]);
    assert.equal(JSON.stringify([w.holdings(), indexObjects(w)]), snapshot, '--dry-run changed nothing, in the ledger or the owner index');
    const dryText = await cli(['ledger', 'gc', '--dry-run', '--config', a.conflist]);
    assert.match(dryText.stdout, /would be released/);
    assert.match(dryText.stdout, /1 expired owner-index object\(s\) would be deleted/);

    const done = await cliJson<Array<{ mac: string; action: string }>>(['ledger', 'gc', '--config', a.conflist]);
    assert.deepEqual(done.map((x) => [x.mac, x.action]), [[m3, 'released']]);
    assert.deepEqual(of(w, 't/p3/blue').map((x) => x.h.state), ['released']);
    assert.deepEqual(of(w, 't/p4/blue').map((x) => [x.mac, x.h.state]), [[m4, 'active']], "gc left the existing pod's MAC alone");
    assert.deepEqual(of(w, 't/p2/blue').map((x) => x.h.state), ['released']);
    assert.equal(a.history().filter((r) => r.event === 'operator-release' && r.mac === m3).length, 1);
    // The expired owner-index object is gone; p2's is kept as it was, and p3's release is indexed too.
    const index = indexObjects(w);
    assert.deepEqual(Object.keys(index).sort(), [indexKey('t/p2/blue').name, indexKey('t/p3/blue').name].sort(), 'the expired object deleted, the live ones kept');
    assert.deepEqual(w.ownerEntry('t/p2/blue'), e2);
    assert.equal(w.ownerEntry('t/p3/blue')?.mac, m3);
    assert.deepEqual(await cliJson<unknown[]>(['ledger', 'gc', '--config', a.conflist]), [], 'nothing left to collect');
    assert.deepEqual(Object.keys(indexObjects(w)).sort(), Object.keys(index).sort(), 'a second gc deletes no live index object');
  });

  it('after release --force lets another owner take the MAC, the old owner\'s next sandbox gets a new MAC instead of failing', async (t) => {
    const w = await world(t, ['blue']);
    const a = cliNode(w, 'node-a');
    const b = cliNode(w, 'node-b');
    const first = await addPod(w, a, 'p1', [{ name: 'blue' }]);
    const [m] = of(w, 't/p1/blue').map((x) => x.mac) as [string];
    await cliJson(['ledger', 'release', m, '--force', '--config', a.conflist]);
    assert.equal((await w.del(first)).status, 0);
    assert.equal(a.journal().entries[m]?.owner, 't/p1/blue', "node-a's journal still remembers p1's MAC");
    // Another pod on another node asks for that very MAC and gets it.
    await addPod(w, b, 'q', [{ name: 'blue', mac: m }]);
    assert.deepEqual(of(w, 't/q/blue').map((x) => [x.mac, x.h.state]), [[m, 'active']]);
    // p1 comes back on node-a: its old MAC is taken, so it gets another one (the ADD must not fail with code 100).
    await addPod(w, a, 'p1', [{ name: 'blue' }]);
    const now = of(w, 't/p1/blue').filter((x) => x.h.state === 'active');
    assert.equal(now.length, 1);
    assert.notEqual(now[0]!.mac, m);
    assert.deepEqual(of(w, 't/q/blue').map((x) => [x.mac, x.h.state]), [[m, 'active']], "q keeps its MAC");
    assert.notEqual(a.journal().entries[m]?.owner, 't/p1/blue', 'the stale journal entry is gone');
  });

  it('sync pushes a release deferred while the API was down; API unreachable is exit 4', async (t) => {
    const w = await world(t, ['blue']);
    const a = cliNode(w, 'node-a', { timeBudget: { del: 2 } });
    const p = await addPod(w, a, 'p', [{ name: 'blue' }]);
    const mac = of(w, 't/p/blue')[0]!.mac;

    const down = w.api.fault({ match: /./, status: 503, message: 'injected outage' });
    const d = await w.del(p);
    assert.equal(d.status, 0, why(d));
    assert.ok(down.hits > 0);
    assert.deepEqual([a.journal().entries[mac]?.state, a.journal().entries[mac]?.pendingRelease], ['released', true]);
    assert.deepEqual(of(w, 't/p/blue').map((x) => x.h.state), ['active'], 'the cluster still counts it held');

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
    assert.deepEqual(of(w, 't/p/blue').map((x) => [x.h.state, x.h.node]), [['released', 'node-a']], 'the release reached the cluster');
    assert.equal(a.journal().entries[mac]?.pendingRelease, undefined);
    assert.deepEqual(a.history().map((r) => r.event), ['reserve', 'activate', 'release', 'sync-release']);
    assert.deepEqual((await cliJson<{ changes: unknown[] }>(['ledger', 'sync', '--config', a.conflist])).changes, []);
    const text = await cli(['ledger', 'sync', '--config', a.conflist]);
    assert.match(text.stdout, /nothing to sync/);

    // A node whose state dir does not exist here (the command run off the node): not found, saying where to run it.
    const elsewhere = await cli(['ledger', 'sync', '--config', cliNode(w, 'node-q').conflist]);
    assert.equal(elsewhere.status, 3, why(elsewhere));
    assert.match(elsewhere.stderr, /run `\/opt\/cni\/bin\/macmux ledger sync` on that node/);
    // No credentials in the config and no --kubeconfig: usage, naming --kubeconfig.
    const noCreds = cliNode(w, 'node-n', { kubeconfig: undefined });
    const r = await cli(['ledger', 'list', '--config', noCreds.conflist]);
    assert.equal(r.status, 2, why(r));
    assert.match(r.stderr, /--kubeconfig/);
    // --kubeconfig wins over the config's.
    const viaFlag = await cliJson<Listed[]>(['ledger', 'list', '--config', noCreds.conflist, '--kubeconfig', w.api.kubeconfig]);
    assert.deepEqual(viaFlag.map((x) => [x.mac, x.state]), [[mac, 'released']]);
  });

  it('migrate moves every block of a legacy-layout ledger into a ConfigMap of its own (--dry-run changes nothing, a second run nothing more); ADDs then write there', async (t) => {
    const w = await world(t, ['blue']);
    const a = cliNode(w, 'node-a');
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
    await addPod(w, a, 'p1', [{ name: 'blue', mac: '02:aa:00:00:00:22' }]);
    assert.match(w.cmData('macmux-ledger-node-b.b1')['02aa00000022'] ?? '', /^a\|t\/p1\/blue\|node-a\|/);
    assert.deepEqual(Object.keys(w.cmData('macmux-ledger-node-b')), ['moved.b1']);
    // Without a pool there is nothing to migrate: not found.
    assert.equal((await cli(['ledger', 'migrate', '--config', a.conflist, '--namespace', 'elsewhere'])).status, 3);
  });
});
