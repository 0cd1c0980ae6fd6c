// Unit tests for src/mac/census.ts: live holdings, duplicates across ConfigMaps, leftovers of one owner, grace, damaged entries and the pool's figures.
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { census, kindOf, nodeShare } from '../../src/mac/census';
import { homesOf, leaseNode } from '../../src/mac/home';
import { encodeHolding, macKey, type Holding } from '../../src/mac/holding';
import { claimsCm, ledgerCm, POOL_CM } from '../../src/mac/home';
import type { Cm } from '../../src/mac/store';

const T = 1_700_000_000;
const GRACE = 600;
const m = (last: number) => `02:00:00:00:00:${last.toString(16).padStart(2, '0')}`;
const OUTSIDE = '02:bb:00:00:00:01';

const h = (state: Holding['state'], owner: string, node: string, since = T - 10): string => encodeHolding({ state, owner, node, since });
const cm = (name: string, entries: Record<string, string>, extra: Record<string, string> = {}): Cm => ({
  name,
  data: { ...extra, ...Object.fromEntries(Object.entries(entries).map(([mac, v]) => [mac.includes(':') ? macKey(mac) : mac, v])) },
});

/** 02:00:00:00:00:00-0f in 4 blocks of 4; block 0 leased by node-a, block 2 by node-b; block 1 and 3 at the pool. */
const pool = (entries: Record<string, string> = {}) =>
  cm(POOL_CM, entries, { RANGE_START: m(0), RANGE_END: m(15), BLOCK_SIZE: '4', LEASES: JSON.stringify({ '0': 'node-a', '2': 'node-b' }) });

function world(): Cm[] {
  return [
    pool({
      // a leftover of the owner who now holds it at its home (node-a's ledger): not a duplicate
      [m(0)]: h('active', 'ns/p1/net1', 'node-a', T - 5000),
      // unleased block 1, at home
      [m(5)]: h('active', 'ns/p5/net1', 'node-b'),
      // a stale leftover released long ago by another owner of a MAC node-b holds: past grace, not live
      [m(8)]: h('released', 'ns/old/net1', 'node-a', T - 5000),
      // held here by p7 while p6 still holds it within its grace period at node-a: a duplicate
      [m(2)]: h('active', 'ns/p7/net1', 'node-b'),
    }),
    cm(ledgerCm('node-a'), {
      [m(0)]: h('active', 'ns/p1/net1', 'node-a'),
      // released past the grace period: free, not live
      [m(1)]: h('released', 'ns/gone/net1', 'node-a', T - GRACE),
      // released within the grace period: still its owner's
      [m(2)]: h('released', 'ns/p6/net1', 'node-a', T - GRACE + 1),
      // a stray copy of a MAC in node-b's block, for another owner: a duplicate
      [m(9)]: h('active', 'ns/p4/net1', 'node-a'),
      zz: h('active', 'ns/x/net1', 'node-a'),
    }),
    cm(ledgerCm('node-b'), {
      [m(8)]: h('active', 'ns/p2/net1', 'node-b'),
      [m(9)]: h('reserved', 'ns/p3/net1', 'node-b'),
      [m(10)]: 'garbage',
    }),
    cm(claimsCm(OUTSIDE), { [OUTSIDE]: h('active', 'ns/p8/net1', 'node-b') }),
  ];
}

test('the pool figures: size of the range, distinct live MACs in it, leased blocks per node', () => {
  const c = census(world(), T, GRACE);
  assert.equal(c.poolSize, 16);
  // 00, 02, 05, 08, 09 are live in the range; 01 is past grace; the claim outside the range does not count.
  assert.equal(c.allocated, 5);
  assert.equal(c.blocksLeased, 2);
  assert.deepEqual(c.leases, { 'node-a': 1, 'node-b': 1 });
  assert.deepEqual(c.spec && [c.spec.start, c.spec.end, c.spec.blockSize], [0x020000000000, 0x02000000000f, 4]);
});

test('duplicates: the same MAC live for two owners in two ConfigMaps, including one still in its grace period', () => {
  const c = census(world(), T, GRACE);
  assert.deepEqual(
    c.duplicates.map((d) => [d.mac, d.holders.map((x) => `${x.owner}@${x.cm}`)]),
    [
      [m(2), ['ns/p6/net1@macmux-ledger-node-a', 'ns/p7/net1@macmux-pool']],
      [m(9), ['ns/p4/net1@macmux-ledger-node-a', 'ns/p3/net1@macmux-ledger-node-b']],
    ],
  );
});

