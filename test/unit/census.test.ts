// Unit tests for src/mac/census.ts: live holdings, duplicates across ConfigMaps, leftovers of one owner, grace, damaged entries and the pool's figures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { census } from '../../src/mac/census';
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
