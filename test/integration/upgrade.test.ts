// Integration: a rolling upgrade from the last release (d63e55a, one ledger ConfigMap per node) to this
// one (one per block, the owner index), old and new binaries side by side against one API test server:
// pool and requested MACs created, contested and released on both, pods re-created across nodes, then
// the old node upgraded on its old ledger. After every step no MAC is live twice (census of the ledger
// ConfigMaps, MACs in the netns) and none is lost (every running pod's MAC held at its home for it).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { census } from '../../src/mac/census';
import { previousRelease } from './previous';
import { BINARY } from './harness';
import { MACNS, POOL, assertNothingLeft, blockCm, blockOf, codeOf, ownerOf, why, World, type PodRun, type SimNode } from './world';

/** The last release before the per-block ledger. */
const PREVIOUS = 'd63e55a';
const GRACE = 600;

describe('upgrade from the per-node ledger', () => {
  it(`rolling upgrade from ${PREVIOUS}: old and new nodes share one ledger, requested MACs are contested across them, pods move both ways, the old node's ledger keeps working after its upgrade; nothing duplicated or lost`, async (t) => {
    // Built (or taken from dist/release-<commit>) before the world exists: a missing commit fails here, clearly.
    const OLD = previousRelease(PREVIOUS);
    const w = await World.create(t);
    const lan = w.bridge('l');
    const lan2 = w.bridge('r');
    await w.makeBridges();
    w.namespace('up');
    w.nad('up', 'blue', lan);
    w.nad('up', 'red', lan2);
    const a = w.node('node-a', { macGracePeriod: GRACE });
    a.binary = OLD;
    const b = w.node('node-b', { macGracePeriod: GRACE });
    /** The pods running now (their sandboxes ADDed, not DELed). */
    const running = new Set<PodRun>();

    /** No MAC live twice, in the ledger or in the netns; every running pod's MAC held at its home, active, for its owner and uid; no live holding without a running pod. */
    const sound = async (what: string) => {
      const problems: string[] = [];
      const c = census(w.ledgerCms(), Math.floor(Date.now() / 1000), GRACE);
      for (const d of c.duplicates) problems.push(`DUPLICATE in the ledger: ${d.mac} held by ${d.holders.map((h) => `${h.owner} (${h.cm})`).join(', ')}`);
      for (const d of c.damaged) problems.push(`damaged: ${d}`);
      const inNetns = new Map<string, string[]>();
      const want = new Set<string>();
      for (const p of running) {
        for (const net of p.nets) {
          const owner = ownerOf(p, net.name);
          const mac = await w.macOf(p, net.name);
          if (!mac) {
            problems.push(`${owner}: no interface in ${p.netns}`);
            continue;
          }
          inNetns.set(mac, [...(inNetns.get(mac) ?? []), owner]);
          want.add(`${mac} ${owner}`);
          if (net.mac && mac !== net.mac) problems.push(`${owner}: asked for ${net.mac}, has ${mac}`);
          const h = w.atHome(mac);
          if (h?.state !== 'active' || h.owner !== owner || h.uid !== p.uid || h.node !== p.node.name) problems.push(`LOST: ${owner} on ${p.node.name} has ${mac}, its home ${w.home(mac)} records ${JSON.stringify(h)}`);
        }
      }
      for (const [mac, owners] of inNetns) if (owners.length > 1) problems.push(`DUPLICATE in the netns: ${mac} in ${owners.join(', ')}`);
      for (const e of c.entries) if (e.state !== 'released' && !want.has(`${e.mac} ${e.owner}`)) problems.push(`LEAK: ${e.mac} ${e.state} for ${e.owner} in ${e.cm}, no running pod has it`);
      assert.deepEqual(problems, [], what);
    };

    const start = async (n: SimNode, name: string, nets: PodRun['nets']) => {
      const p = await w.pod(n, 'up', name, nets);
      const r = await w.add(p);
      assert.equal(r.status, 0, `${name} on ${n.name} (${n.binary === OLD ? 'old' : 'new'}): ${why(r)}`);
      running.add(p);
      await sound(`after ADD of ${name} on ${n.name}`);
      return p;
    };
    const stop = async (p: PodRun, remove = false) => {
      const d = await w.del(p);
      assert.equal(d.status, 0, `DEL of ${p.name} on ${p.node.name}: ${why(d)}`);
      running.delete(p);
      if (remove) w.api.remove('Pod', 'up', p.name);
      await sound(`after DEL of ${p.name} on ${p.node.name}`);
    };
    /** `name` on `n` asks for `mac`, held by `holder`: code 100 naming both, nothing left, the holder untouched. */
    const contested = async (n: SimNode, name: string, mac: string, holder: string) => {
      const p = await w.pod(n, 'up', name, [{ name: 'red', mac }]);
      const r = await w.add(p);
      assert.equal(codeOf(r), 100, `${name} on ${n.name} asking for ${mac}: ${why(r)}`);
      for (const part of [mac, holder]) assert.ok(String(r.json.msg).includes(part), `the refusal names ${part}: ${String(r.json.msg)}`);
      await assertNothingLeft(w, p, name);
      w.api.remove('Pod', 'up', name);
      await sound(`after ${name} was refused ${mac}`);
    };
    const macOf = async (p: PodRun) => (await w.macOf(p, p.nets[0]!.name))!;
    const cmLabel = (name: string) => w.ledgerCms().find((c) => c.name === name)?.labels['macmux.io/ledger'];

    // ------------------------------------------------ node-a runs the old release, node-b the new one
    const a1 = await start(a, 'a1', [{ name: 'blue' }]);
    const b1 = await start(b, 'b1', [{ name: 'blue' }]);
    assert.deepEqual(w.leases(), { '0': 'node-a', '1': 'node-b.b1' }, 'the old release leases by node name, the new one by block');
    assert.equal(w.home(await macOf(a1)), 'macmux-ledger-node-a');
    assert.equal(cmLabel('macmux-ledger-node-a'), 'node');
    assert.equal(w.home(await macOf(b1)), blockCm('node-b', 1));
    assert.equal(cmLabel(blockCm('node-b', 1)), 'block');

    // Requested MACs, each on its home whichever release computes it.
    const IN_B = '02:aa:00:00:00:2a'; // block 1, node-b's (new-style), asked on node-a (old)
    const IN_A = '02:aa:00:00:00:1a'; // block 0, node-a's (legacy), asked on node-b (new)
    const FREE_OLD = '02:aa:00:00:0c:85'; // block 100, unleased, asked on node-a: the old release records it in the pool
    const FREE_OLD2 = '02:aa:00:00:0d:c5'; // block 110, the same, left there until after the upgrade
    const FREE_NEW = '02:aa:00:00:0c:a5'; // block 101, unleased, asked on node-b: leased to node-b first
    const OUT_OLD = '02:bb:00:00:00:0a';
    const OUT_NEW = '02:bb:00:00:00:0b';
    const r1 = await start(a, 'r1', [{ name: 'red', mac: IN_B }]);
    assert.equal(w.home(IN_B), blockCm('node-b', 1));
    const r2 = await start(b, 'r2', [{ name: 'red', mac: IN_A }]);
    assert.equal(w.home(IN_A), 'macmux-ledger-node-a');
    const r3 = await start(a, 'r3', [{ name: 'red', mac: FREE_OLD }]);
    const r3b = await start(a, 'r3b', [{ name: 'red', mac: FREE_OLD2 }]);
    assert.deepEqual([w.home(FREE_OLD), w.home(FREE_OLD2)], [POOL, POOL], 'the old release leaves a requested MAC of an unleased block in the pool');
    const r4 = await start(b, 'r4', [{ name: 'red', mac: FREE_NEW }]);
    assert.equal(w.leases()[String(blockOf(FREE_NEW))], 'node-b.b101', 'the new release leases the block of a requested MAC');
    const r5 = await start(a, 'r5', [{ name: 'red', mac: OUT_OLD }]);
    const r6 = await start(b, 'r6', [{ name: 'red', mac: OUT_NEW }]);

    // The same MACs asked for by the other release: code 100 naming the holder, both ways.
    await contested(b, 'c1', IN_B, ownerOf(r1, 'red'));
    await contested(a, 'c2', IN_A, ownerOf(r2, 'red'));
    await contested(a, 'c3', FREE_NEW, ownerOf(r4, 'red'));
    await contested(b, 'c4', OUT_OLD, ownerOf(r5, 'red'));
    await contested(a, 'c5', OUT_NEW, ownerOf(r6, 'red'));
    // The old release's pool leftover, asked for on the new node: its block is leased to node-b, the leftover moves there, and the request is refused.
    await contested(b, 'c6', FREE_OLD, ownerOf(r3, 'red'));
    assert.equal(w.leases()['100'], 'node-b.b100');
    assert.equal(w.home(FREE_OLD), blockCm('node-b', 100));
    assert.deepEqual(w.holdings().filter((x) => x.cm === POOL).map((x) => x.mac), [FREE_OLD2], 'only the untouched leftover is left in the pool');

    // A pod DELed on the new node and re-created on the old one within the grace period: its MAC back (the old release lists the ledger).
    const m1 = await start(b, 'm1', [{ name: 'blue' }]);
    const M1 = await macOf(m1);
    await stop(m1, true);
    const m1a = await start(a, 'm1', [{ name: 'blue' }]);
    assert.equal(await macOf(m1a), M1, 'new to old: the same MAC');
    assert.equal(w.home(M1), blockCm('node-b', 1), "still homed in node-b's block");

    // The other way: the old release's DEL writes no owner index, so the new node cannot find the MAC in one read.
    // It allocates another; the old one stays its owner's for the grace period, taken by nobody else.
    const m2 = await start(a, 'm2', [{ name: 'blue' }]);
    const M2 = await macOf(m2);
    await stop(m2, true);
    const m2b = await start(b, 'm2', [{ name: 'blue' }]);
    const M2b = await macOf(m2b);
    t.diagnostic(`old to new within the grace period: ${M2b === M2 ? 'the same MAC' : `another MAC (${M2b} for ${M2})`}`);
    if (M2b !== M2) assert.deepEqual([w.atHome(M2)?.state, w.atHome(M2)?.owner], ['released', 'up/m2/blue'], 'the old MAC stays its owner\'s for the grace period');

    // A pod DELed by the old release on node-a, re-created there after the upgrade: the new binary takes it back from the journal.
    const j1 = await start(a, 'j1', [{ name: 'blue' }]);
    const J1 = await macOf(j1);
    await stop(j1, true);
    await stop(r3b); // its leftover released in the pool by the old release

    // ------------------------------------------------ node-a upgraded: the new binary on the old cache dir and legacy ledger
    a.binary = BINARY;
    const j1n = await start(a, 'j1', [{ name: 'blue' }]);
    assert.equal(await macOf(j1n), J1, "the journal's released entry: the same MAC");
    assert.equal(w.home(J1), 'macmux-ledger-node-a', 'in the legacy ledger still');

    // New pool MACs come from a new-style block; the legacy lease stays, and stays a home.
    const n1 = await start(a, 'n1', [{ name: 'blue' }]);
    const N1 = await macOf(n1);
    const k = blockOf(N1);
    assert.equal(w.leases()[String(k)], `node-a.b${k}`, 'a block leased new-style');
    assert.equal(w.leases()['0'], 'node-a', 'the legacy lease kept');
    assert.equal(w.home(N1), blockCm('node-a', k));
    await start(a, 'r7', [{ name: 'red', mac: '02:aa:00:00:00:1c' }]);
    assert.equal(w.home('02:aa:00:00:00:1c'), 'macmux-ledger-node-a', 'a requested MAC of the legacy block goes to the legacy ledger');

    // a1 (ADDed by the old release) DELed by the new one: released in the legacy ledger and indexed; re-created on node-b, it gets its MAC back.
    const A1 = await macOf(a1);
    await stop(a1, true);
    assert.deepEqual([w.atHome(A1)?.state, w.atHome(A1)?.owner], ['released', 'up/a1/blue']);
    assert.equal(w.ownerEntry('up/a1/blue')?.mac, A1, 'the new DEL indexed it');
    const a1b = await start(b, 'a1', [{ name: 'blue' }]);
    assert.equal(await macOf(a1b), A1, 'old ledger, new binaries: the same MAC on the other node');

    // The leftover the old release left in the pool (released there): re-asked on the upgraded node, its block is leased and the MAC taken back.
    await start(a, 'r3b', [{ name: 'red', mac: FREE_OLD2 }]);
    assert.equal(w.leases()[String(blockOf(FREE_OLD2))], `node-a.b${blockOf(FREE_OLD2)}`);
    assert.deepEqual(w.holdings().filter((x) => x.cm === POOL), [], 'nothing left in the pool');

    // Every pod the old release ADDed, DELed by the new one on the upgraded node; then everything else.
    for (const p of [r1, r3, r5, m1a]) await stop(p);
    for (const p of [...running]) await stop(p);
    assert.deepEqual(w.holdings().filter((x) => x.h.state !== 'released').map((x) => `${x.mac} ${x.h.owner} ${x.cm}`), [], 'every MAC released');
    t.diagnostic(`leases at the end: ${JSON.stringify(w.leases())}; ConfigMaps: ${w.ledgerCms().map((c) => c.name).join(', ')}; ${w.api.list('ConfigMap', MACNS).length} in all`);
  });
});