test('one owner in a pool leftover and at its home is not a duplicate; the copy at home is marked atHome', () => {
  const c = census(world(), T, GRACE);
  assert.ok(!c.duplicates.some((d) => d.mac === m(0)));
  const copies = c.entries.filter((e) => e.mac === m(0)).map((e) => [e.cm, e.atHome, e.live]);
  assert.deepEqual(copies, [
    ['macmux-ledger-node-a', true, true],
    ['macmux-pool', false, true],
  ]);
  assert.equal(c.entries.find((e) => e.mac === m(5))?.atHome, true, 'an unleased block is at home in the pool');
  assert.equal(c.entries.find((e) => e.mac === OUTSIDE)?.atHome, true, 'outside the range, at home in its claims shard');
});

test('released past the grace period is not live and makes no duplicate; one second earlier it is live', () => {
  const c = census(world(), T, GRACE);
  const released = c.entries.find((e) => e.mac === m(1))!;
  assert.deepEqual([released.state, released.live], ['released', false]);
  const stale = c.entries.find((e) => e.mac === m(8) && e.cm === POOL_CM)!;
  assert.equal(stale.live, false);
  assert.ok(!c.duplicates.some((d) => d.mac === m(8)), 'a stale leftover of another owner is no duplicate');

  const earlier = census(world(), T - 1, GRACE);
  assert.equal(earlier.entries.find((e) => e.mac === m(1))!.live, true);
  assert.equal(earlier.allocated, 6);
});

test('damaged entries: keys that are not MACs and values that are not holdings are listed, not counted', () => {
  const c = census(world(), T, GRACE);
  assert.deepEqual(c.damaged.sort(), ['macmux-ledger-node-a: zz', `macmux-ledger-node-b: ${macKey(m(10))}`]);
  assert.ok(!c.entries.some((e) => e.mac === m(10)));
  assert.equal(c.entries.length, 11);
  // The pool's own keys are not entries and not damaged.
  assert.ok(!c.damaged.some((d) => /RANGE|LEASES|BLOCK/.test(d)));
});

test('without the pool ConfigMap: no pool figures, but holdings and duplicates are still found', () => {
  const c = census(world().filter((x) => x.name !== POOL_CM), T, GRACE);
  assert.deepEqual([c.poolSize, c.allocated, c.blocksLeased, c.spec], [0, 0, 0, undefined]);
  assert.deepEqual(c.duplicates.map((d) => d.mac), [m(9)]);
  assert.ok(c.entries.every((e) => !e.atHome), 'no home is known without the pool');
});

test('an empty ledger: a fresh pool, nothing held', () => {
  const c = census([pool()], T, GRACE);
  assert.deepEqual([c.poolSize, c.allocated, c.blocksLeased, c.duplicates, c.entries, c.damaged], [16, 0, 2, [], [], []]);
  const unleased = census([cm(POOL_CM, {}, { RANGE_START: m(0), RANGE_END: m(15), BLOCK_SIZE: '4', LEASES: '{}' })], T, GRACE);
  assert.deepEqual([unleased.blocksLeased, unleased.leases], [0, {}]);
});

test('a pool whose range does not parse makes the census throw (the exporter keeps its last figures)', () => {
  assert.throws(() => census([cm(POOL_CM, {}, { RANGE_START: 'nope', RANGE_END: m(15) })], T, GRACE));
});

// The layout of release 15: one ConfigMap per leased block (lease value `<node>.b<k>`), labelled block;
// owner-index objects under their own label key; legacy node ledgers beside them during an upgrade.
describe('the block layout (issue 15), with legacy node ledgers beside it', () => {
  const INDEX = { 'macmux.io/ledger-index': 'owners' };
  const labelled = (c: Cm, kind: string): Cm => ({ ...c, labels: { 'macmux.io/ledger': kind } });
  /** Blocks 0 and 3 leased new-style by node-a, block 1 legacy by node-a, block 2 new-style by node-b. */
  const LEASES = { '0': 'node-a.b0', '1': 'node-a', '2': 'node-b.b2', '3': 'node-a.b3' };
  const newPool = (entries: Record<string, string> = {}) =>
    labelled(cm(POOL_CM, entries, { RANGE_START: m(0), RANGE_END: m(15), BLOCK_SIZE: '4', LEASES: JSON.stringify(LEASES) }), 'pool');
  const owners: Cm = { name: 'macmux-owners-3f', labels: INDEX, data: { '0123456789abcdef0123456789abcdef': `${m(9)}|${T - 5}|ns/gone/net1` } };
  function newWorld(): Cm[] {
    return [
      newPool({ [m(13)]: h('active', 'ns/old/net1', 'node-b', T - 9000) }), // leftover in block 3 of an older release, same owner as at home
      labelled(cm(ledgerCm('node-a.b0'), { [m(0)]: h('active', 'ns/a0/net1', 'node-a'), [m(1)]: h('released', 'ns/a1/net1', 'node-a', T - GRACE) }), 'block'),
      labelled(cm(ledgerCm('node-a'), { [m(4)]: h('active', 'ns/a4/net1', 'node-a'), [m(5)]: h('released', 'ns/a5/net1', 'node-a', T - 1) }), 'node'),
      labelled(cm(ledgerCm('node-b.b2'), { [m(8)]: h('active', 'ns/b8/net1', 'node-b'), [m(9)]: h('reserved', 'ns/b9/net1', 'node-b') }), 'block'),
      labelled(cm(ledgerCm('node-a.b3'), { [m(13)]: h('active', 'ns/old/net1', 'node-a') }), 'block'),
      labelled(cm(claimsCm(OUTSIDE), { [OUTSIDE]: h('active', 'ns/c/net1', 'node-b') }), 'claims'),
      owners,
    ];
  }

  it('homes: block ConfigMaps and the legacy ledger are the homes of their blocks; leases are counted per node, both styles', () => {
    const c = census(newWorld(), T, GRACE);
    assert.deepEqual(c.leases, { 'node-a': 3, 'node-b': 1 });
    assert.equal(c.blocksLeased, 4);
    assert.equal(c.blocks, 4);
    assert.deepEqual(
      c.entries.map((e) => [e.mac, e.cm, e.atHome, e.live]),
      [
        [m(0), 'macmux-ledger-node-a.b0', true, true],
        [m(1), 'macmux-ledger-node-a.b0', true, false],
        [m(4), 'macmux-ledger-node-a', true, true],
        [m(5), 'macmux-ledger-node-a', true, true],
        [m(8), 'macmux-ledger-node-b.b2', true, true],
        [m(9), 'macmux-ledger-node-b.b2', true, true],
        [m(13), 'macmux-ledger-node-a.b3', true, true],
        [m(13), POOL_CM, false, true],
        [OUTSIDE, claimsCm(OUTSIDE), true, true],
      ],
    );
    assert.equal(c.allocated, 6, '00 04 05 08 09 0d');
    assert.deepEqual([c.duplicates, c.damaged], [[], []]);
  });

  it('owner-index objects are counted as objects, never read as holdings (their values are mac|since|key)', () => {
    const c = census(newWorld(), T, GRACE);
    assert.ok(!c.entries.some((e) => e.cm === owners.name));
    assert.ok(!c.damaged.some((d) => d.startsWith(owners.name)), 'a 32-hex key is not a damaged MAC key');
    assert.equal(c.objects.owners, 1);
    // Without labels (as kubectl get may print them), the name says the kind.
    assert.equal(kindOf({ name: 'macmux-owners-00', data: {} }), 'owners');
  });

  it('objects per kind and the largest of each, in UTF-8 bytes of the JSON of its data', () => {
    const world = newWorld();
    const c = census(world, T, GRACE);
    assert.deepEqual(c.objects, { pool: 1, block: 3, node: 1, claims: 1, owners: 1 });
    const bytes = (name: string) => Buffer.byteLength(JSON.stringify(world.find((x) => x.name === name)!.data));
    assert.deepEqual(c.largest, {
      pool: bytes(POOL_CM),
      block: Math.max(bytes('macmux-ledger-node-a.b0'), bytes('macmux-ledger-node-b.b2'), bytes('macmux-ledger-node-a.b3')),
      node: bytes('macmux-ledger-node-a'),
      claims: bytes(claimsCm(OUTSIDE)),
      owners: bytes(owners.name),
    });
    // UTF-8, not UTF-16 code units: a multi-byte character counts as its bytes.
    const wide = census([{ name: 'macmux-claims-00', labels: { 'macmux.io/ledger': 'claims' }, data: { note: 'é' } }], T, GRACE);
    assert.equal(wide.largest.claims, Buffer.byteLength('{"note":"é"}'));
    assert.equal(wide.largest.claims, 13);
  });

  it('kinds: from the label value; from the name where there is none; a legacy ledger of a node whose name ends in .b<k> stays a node ledger by its label', () => {
    assert.deepEqual(
      [POOL_CM, ledgerCm('n.b7'), ledgerCm('n'), claimsCm(OUTSIDE), 'macmux-owners-ff'].map((name) => kindOf({ name, data: {} })),
      ['pool', 'block', 'node', 'claims', 'owners'],
    );
    assert.equal(kindOf({ name: ledgerCm('n.b7'), labels: { 'macmux.io/ledger': 'node' }, data: {} }), 'node');
    assert.equal(kindOf({ name: 'macmux-owners-01', labels: INDEX, data: {} }), 'owners');
  });

  it("a node's scope: allocated counts only MACs at its homes (so the nodes' figures add up), free MACs of its blocks", () => {
    const all = newWorld();
    const a = census(all, T, GRACE, { node: 'node-a' });
    const b = census(all, T, GRACE, { node: 'node-b' });
    assert.equal(a.allocated, 4, '00 04 05 0d');
    assert.equal(b.allocated, 2, '08 09');
    assert.equal(a.allocated + b.allocated, census(all, T, GRACE).allocated);
    assert.equal(a.nodeFree, 12 - 4, 'blocks 0, 1, 3: 12 MACs, 01 past grace is free');
    assert.equal(b.nodeFree, 2);
    assert.equal(census(all, T, GRACE, { node: 'node-z' }).nodeFree, 0, 'a node without blocks has none free');
    assert.equal(census(all, T, GRACE).nodeFree, undefined);
    assert.deepEqual(homesOf(LEASES, 'node-a'), ['macmux-ledger-node-a', 'macmux-ledger-node-a.b0', 'macmux-ledger-node-a.b3']);
    assert.deepEqual([leaseNode('node-a.b3', 3), leaseNode('node-a.b3', '3'), leaseNode('node-a', 1), leaseNode('node-a.b3', 4)], ['node-a', 'node-a', 'node-a', 'node-a.b3']);
  });

  it("a node's share read alone (pool, its homes, one claims shard): a duplicate between its home and a pool leftover is found", () => {
    const share = newWorld().filter((x) => [POOL_CM, ledgerCm('node-a.b3'), 'macmux-owners-3f'].includes(x.name));
    share[0]!.data[macKey(m(13))] = h('active', 'ns/intruder/net1', 'node-b');
    const c = census(share, T, GRACE, { node: 'node-a' });
    assert.deepEqual(c.duplicates.map((d) => [d.mac, d.holders.map((x) => x.cm)]), [[m(13), ['macmux-ledger-node-a.b3', POOL_CM]]]);
    assert.deepEqual(c.objects, { pool: 1, block: 1, node: 0, claims: 0, owners: 1 });
    assert.equal(c.allocated, 1);
  });
});

test("a node's share: its homes, then one claims shard by rotation, every shard once in 256 scans", () => {
  const leases = { '0': 'node-a.b0', '1': 'node-a', '2': 'node-b.b2' };
  const first = nodeShare(leases, 'node-a', 0);
  assert.deepEqual(first.slice(0, 2), ['macmux-ledger-node-a', 'macmux-ledger-node-a.b0']);
  assert.equal(first.length, 3);
  const [claims] = first.slice(2);
  assert.match(claims!, /^macmux-claims-[0-9a-f]{2}$/);
  const seen = new Set(Array.from({ length: 256 }, (_, t) => nodeShare(leases, 'node-a', t)[2]));
  assert.equal(seen.size, 256);
  assert.equal(nodeShare(leases, 'node-a', 256)[2], claims, 'and then again');
  const starts = new Set(Array.from({ length: 50 }, (_, i) => nodeShare({}, `node-${i}`, 0)[0]));
  assert.ok(starts.size > 30, `nodes start at different shards (${starts.size} of 50)`);
  assert.deepEqual(nodeShare({}, 'node-z', 0).length, 1, 'a node without blocks reads only the claims shard');
});
