// Unit tests for src/mac/cluster.ts and src/mac/home.ts: the pool, block leases (both styles), claims on every MAC's home, grace, the owner index, full blocks and compare-and-swap under contention, against MemoryStore.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterLedger, CLAIM_LEASE_BYTES, POOL_MAX_BYTES, type ClusterOptions, type Who } from '../../src/mac/cluster';
import { MemoryStore, type Cm, type CmStore } from '../../src/mac/store';
import { MAX_OBJECT_BYTES } from '../../src/mac/cas';
import { decodeHolding, encodeHolding, macKey, ownerOf, type Holding } from '../../src/mac/holding';
import { blocksOf, claimsCm, homeOf, isLegacyLease, leaseNode, leaseValue, ledgerCm, LEDGER_LABEL, ownBlocks, POOL_CM, type Leases } from '../../src/mac/home';
import { indexKey, OWNERS_LABEL } from '../../src/mac/owners';
import { assignable, inRange, intToMac, macToInt, parseRange } from '../../src/mac/range';
import { CniError, Code } from '../../src/cni/errors';
import type { KubeApi } from '../../src/k8s/api';
import { sync, withNodeLedger } from '../../src/mac/session';
import { spawnSync } from 'node:child_process';
import { readSeen, type Journal } from '../../src/mac/journal';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prng } from '../prng';

const T = 1_700_000_000;
const GRACE = 600;
/** 02:00:00:00:00:00 - 02:00:00:00:00:0f in 4 blocks of 4. */
const FALLBACK = { rangeStart: '02:00:00:00:00:00', rangeEnd: '02:00:00:00:00:0f', blockSize: 4 };
const POOL_KEYS = new Set(['RANGE_START', 'RANGE_END', 'BLOCK_SIZE', 'LEASES']);

const mac = (last: number) => intToMac(macToInt('02:00:00:00:00:00') + last);
const owner = (pod: string) => ownerOf('ns', pod, 'net1');
/** The owner as a pod with a UID (`gen` tells a re-created pod of the same name apart). */
const pod = (name: string, gen = 1) => ({ owner: owner(name), uid: `uid-${name}-${gen}` });

interface Clock {
  t: number;
}

function ledger(store: CmStore, node: string, clock: Clock, over: Partial<ClusterOptions> = {}): ClusterLedger {
  return new ClusterLedger(store, { node, graceSec: GRACE, fallback: FALLBACK, now: () => clock.t, ...over });
}

function setup(fallback = FALLBACK) {
  const store = new MemoryStore();
  const clock: Clock = { t: T };
  const a = ledger(store, 'node-a', clock, { fallback });
  const b = ledger(store, 'node-b', clock, { fallback });
  return { store, clock, a, b };
}

const dataOf = (store: MemoryStore, name: string) => store.cms.get(name)?.data;
const holdingIn = (store: MemoryStore, name: string, m: string): Holding | undefined => {
  const v = dataOf(store, name)?.[macKey(m)];
  return v === undefined ? undefined : decodeHolding(v);
};
const leasesOf = (store: MemoryStore): Leases => JSON.parse(dataOf(store, POOL_CM)!.LEASES!) as Leases;
/** The ConfigMap of block `k` leased by `node` (this release's layout): `macmux-ledger-<node>.b<k>`. */
const blk = (node: string, k: number) => ledgerCm(leaseValue(node, k));

/** Rewrites the pool ConfigMap's data as another writer would (a compare-and-swap that bumps its resourceVersion). */
async function editPool(store: MemoryStore, edit: (data: Record<string, string>) => void): Promise<void> {
  const pool = store.cms.get(POOL_CM)!;
  const data = { ...pool.data };
  edit(data);
  assert.notEqual(await store.update({ ...pool, data }), 'conflict');
}

/** A requested MAC recorded in the pool ConfigMap, as a release before 15 did for a block nobody leased (this release never writes one). */
const oldPoolClaim = (store: MemoryStore, m: string, h: Holding) =>
  editPool(store, (d) => {
    d[macKey(m)] = encodeHolding(h);
  });

/** Every holding in every ConfigMap of the store, by MAC. */
function allHoldings(store: MemoryStore): Map<string, Array<{ cm: string; h: Holding }>> {
  const out = new Map<string, Array<{ cm: string; h: Holding }>>();
  for (const cm of store.cms.values()) {
    if (cm.labels?.[OWNERS_LABEL] !== undefined) continue; // the owner index: hints, not holdings
    for (const [k, v] of Object.entries(cm.data)) {
      if (cm.name === POOL_CM && POOL_KEYS.has(k)) continue;
      const h = decodeHolding(v);
      assert.ok(h, `${cm.name}: ${k}=${v} is not a holding`);
      const m = k.replace(/(..)(?!$)/g, '$1:');
      out.set(m, [...(out.get(m) ?? []), { cm: cm.name, h }]);
    }
  }
  return out;
}

async function rejects(p: Promise<unknown>, code: number, msg?: RegExp): Promise<CniError> {
  let err: unknown;
  await assert.rejects(p, (e: unknown) => {
    err = e;
    return true;
  });
  assert.ok(err instanceof CniError, `expected a CniError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (msg) assert.match(err.message, msg);
  return err;
}

/** A MemoryStore that runs `before` ahead of every write, so a test can put another writer's change in between. */
class HookStore extends MemoryStore {
  before?: (op: 'create' | 'update', cm: Cm) => Promise<void> | void;
  override async create(cm: Cm): Promise<Cm | 'exists'> {
    await this.before?.('create', cm);
    return super.create(cm);
  }
  override async update(cm: Cm): Promise<Cm | 'conflict'> {
    await this.before?.('update', cm);
    return super.update(cm);
  }
}

/**
 * Wraps a store like a busy API server: calls take a random number of event-loop turns, some updates
 * fail with a 409 outright, and before some others another writer updates the same object first.
 */
class ChaosStore implements CmStore {
  conflicts = 0;
  foreign = 0;
  constructor(
    readonly inner: MemoryStore,
    private readonly rnd: () => number,
    private readonly pConflict: number,
    private readonly pForeign: number,
  ) {}
  private async delay(): Promise<void> {
    for (let n = Math.floor(this.rnd() * 4); n > 0; n--) await new Promise((r) => setImmediate(r));
  }
  async get(name: string) {
    await this.delay();
    return this.inner.get(name);
  }
  async create(cm: Cm) {
    await this.delay();
    return this.inner.create(cm);
  }
  async update(cm: Cm): Promise<Cm | 'conflict'> {
    await this.delay();
    const r = this.rnd();
    if (r < this.pConflict) {
      this.conflicts++;
      return 'conflict';
    }
    if (r < this.pConflict + this.pForeign) {
      const cur = await this.inner.get(cm.name);
      if (cur && (await this.inner.update(cur)) !== 'conflict') this.foreign++;
    }
    return this.inner.update(cm);
  }
  async list(labelKey: string) {
    await this.delay();
    return this.inner.list(labelKey);
  }
}

// ---- the pool ConfigMap ----

test('the first node creates macmux-pool from the fallback range; later nodes read it and ignore their own fallback', async () => {
  const { store, clock, a } = setup();
  const view = await a.pool();
  assert.deepEqual(view.spec, parseRange(FALLBACK.rangeStart, FALLBACK.rangeEnd, 4));
  assert.deepEqual(view.leases, {});
  const cm = store.cms.get(POOL_CM)!;
  assert.deepEqual(cm.data, { RANGE_START: '02:00:00:00:00:00', RANGE_END: '02:00:00:00:00:0f', BLOCK_SIZE: '4', LEASES: '{}' });
  assert.equal(cm.labels?.[LEDGER_LABEL], 'pool');
  const other = ledger(store, 'node-b', clock, { fallback: { rangeStart: '0a:00:00:00:00:00', rangeEnd: '0a:00:00:00:ff:ff' } });
  assert.deepEqual((await other.pool()).spec, view.spec);
  const bare = ledger(store, 'node-c', clock, { fallback: undefined });
  assert.deepEqual((await bare.pool()).spec, view.spec);
  assert.equal(store.writes, 1);
});

test('the fallback block size defaults to 256', async () => {
  const store = new MemoryStore();
  const a = ledger(store, 'node-a', { t: T }, { fallback: { rangeStart: '02:00:00:00:00:00', rangeEnd: '02:00:00:00:ff:ff' } });
  assert.equal((await a.pool()).spec.blockSize, 256);
  assert.equal(dataOf(store, POOL_CM)!.BLOCK_SIZE, '256');
});

test('without the pool ConfigMap and without a fallback, pool, allocate and claim fail with code 7', async () => {
  const store = new MemoryStore();
  const a = ledger(store, 'node-a', { t: T }, { fallback: undefined });
  await rejects(a.pool(), Code.InvalidConfig, /no macmux-pool ConfigMap and no macPool/);
  await rejects(a.allocate(owner('p')), Code.InvalidConfig);
  await rejects(a.claim('02:00:00:00:00:01', owner('p')), Code.InvalidConfig);
  assert.equal(store.cms.size, 0);
});

test('a bad fallback range is code 7, and so is a pool ConfigMap with a bad range or LEASES', async () => {
  const store = new MemoryStore();
  const clock = { t: T };
  await rejects(ledger(store, 'n', clock, { fallback: { rangeStart: '02:00:00:00:01:00', rangeEnd: '02:00:00:00:00:ff' } }).pool(), Code.InvalidConfig, /above/);
  await store.create({ name: POOL_CM, data: { RANGE_START: 'bogus', RANGE_END: '02:00:00:00:00:ff', BLOCK_SIZE: '4', LEASES: '{}' } });
  await rejects(ledger(store, 'n', clock).pool(), Code.InvalidConfig, /ConfigMap macmux-pool: RANGE_START/);
  const s2 = new MemoryStore();
  await s2.create({ name: POOL_CM, data: { RANGE_START: '02:00:00:00:00:00', RANGE_END: '02:00:00:00:00:ff', BLOCK_SIZE: '4', LEASES: '{oops' } });
  await rejects(ledger(s2, 'n', clock).pool(), Code.InvalidConfig, /LEASES is not JSON/);
});

test('two nodes creating the pool at once: one creates it, both see the same range', async () => {
  const store = new MemoryStore();
  const clock = { t: T };
  const a = ledger(store, 'node-a', clock);
  const b = ledger(store, 'node-b', clock, { fallback: { rangeStart: '0a:00:00:00:00:00', rangeEnd: '0a:00:00:00:ff:ff' } });
  const [va, vb] = await Promise.all([a.pool(), b.pool()]);
  assert.deepEqual(va.spec, vb.spec);
  assert.equal(store.writes, 1);
});

// ---- allocation ----

test('allocate leases block 0 (lease value <node>.b0), hands out its MACs in order into that block\'s own ConfigMap, then leases the next block', async () => {
  const { store, a } = setup();
  const got: string[] = [];
  for (let i = 0; i < 4; i++) got.push(await a.allocate(owner(`p${i}`)));
  assert.deepEqual(got, [mac(0), mac(1), mac(2), mac(3)]);
  assert.deepEqual(leasesOf(store), { '0': 'node-a.b0' });
  assert.equal(blk('node-a', 0), 'macmux-ledger-node-a.b0');
  for (let i = 0; i < 4; i++) assert.deepEqual(holdingIn(store, blk('node-a', 0), got[i]!), { owner: owner(`p${i}`), state: 'active', node: 'node-a', since: T });
  assert.equal(store.cms.get(blk('node-a', 0))!.labels?.[LEDGER_LABEL], 'block');
  assert.equal(await a.allocate(owner('p4')), mac(4));
  assert.deepEqual(leasesOf(store), { '0': 'node-a.b0', '1': 'node-a.b1' });
  assert.deepEqual(Object.keys(dataOf(store, blk('node-a', 1))!), [macKey(mac(4))], 'block 1 has a ConfigMap of its own');
  assert.equal(store.cms.has(ledgerCm('node-a')), false, 'no node-wide ledger');
});

test('two nodes lease different blocks, and each hands out only its own', async () => {
  const { store, a, b } = setup();
  assert.equal(await a.allocate(owner('a0')), mac(0));
  assert.equal(await b.allocate(owner('b0')), mac(4));
  assert.equal(await a.allocate(owner('a1')), mac(1));
  assert.equal(await b.allocate(owner('b1')), mac(5));
  assert.deepEqual(leasesOf(store), { '0': 'node-a.b0', '1': 'node-b.b1' });
  assert.equal(holdingIn(store, blk('node-b', 1), mac(5))?.owner, owner('b1'));
  assert.equal(holdingIn(store, blk('node-a', 0), mac(5)), undefined);
});

test('when every block is leased and full, allocate fails with code 101 naming the range', async () => {
  const { store, a, b } = setup({ rangeStart: '02:00:00:00:00:00', rangeEnd: '02:00:00:00:00:07', blockSize: 4 });
  for (let i = 0; i < 4; i++) await a.allocate(owner(`a${i}`));
  for (let i = 0; i < 4; i++) await b.allocate(owner(`b${i}`));
  const e = await rejects(a.allocate(owner('late')), Code.PoolExhausted, /02:00:00:00:00:00-02:00:00:00:00:07/);
  assert.match(e.message, /exhausted/);
  await rejects(b.allocate(owner('late')), Code.PoolExhausted);
  assert.deepEqual(leasesOf(store), { '0': 'node-a.b0', '1': 'node-b.b1' });
  assert.equal(allHoldings(store).size, 8);
});

test('a range across first octets: only unicast, locally administered MACs are handed out, then code 101', async () => {
  const { store, a } = setup({ rangeStart: '02:ff:ff:ff:ff:fe', rangeEnd: '06:00:00:00:00:01', blockSize: 2 });
  const got: string[] = [];
  for (let i = 0; i < 4; i++) got.push(await a.allocate(owner(`p${i}`)));
  assert.deepEqual(got, ['02:ff:ff:ff:ff:fe', '02:ff:ff:ff:ff:ff', '06:00:00:00:00:00', '06:00:00:00:00:01']);
  // Only the two blocks with assignable MACs were leased, not the 2^41 blocks of 03: to 05: in between.
  assert.equal(Object.keys(leasesOf(store)).length, 2);
  await rejects(a.allocate(owner('late')), Code.PoolExhausted);
});

test('a release after grace makes a MAC allocatable again, the lowest first', async () => {
  const { clock, a } = setup();
  for (let i = 0; i < 3; i++) await a.allocate(owner(`p${i}`));
  await a.release(mac(1), owner('p1'));
  assert.equal(await a.allocate(owner('q')), mac(3), 'not while in grace');
  clock.t += GRACE;
  assert.equal(await a.allocate(owner('r')), mac(1));
});

test('allocate hands out the next free MAC of its block when another node took the one its cached ledger showed free', async () => {
  // One block of 4, leased by node-a; node-b claims a MAC inside it behind node-a's back.
  const { store, a, b } = setup({ rangeStart: '02:00:00:00:00:00', rangeEnd: '02:00:00:00:00:03', blockSize: 4 });
  assert.equal(await a.allocate(owner('a0')), mac(0));
  await b.claim(mac(1), owner('b-req'));
  assert.equal(holdingIn(store, blk('node-a', 0), mac(1))?.owner, owner('b-req'));
  assert.equal(await a.allocate(owner('a1')), mac(2));
  assert.equal(await a.allocate(owner('a2')), mac(3));
  await rejects(a.allocate(owner('a3')), Code.PoolExhausted);
});

test('concurrent allocations on one node lease only the blocks they fill', async () => {
  const store = new MemoryStore();
  const a = ledger(store, 'node-a', { t: T }, { maxConflicts: 1000 });
  const got = await Promise.all(Array.from({ length: 16 }, (_, i) => a.allocate(owner(`p${i}`))));
  assert.deepEqual([...got].sort(), Array.from({ length: 16 }, (_, i) => mac(i)));
  assert.deepEqual(leasesOf(store), { '0': 'node-a.b0', '1': 'node-a.b1', '2': 'node-a.b2', '3': 'node-a.b3' });
  await rejects(a.allocate(owner('late')), Code.PoolExhausted);
});

// ---- requested MACs ----

test('a claim inside an unleased block leases that block to the claiming node and is recorded in its ConfigMap; nothing is written to the pool but the lease', async () => {
  const { store, a, b } = setup();
  await b.claim(mac(6), owner('req'));
  assert.deepEqual(leasesOf(store), { '1': 'node-b.b1' });
  assert.deepEqual(holdingIn(store, blk('node-b', 1), mac(6)), { owner: owner('req'), state: 'active', node: 'node-b', since: T });
  assert.deepEqual(Object.keys(dataOf(store, POOL_CM)!).sort(), [...POOL_KEYS].sort(), 'no MAC in the pool');
  assert.deepEqual((await b.pool(true)).claims, {});
  // The block is node-b's now: it allocates from it (around the claim), node-a leases another.
  assert.deepEqual([await b.allocate(owner('b0')), await b.allocate(owner('b1')), await b.allocate(owner('b2'))], [mac(4), mac(5), mac(7)]);
  assert.equal(await a.allocate(owner('a0')), mac(0));
  assert.deepEqual(leasesOf(store), { '0': 'node-a.b0', '1': 'node-b.b1' });
});

test("a claim inside a leased block is recorded in that block's ConfigMap, whichever node claims it", async () => {
  const { store, a, b } = setup();
  await a.allocate(owner('a0'));
  await b.claim(mac(2), owner('req'));
  assert.deepEqual(holdingIn(store, blk('node-a', 0), mac(2)), { owner: owner('req'), state: 'active', node: 'node-b', since: T });
  assert.equal(holdingIn(store, POOL_CM, mac(2)), undefined);
  assert.deepEqual([...store.cms.keys()].filter((n) => n.includes('node-b')), [], 'node-b leased nothing and wrote no ConfigMap of its own');
  assert.deepEqual(leasesOf(store), { '0': 'node-a.b0' });
});

for (const [style, value, kind] of [
  ['a legacy lease (bare node name)', 'node-z', 'node'],
  ['a lease of this release (<node>.b<k>)', 'node-z.b3', 'block'],
] as const) {
  test(`a claim inside a block leased by ${style} whose ConfigMap does not exist yet creates it, at macmux-ledger-<lease value>`, async () => {
    const { store, b } = setup();
    // Create the pool through node-b, then lease block 3 to node-z by hand.
    await b.pool();
    await editPool(store, (d) => {
      d.LEASES = JSON.stringify({ '3': value });
    });
    await b.claim(mac(13), owner('req'));
    assert.equal(holdingIn(store, `macmux-ledger-${value}`, mac(13))?.owner, owner('req'));
    assert.equal(store.cms.get(`macmux-ledger-${value}`)!.labels?.[LEDGER_LABEL], kind);
    assert.deepEqual(leasesOf(store), { '3': value }, 'the lease is left as it is');
  });
}

test('a claim outside the range is recorded in its claims shard', async () => {
  const { store, a } = setup();
  const m = '00:1b:2c:3d:4e:5f';
  await a.claim(m, owner('req'));
  const shard = claimsCm(m);
  assert.match(shard, /^macmux-claims-[0-9a-f]{2}$/);
  assert.deepEqual(holdingIn(store, shard, m), { owner: owner('req'), state: 'active', node: 'node-a', since: T });
  assert.equal(store.cms.get(shard)!.labels?.[LEDGER_LABEL], 'claims');
  assert.equal(allHoldings(store).size, 1);
});

const WHERE: Array<[string, string, boolean]> = [
  ['in an unleased block (leased on the claim)', mac(9), false],
  ["in a leased block (the block's ConfigMap)", mac(2), true],
  ['outside the range (claims shard)', '0a:00:00:00:00:01', false],
];
for (const [where, m, lease] of WHERE) {
  test(`a requested MAC ${where}: the same pod again is fine (no write on the same node; another node takes it over), a pod re-created under its name or another owner gets code 100 naming the holder`, async () => {
    const { store, clock, a, b } = setup();
    if (lease) await a.allocate(owner('a0'));
    await a.claim(m, pod('first'));
    const writes = store.writes;
    clock.t += 5;
    await a.claim(m, pod('first'));
    assert.equal(store.writes, writes, 'asking again on the same node writes nothing');
    await b.claim(m, pod('first'));
    assert.equal(store.writes, writes + 1, 'the same pod on another node takes the MAC over: one write');
    assert.equal(allHoldings(store).get(m)![0]!.h.node, 'node-b', 'only node-b may release it now');
    for (const who of [a, b]) await rejects(who.claim(m, owner('second')), Code.MacConflict, new RegExp(`MAC ${m} is already held by ns/first/net1 \\(uid uid-first-1, active on node node-b\\)`));
    for (const who of [a, b]) await rejects(who.claim(m, pod('first', 2)), Code.MacConflict, /held by ns\/first\/net1 \(uid uid-first-1/);
    const all = allHoldings(store).get(m)!;
    assert.equal(all.length, 1);
    assert.equal(all[0]!.h.owner, owner('first'));
  });
}

test('allocate never hands out a claimed MAC, whether claimed in a block it leases or in one the claim leased', async () => {
  const { a, b } = setup();
  await b.claim(mac(1), owner('early')); // block 0, unleased: leased to node-b by the claim
  assert.equal(await a.allocate(owner('p0')), mac(4), 'node-a leases block 1');
  assert.deepEqual([await b.allocate(owner('b0')), await b.allocate(owner('b1')), await b.allocate(owner('b2'))], [mac(0), mac(2), mac(3)]);
  await b.claim(mac(6), owner('late')); // block 1, node-a's: recorded in its ConfigMap
  const got = [await a.allocate(owner('p1')), await a.allocate(owner('p2')), await a.allocate(owner('p3'))];
  assert.deepEqual(got, [mac(5), mac(7), mac(8)]);
});

test("a claim an older release left in the pool is migrated to the block's ConfigMap when its block is leased, and stays refused to others", async () => {
  const { store, a, b } = setup();
  await a.pool();
  await oldPoolClaim(store, mac(2), { owner: owner('req'), state: 'active', node: 'node-b', since: T, uid: 'uid-req-1' });
  await a.allocate(owner('p0'));
  assert.deepEqual(leasesOf(store), { '0': 'node-a.b0' });
  assert.equal(holdingIn(store, POOL_CM, mac(2)), undefined, 'no longer in the pool');
  assert.deepEqual(holdingIn(store, blk('node-a', 0), mac(2)), { owner: owner('req'), state: 'active', node: 'node-b', since: T, uid: 'uid-req-1' });
  const got = [await a.allocate(owner('p1')), await a.allocate(owner('p2')), await a.allocate(owner('p3'))];
  assert.deepEqual(got, [mac(1), mac(3), mac(4)]);
  await rejects(b.claim(mac(2), owner('other')), Code.MacConflict, /held by ns\/req\/net1/);
  await rejects(a.claim(mac(2), owner('other')), Code.MacConflict, /held by ns\/req\/net1/);
  await b.claim(mac(2), pod('req'));
  assert.equal(allHoldings(store).get(mac(2))!.length, 1);
});

test('a claim of a MAC an older release left in the pool, in a block nobody leases: the claim leases the block, migrates the leftover, and honours it', async () => {
  const { store, a, b } = setup();
  await a.pool();
  await oldPoolClaim(store, mac(9), { owner: owner('req'), state: 'released', node: 'node-b', since: T - 10, uid: 'uid-req-1' });
  await oldPoolClaim(store, mac(10), { owner: owner('kept'), state: 'active', node: 'node-b', since: T, uid: 'uid-kept-1' });
  await rejects(b.claim(mac(9), pod('other')), Code.MacConflict, /held by ns\/req\/net1/);
  assert.deepEqual(leasesOf(store), { '2': 'node-b.b2' }, 'leased by the refused claim all the same');
  assert.equal(holdingIn(store, POOL_CM, mac(9)), undefined, 'migrated');
  assert.equal(holdingIn(store, blk('node-b', 2), mac(10))?.owner, owner('kept'));
  await a.claim(mac(9), pod('req', 2));
  assert.deepEqual(holdingIn(store, blk('node-b', 2), mac(9)), { owner: owner('req'), state: 'active', node: 'node-a', since: T, uid: 'uid-req-2' });
  assert.deepEqual(Object.keys(dataOf(store, POOL_CM)!).sort(), [...POOL_KEYS].sort());
});

test('a claim left in the pool after its block was leased (migration never ran) is still honoured everywhere', async () => {
  const { store, clock, a, b } = setup();
  await a.pool();
  await oldPoolClaim(store, mac(1), { owner: owner('req'), state: 'active', node: 'node-b', since: T, uid: 'uid-req-1' });
  // node-a leased block 0 and died before moving the claim: LEASES says node-a.b0, the claim is still in the pool.
  await editPool(store, (d) => {
    d.LEASES = '{"0":"node-a.b0"}';
  });
  assert.deepEqual([await a.allocate(owner('p0')), await a.allocate(owner('p1'))], [mac(0), mac(2)]);
  await rejects(b.claim(mac(1), owner('other')), Code.MacConflict, /held by ns\/req\/net1/);
  await b.claim(mac(1), pod('req'));
  // Released by its owner, it is kept during grace and then free for anyone.
  await b.release(mac(1), pod('req'));
  await rejects(b.claim(mac(1), owner('other')), Code.MacConflict);
  clock.t += GRACE;
  await b.claim(mac(1), owner('other'));
  assert.equal(holdingIn(store, blk('node-a', 0), mac(1))?.owner, owner('other'));
  assert.equal(holdingIn(store, POOL_CM, mac(1))?.owner, owner('req'), 'the pool copy is only a leftover now: released, then left alone');
});

test("a release racing the migration of its claim is not undone by the migration's older copy", async () => {
  const store = new HookStore();
  const clock = { t: T };
  const a = ledger(store, 'node-a', clock);
  const b = ledger(store, 'node-b', clock);
  await a.pool();
  await oldPoolClaim(store, mac(1), { owner: owner('req'), state: 'active', node: 'node-b', since: T });
  // Just before node-a copies the claim into its block's ConfigMap, its owner releases it from node-b.
  let raced = false;
  store.before = async (_op, cm) => {
    if (!raced && cm.name === blk('node-a', 0) && cm.data[macKey(mac(1))]) {
      raced = true;
      await b.release(mac(1), owner('req'));
    }
  };
  await a.allocate(owner('p0'));
  assert.ok(raced, 'the race was staged');
  store.before = undefined;
  assert.equal(holdingIn(store, blk('node-a', 0), mac(1))?.state, 'released');
  assert.equal(holdingIn(store, POOL_CM, mac(1)), undefined, 'the migration finished');
  clock.t += GRACE;
  await b.claim(mac(1), owner('other'));
  assert.equal(holdingIn(store, blk('node-a', 0), mac(1))?.owner, owner('other'));
});

test('a claim whose lease of the block loses to another node ends up in the winner\'s block ConfigMap, not in the pool', async () => {
  const store = new HookStore();
  const clock = { t: T };
  const a = ledger(store, 'node-a', clock);
  const b = ledger(store, 'node-b', clock);
  await a.pool();
  // node-b read the pool (block 0 unleased) and is about to lease block 0 for its claim; node-a leases it first.
  let raced = false;
  store.before = async (op, cm) => {
    if (!raced && op === 'update' && cm.name === POOL_CM && cm.data.LEASES?.includes('node-b')) {
      raced = true;
      await a.allocate(owner('p0'));
    }
  };
  await b.claim(mac(2), owner('req'));
  assert.ok(raced);
  store.before = undefined;
  assert.deepEqual(leasesOf(store), { '0': 'node-a.b0' });
  assert.equal(holdingIn(store, POOL_CM, mac(2)), undefined);
  assert.equal(store.cms.has(blk('node-b', 0)), false);
  assert.equal(holdingIn(store, blk('node-a', 0), mac(2))?.owner, owner('req'));
  assert.deepEqual([await a.allocate(owner('p1')), await a.allocate(owner('p2'))], [mac(1), mac(3)]);
});

// ---- release and grace ----

test('release keeps a pool MAC for its owner during grace; after grace anyone may take it', async () => {
  const { store, clock, a, b } = setup();
  const m = await a.allocate(pod('web-0'));
  clock.t += 10;
  await a.release(m, pod('web-0'));
  assert.deepEqual(holdingIn(store, blk('node-a', 0), m), { owner: owner('web-0'), state: 'released', node: 'node-a', since: T + 10, uid: 'uid-web-0-1' });
  clock.t += GRACE - 1;
  await rejects(b.claim(m, owner('intruder')), Code.MacConflict, /held by ns\/web-0\/net1 \(uid uid-web-0-1, released on node node-a\) \(released 599s ago, held for its owner for 600s\)/);
  await b.claim(m, pod('web-0', 2));
  assert.deepEqual(holdingIn(store, blk('node-a', 0), m), { owner: owner('web-0'), state: 'active', node: 'node-b', since: T + GRACE + 9, uid: 'uid-web-0-2' });
  await b.release(m, pod('web-0', 2));
  clock.t += GRACE;
  await b.claim(m, owner('intruder'));
  assert.equal(holdingIn(store, blk('node-a', 0), m)?.owner, owner('intruder'));
});

for (const [where, m] of [
  ['in a block its claim leased', mac(9)],
  ['in a claims shard', '0a:00:00:00:00:01'],
] as const) {
  test(`release of a requested MAC ${where}: held during grace, free after`, async () => {
    const { store, clock, a, b } = setup();
    await a.claim(m, owner('req'));
    await a.release(m, owner('req'));
    const home = m === mac(9) ? blk('node-a', 2) : claimsCm(m);
    assert.equal(holdingIn(store, home, m)?.state, 'released');
    await rejects(b.claim(m, owner('other')), Code.MacConflict);
    clock.t += GRACE;
    await b.claim(m, owner('other'));
    assert.equal(holdingIn(store, home, m)?.owner, owner('other'));
  });
}

test("release is idempotent and another owner's release changes nothing (and writes nothing)", async () => {
  const { store, clock, a } = setup();
  const m = await a.allocate(owner('p0'));
  await a.release(m, owner('p0'));
  const first = holdingIn(store, blk('node-a', 0), m);
  const writes = store.writes;
  clock.t += 100;
  await a.release(m, owner('p0'));
  await a.release(m, owner('someone-else'));
  assert.deepEqual(holdingIn(store, blk('node-a', 0), m), first, 'the grace period still runs from the first release');
  const m2 = await a.allocate(owner('p1'));
  const w2 = store.writes;
  await a.release(m2, owner('someone-else'));
  assert.equal(holdingIn(store, blk('node-a', 0), m2)?.state, 'active');
  assert.equal(store.writes, w2);
  assert.equal(writes + 1, w2, 'only the allocation wrote');
});

test('release of a MAC nobody holds, whose home does not exist, does nothing and creates nothing', async () => {
  const { store, a } = setup();
  await a.pool();
  await a.release('0a:00:00:00:00:01', owner('p'));
  await a.release(mac(5), owner('p'));
  assert.deepEqual([...store.cms.keys()], [POOL_CM]);
  assert.equal(store.writes, 1);
});

test('a pool deleted while a block is being leased: code 3 naming it, as before', async () => {
  const { store, a } = setup();
  await a.pool();
  // The API answers 404 to the update of a ConfigMap deleted meanwhile, which the store reports as a conflict.
  const vanishing: CmStore = Object.assign(Object.create(store) as MemoryStore, {
    update: async (cm: Cm) => {
      if (cm.name !== POOL_CM) return store.update(cm);
      store.cms.delete(POOL_CM);
      return 'conflict' as const;
    },
  });
  const c = ledger(vanishing, 'node-a', { t: T });
  await assert.rejects(c.allocate(owner('p')), (e: unknown) => e instanceof CniError && e.code === Code.UnknownContainer && e.message === `ConfigMap ${POOL_CM} does not exist`);
});

// ---- findOwner: the owner index, for a pod re-created on another node ----

/** What a DEL does: release `m` for `who`, then point the owner index at it. */
async function del(l: ClusterLedger, m: string, who: Who): Promise<void> {
  assert.equal(await l.release(m, who), true, `${m} released for ${typeof who === 'string' ? who : who.owner}`);
  await l.recordReleased([{ mac: m, who }]);
}

test('findOwner: released on node A (release, then recordReleased), found from node B during grace and re-claimed there', async () => {
  const { store, clock, a, b } = setup();
  await a.allocate(owner('other'));
  const m = await a.allocate(pod('web-0'));
  assert.equal(await b.findOwner(pod('web-0')), undefined, 'a live holding is not in the index: only releases are');
  clock.t += 30;
  await del(a, m, pod('web-0'));
  const shard = indexKey(owner('web-0')).name;
  assert.equal(store.cms.get(shard)?.labels?.[OWNERS_LABEL], 'owners');
  assert.equal(store.cms.get(shard)?.labels?.[LEDGER_LABEL], undefined, 'not under the ledger label (the census and older releases never list it)');
  clock.t += GRACE - 1;
  assert.equal(await b.findOwner(pod('web-0', 2)), m, 'the re-created pod (another UID) finds it');
  await b.claim(m, pod('web-0', 2));
  assert.deepEqual(holdingIn(store, blk('node-a', 0), m), { owner: owner('web-0'), state: 'active', node: 'node-b', since: clock.t, uid: 'uid-web-0-2' });
  assert.equal(await b.findOwner(owner('nobody')), undefined);
  assert.equal(await b.findOwner(ownerOf('ns', 'web-0', 'net2')), undefined, "another attachment of the pod has no entry");
});

test('findOwner: retained StatefulSet pods each find their own MAC on another node (a pod of the set is its identity); none is left retained for nobody', async () => {
  const { store, clock, a, b } = setup();
  const set = (name: string, gen = 1) => ({ ...pod(name, gen), retain: 'StatefulSet/web' });
  const m0 = await a.allocate(set('web-0'));
  const m1 = await a.allocate(set('web-1'));
  clock.t += 10;
  await del(a, m0, set('web-0'));
  clock.t += 10;
  await del(a, m1, set('web-1'));
  clock.t += 10 * GRACE;
  // Re-created on node B, in either order.
  assert.equal(await b.findOwner(set('web-0', 2)), m0, 'web-0 finds its own MAC');
  await b.claim(m0, set('web-0', 2));
  assert.equal(await b.findOwner(set('web-1', 2)), m1, 'web-1 finds its own MAC');
  await b.claim(m1, set('web-1', 2));
  const retainedForNobody = [...store.cms.values()]
    .filter((cm) => cm.labels?.[LEDGER_LABEL] === 'block')
    .flatMap((cm) => Object.values(cm.data).map((v) => decodeHolding(v)))
    .filter((h) => h?.state === 'released' && h.retain !== undefined);
  assert.deepEqual(retainedForNobody, []);
});

test("sync: a dead ADD of a retained virt-launcher pod that took its VM's MAC back from another node's block is undone (the MAC released for the VM, not left reserved)", async () => {
  const { store, clock, a, b } = setup();
  const vm = (name: string) => ({ owner: owner(name), uid: `uid-${name}`, retain: 'VirtualMachineInstance/vm1' });
  const m = await a.allocate(vm('virt-launcher-vm1-abcde'));
  await del(a, m, vm('virt-launcher-vm1-abcde'));
  clock.t += 10 * GRACE;
  // The VM's next pod, on node B: its ADD takes the MAC back (node A's block) and dies before journaling it.
  const next = vm('virt-launcher-vm1-fghij');
  assert.equal(await b.findOwner(next), m);
  await b.claim(m, next);
  const dir = mkdtempSync(join(tmpdir(), 'macmux-sync-'));
  try {
    const pid = spawnSync('true').pid!;
    const j = { format: 1 as const, entries: {}, seen: {}, intents: [{ owner: next.owner, uid: next.uid, retain: next.retain, containerID: 'c-dead', pid }] };
    const changes = await sync({ conf: { cacheDir: dir, macGracePeriod: GRACE }, log: { info: () => {}, error: () => {} } }, j, b);
    assert.deepEqual(changes.map((c) => [c.change, c.mac]), [['reclaimed', m]]);
    assert.equal(holdingIn(store, blk('node-a', 0), m)?.state, 'released');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sync: a dead ADD that took its MAC back from its owner\'s released journal entry (local stickiness) is undone: the MAC released for that pod, the entry following the cluster', async () => {
  const { store, a } = setup();
  const old = pod('web-0');
  const m = await a.allocate(old);
  await del(a, m, old);
  const dir = mkdtempSync(join(tmpdir(), 'macmux-sync-'));
  try {
    const pid = spawnSync('true').pid!;
    const released = Math.floor(Date.now() / 1000) - 5;
    const j: Journal = { format: 1, entries: { [m]: { owner: old.owner, uid: old.uid, state: 'released', containerID: 'c-old', pid, since: released } }, seen: {}, intents: [] };
    // The pod's next sandbox on this node: its ADD takes the MAC back (its journal's released entry) and dies before journaling it.
    const next = pod('web-0', 2);
    j.intents.push({ owner: next.owner, uid: next.uid, containerID: 'c-dead', pid });
    await a.claim(m, next);
    assert.equal(holdingIn(store, blk('node-a', 0), m)?.uid, next.uid);
    const changes = await sync({ conf: { cacheDir: dir, macGracePeriod: GRACE }, log: { info: () => {}, error: () => {} } }, j, a);
    assert.deepEqual(changes.map((c) => [c.change, c.mac]), [['reclaimed', m]]);
    assert.deepEqual(j.intents, []);
    const h = holdingIn(store, blk('node-a', 0), m);
    assert.deepEqual([h?.state, h?.uid], ['released', next.uid], 'released for the pod that took it, not left reserved');
    // The journal's entry is that release now: the owner's stickiness here lasts as long as the cluster keeps the MAC for it.
    const e = j.entries[m]!;
    assert.deepEqual([e.state, e.owner, e.uid, e.containerID, e.pendingRelease], ['released', next.owner, next.uid, 'c-dead', undefined]);
    assert.ok(e.since > released);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sync: a dead ADD that took its MAC back from a released journal entry, the MAC of another node\'s block (no owner index), is found there and undone', async () => {
  const { store, a, b } = setup();
  const m = await b.allocate(pod('web-0'));
  assert.ok(await b.release(m, pod('web-0')));
  // The pod's next generation ran on node A with it, and released it there (no owner-index write: a name the API server generated, say).
  const gen2 = pod('web-0', 2);
  await a.claim(m, gen2);
  assert.ok(await a.release(m, gen2));
  const dir = mkdtempSync(join(tmpdir(), 'macmux-sync-'));
  try {
    const pid = spawnSync('true').pid!;
    const j: Journal = { format: 1, entries: { [m]: { owner: gen2.owner, uid: gen2.uid, state: 'released', containerID: 'c-old', pid, since: Math.floor(Date.now() / 1000) - 5 } }, seen: {}, intents: [] };
    const gen3 = pod('web-0', 3);
    j.intents.push({ owner: gen3.owner, uid: gen3.uid, containerID: 'c-dead', pid });
    await a.claim(m, gen3);
    const changes = await sync({ conf: { cacheDir: dir, macGracePeriod: GRACE }, log: { info: () => {}, error: () => {} } }, j, a);
    assert.deepEqual(changes.map((c) => [c.change, c.mac]), [['reclaimed', m]]);
    const h = holdingIn(store, blk('node-b', 0), m);
    assert.deepEqual([h?.state, h?.uid], ['released', gen3.uid]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sync: a dead ADD whose owner\'s MAC is held live in the journal (another sandbox of the pod) leaves it alone', async () => {
  const { store, a } = setup();
  const p = pod('web-0');
  const m = await a.allocate(p);
  const dir = mkdtempSync(join(tmpdir(), 'macmux-sync-'));
  try {
    const pid = spawnSync('true').pid!;
    const j = { format: 1 as const, entries: { [m]: { owner: p.owner, uid: p.uid, state: 'active' as const, containerID: 'c-live', pid, since: Math.floor(Date.now() / 1000) } }, seen: {}, intents: [{ owner: p.owner, uid: p.uid, containerID: 'c-dead', pid }] };
    const changes = await sync({ conf: { cacheDir: dir, macGracePeriod: GRACE }, log: { info: () => {}, error: () => {} } }, j, a);
    assert.deepEqual(changes.map((c) => [c.change, c.mac]), [['intent-dropped', undefined]]);
    assert.equal(holdingIn(store, blk('node-a', 0), m)?.state, 'active');
    assert.equal(j.entries[m]!.state, 'active');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('findOwner: not after grace', async () => {
  const { clock, a, b } = setup();
  const m = await a.allocate(pod('web-0'));
  await del(a, m, pod('web-0'));
  clock.t += GRACE - 1;
  assert.equal(await b.findOwner(pod('web-0')), m);
  clock.t += 1;
  assert.equal(await b.findOwner(pod('web-0')), undefined);
  assert.equal(await a.findOwner(pod('web-0')), undefined);
});

test('findOwner: the newest release of the owner wins', async () => {
  const { clock, a, b } = setup();
  const old = await a.allocate(pod('web-0'));
  await del(a, old, pod('web-0'));
  clock.t += 5;
  const newer = await b.allocate(pod('web-0', 2));
  assert.notEqual(old, newer);
  await del(b, newer, pod('web-0', 2));
  assert.equal(await a.findOwner(pod('web-0', 3)), newer);
  assert.equal(await b.findOwner(pod('web-0', 3)), newer);
});

test('findOwner: exactly one read (one GET of one owners shard) per lookup, whatever the number of nodes and ConfigMaps', async () => {
  const range = { rangeStart: '02:00:00:00:00:00', rangeEnd: '02:00:00:00:ff:ff', blockSize: 4 };
  const costs: Array<{ nodes: number; cms: number; get: number; list: number; listMeta: number }> = [];
  for (const nodes of [2, 40]) {
    const store = new MemoryStore();
    const clock = { t: T };
    const ls = Array.from({ length: nodes }, (_, i) => ledger(store, `node-${i}`, clock, { fallback: range }));
    for (const [i, l] of ls.entries()) {
      for (let k = 0; k < 6; k++) {
        const who = pod(`p${i}-${k}`);
        const m = await l.allocate(who);
        if (k % 2 === 0) await del(l, m, who);
      }
    }
    const reader = ledger(store, 'node-new', clock, { fallback: range });
    const before = { ...store.reads };
    assert.ok(await reader.findOwner(pod(`p${nodes - 1}-4`, 2)));
    assert.ok(await reader.findOwner(pod('p0-0', 2)));
    assert.equal(await reader.findOwner(pod('nobody')), undefined);
    costs.push({ nodes, cms: store.cms.size, get: store.reads.get - before.get, list: store.reads.list - before.list, listMeta: store.reads.listMeta - before.listMeta });
  }
  assert.ok(costs[1]!.cms > 10 * costs[0]!.cms, JSON.stringify(costs));
  assert.deepEqual(
    costs.map(({ get, list, listMeta }) => ({ get, list, listMeta })),
    [
      { get: 3, list: 0, listMeta: 0 },
      { get: 3, list: 0, listMeta: 0 },
    ],
  );
});

test('findOwner: a stale index entry (its MAC now held by another owner) is only a hint: claim refuses it with code 100, never a duplicate', async () => {
  const { store, clock, a, b } = setup();
  const m = await a.allocate(pod('web-0'));
  await del(a, m, pod('web-0'));
  // The operator frees it at once (release --force) and another pod takes it: the index still points web-0 at it.
  await a.operatorRelease(m, owner('web-0'), true);
  await a.claim(m, pod('intruder'));
  clock.t += 10;
  assert.equal(await b.findOwner(pod('web-0', 2)), m);
  await rejects(b.claim(m, pod('web-0', 2)), Code.MacConflict, /held by ns\/intruder\/net1/);
  assert.deepEqual(
    allHoldings(store).get(m)!.map((x) => [x.cm, x.h.owner, x.h.state]),
    [[blk('node-a', 0), owner('intruder'), 'active']],
  );
});

test("recordReleased: one pod's attachments share one shard, written once; release says false when nothing was released for the owner; an index write that fails is only a warning", async () => {
  const { store, clock, a } = setup();
  const w1 = { owner: ownerOf('ns', 'web-0', 'net1'), uid: 'u1' };
  const w2 = { owner: ownerOf('ns', 'web-0', 'net2'), uid: 'u1' };
  const m1 = await a.allocate(w1);
  const m2 = await a.allocate(w2);
  assert.equal(await a.release(m1, w1), true);
  assert.equal(await a.release(m2, w2), true);
  assert.equal(await a.release(m2, owner('someone-else')), false);
  assert.equal(await a.release('0a:00:00:00:00:01', w1), false, 'nothing held there');
  const writes = store.writes;
  await a.recordReleased([
    { mac: m1, who: w1 },
    { mac: m2, who: w2 },
  ]);
  assert.equal(store.writes - writes, 1);
  assert.deepEqual([await a.findOwner(w1), await a.findOwner(w2)], [m1, m2]);
  clock.t += 1;
  const warned: string[] = [];
  const broken: CmStore = Object.assign(Object.create(store) as MemoryStore, {
    update: async (cm: Cm) => {
      if (cm.name.startsWith('macmux-owners-')) throw new CniError(Code.TryAgainLater, 'API down');
      return store.update(cm);
    },
  });
  await ledger(broken, 'node-a', clock, { warn: (msg) => warned.push(msg) }).recordReleased([{ mac: m1, who: w1 }]);
  assert.equal(warned.length, 1);
  assert.match(warned[0]!, /^owner index macmux-owners-[0-9a-f]{32} not updated .*ns\/web-0\/net1.*: API down$/);
});

// ---- full blocks: skipped while their ConfigMap's resourceVersion stands ----

test('allocation remembers a block it found full of live MACs, at its ConfigMap\'s resourceVersion, and reads nothing for it', async () => {
  const { store, a } = setup();
  for (let i = 0; i < 4; i++) assert.equal(await a.allocate(owner(`p${i}`)), mac(i));
  assert.equal(await a.allocate(owner('p4')), mac(4));
  const rv = store.cms.get(blk('node-a', 0))!.resourceVersion;
  assert.deepEqual(a.fullBlocks.get(blk('node-a', 0)), { resourceVersion: rv, blocks: [0] });
  assert.equal(a.fullBlocks.has(blk('node-a', 1)), false);
  const gets = store.reads.get;
  assert.equal(await a.allocate(owner('p5')), mac(5));
  assert.equal(store.reads.get, gets);
  assert.deepEqual(a.fullBlocks.get(blk('node-a', 0)), { resourceVersion: rv, blocks: [0] });
});

/** The KubeApi calls kubeStore makes, served by a MemoryStore: the ledger session of src/mac/session.ts in a unit test. */
function memoryApi(store: MemoryStore): KubeApi {
  type K = { metadata: { name: string; resourceVersion?: string; labels?: Record<string, string> }; data?: Record<string, string> };
  const toK = (cm: Cm): K => ({ metadata: { name: cm.name, ...(cm.resourceVersion ? { resourceVersion: cm.resourceVersion } : {}), ...(cm.labels ? { labels: cm.labels } : {}) }, data: cm.data });
  const fromK = (k: K): Cm => ({ name: k.metadata.name, ...(k.metadata.resourceVersion ? { resourceVersion: k.metadata.resourceVersion } : {}), ...(k.metadata.labels ? { labels: k.metadata.labels } : {}), data: k.data ?? {} });
  return {
    getConfigMap: async (_ns: string, name: string) => {
      const cm = await store.get(name);
      return cm && toK(cm);
    },
    createConfigMap: async (_ns: string, k: K) => {
      const r = await store.create(fromK(k));
      return r === 'exists' ? r : toK(r);
    },
    updateConfigMap: async (_ns: string, k: K) => {
      const r = await store.update(fromK(k));
      return r === 'conflict' ? r : toK(r);
    },
    listConfigMaps: async () => assert.fail('the session listed ConfigMaps'),
  } as unknown as KubeApi;
}

test("the seen cache the session writes keeps no copy of a full block's ConfigMap, only its record: the next invocation skips it with no read; this node's write to the block makes it readable again", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'macmux-full-'));
  try {
    const store = new MemoryStore();
    const api = memoryApi(store);
    // Grace 0: a released MAC is free at once.
    const n = { node: 'node-a', log: { info: () => {}, error: (m: string) => assert.fail(m) }, conf: { cacheDir: dir, lockTimeout: 5, macNamespace: 'macmux', macGracePeriod: 0, macPool: FALLBACK } };
    const session = <T>(fn: (c: ClusterLedger) => Promise<T>) => withNodeLedger(n, api, (_j, c) => fn(c));
    assert.deepEqual(
      await session(async (c) => {
        const got: string[] = [];
        for (let i = 0; i < 5; i++) got.push(await c.allocate(owner(`p${i}`)));
        return got;
      }),
      [0, 1, 2, 3, 4].map(mac),
    );
    const full = readSeen(dir)!;
    assert.deepEqual(Object.keys(full.cms).sort(), [blk('node-a', 1), POOL_CM]);
    assert.deepEqual(full.full, { [blk('node-a', 0)]: { resourceVersion: store.cms.get(blk('node-a', 0))!.resourceVersion, blocks: [0] } });

    const gets = store.reads.get;
    assert.equal(await session((c) => c.allocate(owner('p5'))), mac(5));
    assert.equal(store.reads.get, gets, 'block 0 skipped unread, block 1 and the pool from the cache');

    // This node writes to block 0 (a DEL): its fresh copy is cached again, its record dropped.
    await session((c) => c.release(mac(1), owner('p1')));
    const after = readSeen(dir)!;
    assert.equal(after.cms[blk('node-a', 0)]?.resourceVersion, store.cms.get(blk('node-a', 0))!.resourceVersion);
    assert.equal(after.full[blk('node-a', 0)], undefined);
    const gets2 = store.reads.get;
    assert.equal(await session((c) => c.allocate(owner('p6'))), mac(1));
    assert.equal(store.reads.get, gets2, 'block 0 scanned from the cache, unread');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a MAC of a full block freed by a write (a release, then its grace over) is found again: the remembered blocks were of an older resourceVersion', async () => {
  const { clock, a } = setup();
  for (let i = 0; i < 5; i++) await a.allocate(owner(`p${i}`));
  await a.release(mac(1), owner('p1'));
  clock.t += GRACE;
  assert.equal(await a.allocate(owner('new')), mac(1));
});

test('a block with a MAC released but in grace is not remembered as full: once the grace ends, with no write, its MAC is handed out', async () => {
  const { store, clock, a } = setup();
  for (let i = 0; i < 4; i++) await a.allocate(owner(`p${i}`));
  await a.release(mac(2), owner('p2'));
  assert.equal(await a.allocate(owner('p4')), mac(4));
  assert.equal(a.fullBlocks.has(blk('node-a', 0)), false);
  const writes = store.writes;
  clock.t += GRACE;
  assert.equal(store.writes, writes);
  assert.equal(await a.allocate(owner('p5')), mac(2));
});

test('a full block another writer changed stays skipped until this node writes to it: that write brings the fresh copy, and the block is scanned again', async () => {
  const { store, clock, a } = setup();
  for (let i = 0; i < 5; i++) await a.allocate(owner(`p${i}`));
  assert.deepEqual(a.fullBlocks.get(blk('node-a', 0))?.blocks, [0]);
  // Another process (an operator's release --force) frees mac(3) in block 0; node-a's record of it is now stale.
  await ledger(store, 'node-a', clock).operatorRelease(mac(3), owner('p3'), true);
  assert.equal(await a.allocate(owner('late')), mac(5), 'nothing told node-a: block 0 is still skipped');
  // node-a's own write to block 0 (a DEL) meets a 409 on its stale copy and re-reads it: the record of block 0 is dropped.
  await a.release(mac(2), owner('p2'));
  assert.equal(a.fullBlocks.has(blk('node-a', 0)), false);
  assert.equal(a.seen.get(blk('node-a', 0))?.resourceVersion, store.cms.get(blk('node-a', 0))!.resourceVersion);
  assert.equal(await a.allocate(owner('later')), mac(3));
});

// ---- legacy leases (releases before 15) side by side ----

/** A pool as a release before 15 left it: blocks 0 and 2 leased to node-a by its bare name, their MACs in macmux-ledger-node-a. */
async function legacySetup() {
  const s = setup();
  await s.a.pool();
  await editPool(s.store, (d) => {
    d.LEASES = JSON.stringify({ '0': 'node-a', '2': 'node-a' });
  });
  const held = (p: string): Holding => ({ owner: owner(p), state: 'active', node: 'node-a', since: T, uid: `uid-${p}-1` });
  const data = { [macKey(mac(0))]: encodeHolding(held('old0')), [macKey(mac(9))]: encodeHolding(held('old9')) };
  assert.notEqual(await s.store.create({ name: ledgerCm('node-a'), labels: { [LEDGER_LABEL]: 'node' }, data }), 'exists');
  return s;
}

test('legacy leases: claims and releases of MACs of legacy blocks go to the legacy ledger, their home for every release', async () => {
  const { store, clock, a, b } = await legacySetup();
  await b.claim(mac(1), pod('req'));
  await a.claim(mac(10), pod('req2'));
  assert.equal(holdingIn(store, ledgerCm('node-a'), mac(1))?.owner, owner('req'));
  assert.equal(holdingIn(store, ledgerCm('node-a'), mac(10))?.owner, owner('req2'));
  assert.deepEqual(leasesOf(store), { '0': 'node-a', '2': 'node-a' }, 'no lease changed');
  assert.deepEqual([...store.cms.keys()].sort(), [ledgerCm('node-a'), POOL_CM], 'no block ConfigMap');
  assert.equal(await a.release(mac(0), pod('old0')), true);
  assert.equal(holdingIn(store, ledgerCm('node-a'), mac(0))?.state, 'released');
  await rejects(b.claim(mac(0), owner('other')), Code.MacConflict, /held by ns\/old0\/net1/);
  await rejects(b.claim(mac(9), owner('other')), Code.MacConflict, /held by ns\/old9\/net1/);
  clock.t += GRACE;
  await b.claim(mac(0), owner('other'));
  assert.equal(holdingIn(store, ledgerCm('node-a'), mac(0))?.owner, owner('other'));
  // findHeld looks in this node's legacy blocks too: the legacy ledger read once, though it is the home of two blocks.
  const gets = store.reads.get;
  assert.equal(await a.findHeld(pod('old9'), []), mac(9));
  assert.equal(await a.findHeld(pod('nobody'), []), undefined);
  assert.equal(store.reads.get - gets, 4, 'each lookup: the pool, then the legacy ledger');
});

test('legacy leases: allocate hands out a MAC of a legacy block only as a last resort, once no block is left to lease', async () => {
  const { store, a, b } = await legacySetup();
  const got: string[] = [];
  for (let i = 0; i < 5; i++) got.push(await a.allocate(owner(`n${i}`)));
  // Blocks 0 and 2 have free MACs, but they are the legacy ledger's: block 1, then block 3.
  assert.deepEqual(got, [mac(4), mac(5), mac(6), mac(7), mac(12)]);
  assert.deepEqual(leasesOf(store), { '0': 'node-a', '1': 'node-a.b1', '2': 'node-a', '3': 'node-a.b3' });
  assert.deepEqual(Object.keys(dataOf(store, ledgerCm('node-a'))!).sort(), [macKey(mac(0)), macKey(mac(9))], 'the legacy ledger took nothing');
  for (let i = 5; i < 8; i++) await a.allocate(owner(`n${i}`));
  // Every block leased and node-a's new-style ones full: its legacy blocks' free MACs, in the legacy ledger (their home).
  const last: string[] = [];
  for (let i = 0; i < 6; i++) last.push(await a.allocate(owner(`last${i}`)));
  assert.deepEqual(last, [mac(1), mac(2), mac(3), mac(8), mac(10), mac(11)]);
  assert.equal(holdingIn(store, ledgerCm('node-a'), mac(1))?.owner, owner('last0'));
  await rejects(a.allocate(owner('late')), Code.PoolExhausted);
  await rejects(b.allocate(owner('late')), Code.PoolExhausted, /exhausted/);
});

test('home.ts: lease values of both styles, their node, blocks and homes, with node names ending in .b<digits>', () => {
  assert.equal(leaseValue('node-a', 3), 'node-a.b3');
  const cases: Array<[string, number, boolean, string]> = [
    ['node-a', 3, true, 'node-a'],
    ['node-a.b3', 3, false, 'node-a'],
    // A node named x.b3: its legacy lease of block 4, and its new-style lease of block 3.
    ['x.b3', 4, true, 'x.b3'],
    ['x.b3.b3', 3, false, 'x.b3'],
    ['n.b12', 2, true, 'n.b12'],
    ['n.b1.b12', 12, false, 'n.b1'],
    ['.b3', 3, true, '.b3'],
  ];
  for (const [value, k, legacy, node] of cases) {
    assert.equal(isLegacyLease(value, k), legacy, `${value} of block ${k}`);
    assert.equal(leaseNode(value, k), node, `${value} of block ${k}`);
  }
  const leases: Leases = { '0': 'a', '1': 'a.b1', '2': 'x.b7', '3': 'x.b7.b3', '4': 'b.b4', '7': 'x.b7' };
  assert.deepEqual(blocksOf(leases, 'a'), [0, 1]);
  assert.deepEqual(ownBlocks(leases, 'a'), [1]);
  assert.deepEqual(blocksOf(leases, 'x.b7'), [2, 3, 7]);
  assert.deepEqual(ownBlocks(leases, 'x.b7'), [3]);
  assert.deepEqual(blocksOf(leases, 'b'), [4]);
  assert.deepEqual(blocksOf(leases, 'c'), []);
  // The documented ambiguity: x.b7's legacy lease of block 7 reads as node x's new-style lease too (both write the same home by compare-and-swap).
  assert.deepEqual(blocksOf(leases, 'x'), [7]);
  const spec = parseRange('02:00:00:00:00:00', '02:00:00:00:00:1f', 4);
  const home = (m: string) => homeOf(m, macToInt(m), spec, leases);
  assert.deepEqual([mac(1), mac(5), mac(9), mac(13), mac(17), mac(29), mac(20)].map(home), [
    'macmux-ledger-a',
    'macmux-ledger-a.b1',
    'macmux-ledger-x.b7',
    'macmux-ledger-x.b7.b3',
    'macmux-ledger-b.b4',
    'macmux-ledger-x.b7',
    POOL_CM,
  ]);
  assert.equal(home('0a:00:00:00:00:01'), claimsCm('0a:00:00:00:00:01'));
});

// ---- the pool's bound ----

test('the pool ConfigMap stays within POOL_MAX_BYTES: a lease that would take it past is refused with code 101 and writes nothing', async () => {
  const range = { rangeStart: '02:00:00:00:00:00', rangeEnd: '02:00:00:00:ff:ff', blockSize: 1 };
  const store = new MemoryStore();
  const clock = { t: T };
  await ledger(store, 'node-0', clock, { fallback: range }).pool();
  // Leases of nodes with long names, then short ones, until another short one would take the pool within 100 bytes of its bound.
  const long = (i: number) => `${'n'.repeat(240)}-${i}`;
  const leases: Leases = {};
  const size = () => Buffer.byteLength(JSON.stringify({ ...store.cms.get(POOL_CM)!.data, LEASES: JSON.stringify(leases) }));
  let k = 0;
  for (; size() < POOL_MAX_BYTES - 2000; k++) leases[String(k)] = leaseValue(long(k), k);
  for (; ; k++) {
    leases[String(k)] = leaseValue(`s${k}`, k);
    if (size() > POOL_MAX_BYTES - 100) break;
  }
  delete leases[String(k)];
  assert.ok(k > 900, `${k} leases`);
  await editPool(store, (d) => {
    d.LEASES = JSON.stringify(leases);
  });
  const rv = store.cms.get(POOL_CM)!.resourceVersion;
  const writes = store.writes;
  const big = ledger(store, 'b'.repeat(253), clock, { fallback: range });
  await rejects(big.allocate(owner('p')), Code.PoolExhausted, new RegExp(`ConfigMap macmux-pool would grow to \\d+ bytes with another lease, past its bound of ${POOL_MAX_BYTES}`));
  await rejects(big.claim(mac(50_000), owner('q')), Code.PoolExhausted, /past its bound/);
  assert.equal(store.cms.get(POOL_CM)!.resourceVersion, rv);
  assert.equal(store.writes, writes, 'nothing written');
  // A short lease value still fits: the bound is on bytes.
  const small = ledger(store, 'n', clock, { fallback: range });
  assert.equal(await small.allocate(owner('p')), mac(k));
  assert.equal(leasesOf(store)[String(k)], `n.b${k}`);
  assert.ok(Buffer.byteLength(JSON.stringify(store.cms.get(POOL_CM)!.data)) <= POOL_MAX_BYTES);
});

// ---- findHeld: what a dead ADD took ----

test("findHeld: the MAC held for the pod among the candidates or in this node's blocks; not another UID's, owner's, node's, nor a released one", async () => {
  const { a, b } = setup();
  const m = await a.allocate(pod('x'));
  await a.allocate(pod('y'));
  const far = '0a:00:00:00:00:01';
  await a.claim(far, pod('z'));
  assert.equal(await a.findHeld(pod('x'), []), m, "found in this node's block");
  assert.equal(await a.findHeld(pod('x'), ['0a:00:00:00:00:09', mac(12)]), m, 'candidates whose homes do not exist are passed over');
  assert.equal(await a.findHeld(pod('z'), []), undefined, 'a claims shard is searched only as a candidate');
  assert.equal(await a.findHeld(pod('z'), [far]), far);
  assert.equal(await a.findHeld(pod('x', 2), [m]), undefined, 'another UID');
  assert.equal(await a.findHeld(owner('x'), [m]), undefined, 'no UID');
  assert.equal(await a.findHeld(pod('nobody'), [m]), undefined, 'another owner');
  assert.equal(await b.findHeld(pod('x'), [m]), undefined, 'written by node-a, not node-b');
  // node-b's claim in node-a's block: found as a candidate, not by a scan of node-b's blocks.
  await b.claim(mac(2), pod('w'));
  assert.equal(await b.findHeld(pod('w'), []), undefined);
  assert.equal(await b.findHeld(pod('w'), [mac(2)]), mac(2));
  await a.release(m, pod('x'));
  assert.equal(await a.findHeld(pod('x'), [m]), undefined, 'released');
});

// ---- compare-and-swap ----

test('a 409 on the ledger write is retried on a fresh copy, and the MAC is recorded', async () => {
  const store = new HookStore();
  const clock = { t: T };
  const a = ledger(store, 'node-a', clock);
  const b = ledger(store, 'node-b', clock);
  await a.allocate(owner('p0'));
  // Before node-a's next write, another node claims the MAC node-a is about to take.
  let staged = false;
  store.before = async (op, cm) => {
    if (!staged && op === 'update' && cm.name === blk('node-a', 0)) {
      staged = true;
      await b.claim(mac(1), owner('b-req'));
    }
  };
  assert.equal(await a.allocate(owner('p1')), mac(2));
  assert.equal(holdingIn(store, blk('node-a', 0), mac(1))?.owner, owner('b-req'));
  assert.equal(holdingIn(store, blk('node-a', 0), mac(2))?.owner, owner('p1'));
});

test('a store that always answers 409 makes the ledger give up with code 11 after maxConflicts', async () => {
  const inner = new MemoryStore();
  const clock = { t: T };
  await ledger(inner, 'node-a', clock).allocate(owner('p0'));
  const chaos = new ChaosStore(inner, () => 0, 1, 0);
  const a = ledger(chaos, 'node-a', clock, { maxConflicts: 5 });
  await rejects(a.allocate(owner('p1')), Code.TryAgainLater, /gave up after 5 conflicting writes/);
  assert.equal(chaos.conflicts, 5);
  await rejects(a.claim(mac(2), owner('p2')), Code.TryAgainLater); // its home, block 0's ConfigMap, exists: every update is a 409
});

test('the common case costs one write: a second allocation on the same node is a single update', async () => {
  const { store, a } = setup();
  await a.allocate(owner('p0'));
  const before = store.writes;
  assert.equal(await a.allocate(owner('p1')), mac(1));
  assert.equal(store.writes - before, 1);
  // A release and a claim in the node's own block are one write each, too.
  await a.release(mac(1), owner('p1'));
  assert.equal(store.writes - before, 2);
  await a.claim(mac(3), owner('req'));
  assert.equal(store.writes - before, 3);
});

test('a new ledger primed with the ConfigMaps seen by the last invocation also allocates with one write', async () => {
  const { store, clock, a } = setup();
  await a.allocate(owner('p0'));
  const next = ledger(store, 'node-a', clock);
  for (const [name, cm] of a.seen) next.seen.set(name, cm);
  const before = store.writes;
  assert.equal(await next.allocate(owner('p1')), mac(1));
  assert.equal(store.writes - before, 1);
});

// ---- two nodes under load ----

interface Op {
  kind: 'allocate' | 'claim';
  node: 'node-a' | 'node-b';
  owner: string;
  mac?: string;
}
interface Outcome extends Op {
  got?: string;
  err?: CniError;
}

/**
 * A few hundred allocations and claims, shuffled: claims nobody else makes, claims several owners make of
 * the same MAC on purpose, and claims inside the blocks allocation is filling (contested with allocate).
 */
function workload(rnd: () => number): { ops: Op[]; overlapping: Set<string>; contested: Set<string> } {
  const ops: Op[] = [];
  const node = (i: number) => (i % 2 === 0 ? 'node-a' : 'node-b');
  for (let i = 0; i < 200; i++) ops.push({ kind: 'allocate', node: node(i), owner: ownerOf('load', `alloc-${i}`, 'net1') });
  // Requested MACs: inside the range, each the last MAC of its own block among the top 30 (a claim leases its block to the
  // claiming node, whose allocations then start at the block's first MAC and never get that far), and outside it.
  const inside = (k: number) => intToMac(macToInt('02:00:00:00:00:00') + (34 + k) * 32 + 31);
  const outside = (k: number) => intToMac(macToInt('00:1b:2c:00:00:00') + k * 1031);
  for (let k = 0; k < 20; k++) ops.push({ kind: 'claim', node: node(k), owner: ownerOf('load', `solo-in-${k}`, 'net1'), mac: inside(k) });
  for (let k = 0; k < 20; k++) ops.push({ kind: 'claim', node: node(k + 1), owner: ownerOf('load', `solo-out-${k}`, 'net1'), mac: outside(k) });
  const overlapping = new Set<string>();
  for (let k = 0; k < 20; k++) {
    const m = k < 10 ? inside(20 + k) : outside(100 + k);
    overlapping.add(m);
    for (let j = 0; j < 3; j++) ops.push({ kind: 'claim', node: node(j + k), owner: ownerOf('load', `dup-${k}-${j}`, 'net1'), mac: m });
  }
  const contested = new Set<string>();
  for (let k = 0; k < 20; k++) {
    const m = intToMac(macToInt('02:00:00:00:00:00') + 5 + k * 9);
    contested.add(m);
    ops.push({ kind: 'claim', node: node(k), owner: ownerOf('load', `contested-${k}`, 'net1'), mac: m });
  }
  for (let i = ops.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [ops[i], ops[j]] = [ops[j]!, ops[i]!];
  }
  return { ops, overlapping, contested };
}

const LOAD_RANGE = { rangeStart: '02:00:00:00:00:00', rangeEnd: '02:00:00:00:07:ff', blockSize: 32 };

for (const chaos of [false, true]) {
  test(`two nodes, ${chaos ? 'with injected 409s and foreign writes' : 'on a plain store'}: 320 concurrent allocations and claims, no duplicate anywhere`, async () => {
    const inner = new MemoryStore();
    const rnd = prng(chaos ? 0xc0ffee : 0x5eed);
    const store: CmStore = chaos ? new ChaosStore(inner, rnd, 0.15, 0.1) : inner;
    const clock = { t: T };
    const ledgers = {
      'node-a': ledger(store, 'node-a', clock, { fallback: LOAD_RANGE, maxConflicts: 100_000 }),
      'node-b': ledger(store, 'node-b', clock, { fallback: LOAD_RANGE, maxConflicts: 100_000 }),
    };
    const { ops, overlapping, contested } = workload(rnd);
    const outcomes: Outcome[] = await Promise.all(
      ops.map(async (op): Promise<Outcome> => {
        const l = ledgers[op.node];
        try {
          if (op.kind === 'allocate') return { ...op, got: await l.allocate(op.owner) };
          await l.claim(op.mac!, op.owner);
          return { ...op, got: op.mac! };
        } catch (e) {
          assert.ok(e instanceof CniError, String(e));
          return { ...op, err: e };
        }
      }),
    );
    if (chaos) {
      const c = store as ChaosStore;
      assert.ok(c.conflicts > 20 && c.foreign > 20, `chaos happened: ${c.conflicts} 409s, ${c.foreign} foreign writes`);
    }

    // Allocations and the claims nobody else wanted all succeed.
    const failed = outcomes.filter((o) => o.err && !(o.kind === 'claim' && (overlapping.has(o.mac!) || contested.has(o.mac!))));
    assert.deepEqual(failed.map((o) => `${o.kind} ${o.owner}: ${o.err!.code} ${o.err!.message}`), []);
    const spec = parseRange(LOAD_RANGE.rangeStart, LOAD_RANGE.rangeEnd, LOAD_RANGE.blockSize);
    for (const o of outcomes.filter((x) => x.kind === 'allocate')) assert.ok(inRange(spec, macToInt(o.got!)) && assignable(macToInt(o.got!)), o.got);

    // Each overlapping MAC went to exactly one owner; the others were told who holds it.
    for (const m of overlapping) {
      const tries = outcomes.filter((o) => o.mac === m);
      const won = tries.filter((o) => o.got);
      assert.equal(won.length, 1, `${m}: ${won.map((o) => o.owner).join(', ')}`);
      for (const lost of tries.filter((o) => o.err)) {
        assert.equal(lost.err!.code, Code.MacConflict);
        assert.match(lost.err!.message, new RegExp(`already held by ${won[0]!.owner}`));
      }
    }

    // No MAC is handed to two callers.
    const ok = outcomes.filter((o) => o.got);
    const byMac = new Map(ok.map((o) => [o.got!, o]));
    assert.equal(byMac.size, ok.length, 'no MAC was handed to two callers');

    // A contested claim either won, or lost to the allocation that holds the MAC and was told so.
    for (const o of outcomes.filter((x) => contested.has(x.mac!))) {
      const holder = byMac.get(o.mac!);
      assert.ok(holder, `${o.mac} went to nobody`);
      if (o.got) continue;
      assert.equal(o.err!.code, Code.MacConflict);
      assert.equal(holder.kind, 'allocate');
      assert.match(o.err!.message, new RegExp(`already held by ${holder.owner}`));
    }
    const contestedWon = outcomes.filter((o) => contested.has(o.mac!) && o.got).length;

    // No MAC is held by two owners, in any ConfigMap; every holding belongs to a successful call.
    const held = allHoldings(inner);
    for (const [m, hs] of held) {
      assert.equal(new Set(hs.map((x) => x.h.owner)).size, 1, `${m}: ${hs.map((x) => `${x.cm}=${x.h.owner}`).join(', ')}`);
      assert.equal(byMac.get(m)?.owner, hs[0]!.h.owner, `${m} is held by ${hs[0]!.h.owner}, who did not get it`);
    }

    // Every successful call is recorded at its MAC's home.
    const leases = leasesOf(inner);
    for (const o of ok) {
      const home = homeOf(o.got!, macToInt(o.got!), spec, leases);
      const h = holdingIn(inner, home, o.got!);
      assert.equal(h?.owner, o.owner, `${o.got} at ${home}`);
      assert.equal(h?.state, 'active');
    }

    // Each node leased only the blocks it filled (a block is leased when the node's others are full), and those its claims fell in.
    for (const node of ['node-a', 'node-b'] as const) {
      const mine = Object.entries(leases).filter(([k, v]) => v === leaseValue(node, k));
      assert.equal(mine.length, blocksOf(leases, node).length, `${node}: every lease new-style`);
      for (const [k] of mine) assert.ok(Object.keys(dataOf(inner, blk(node, Number(k))) ?? {}).length > 0, `${node}: block ${k} leased and empty`);
      const allocs = ops.filter((o) => o.node === node && o.kind === 'allocate').length;
      const claimed = new Set(ops.filter((o) => o.node === node && o.kind === 'claim' && inRange(spec, macToInt(o.mac!))).map((o) => Math.floor((macToInt(o.mac!) - spec.start) / spec.blockSize))).size;
      assert.ok(mine.length <= Math.ceil(allocs / LOAD_RANGE.blockSize) + claimed, `${node} leased ${mine.length} blocks for ${allocs} allocations and claims in ${claimed} blocks`);
    }
    assert.ok(contestedWon > 0, 'some contested claims won');
  });
}

test('before leasing another block, a node reads once more the blocks it skipped as full: a MAC freed there by another writer is handed out', async () => {
  const { store, a, b } = setup();
  for (let i = 0; i < 4; i++) await a.allocate(owner(`p${i}`));
  assert.equal(await a.allocate(owner('p4')), mac(4), 'block 0 full: block 1 leased');
  for (let i = 5; i < 8; i++) await a.allocate(owner(`p${i}`));
  // Another writer (an operator's forced release, from anywhere) frees a MAC of block 0, which node-a skips unread as full.
  await b.operatorRelease(mac(2), owner('p2'), true);
  const leases = JSON.stringify(leasesOf(store));
  assert.equal(await a.allocate(owner('late')), mac(2));
  assert.equal(JSON.stringify(leasesOf(store)), leases, 'no block leased');
});

test('requested MACs may lease blocks only up to three quarters of the pool bound: the rest stays for pool allocation', async () => {
  // 02:00:00:00:00:00 - 02:00:00:ff:ff:ff in blocks of 4: more blocks than the pool can list.
  const wide = { rangeStart: '02:00:00:00:00:00', rangeEnd: '02:00:00:ff:ff:ff', blockSize: 4 };
  const { store, a } = setup(wide);
  await a.pool();
  // Leases of long node names just past three quarters of the bound (well under the bound itself).
  const long = 'n'.repeat(200);
  await editPool(store, (d) => {
    const leases: Record<string, string> = {};
    for (let b = 1000; Buffer.byteLength(JSON.stringify({ ...d, LEASES: JSON.stringify(leases) })) <= CLAIM_LEASE_BYTES; b++) leases[String(b)] = leaseValue(long, b);
    d.LEASES = JSON.stringify(leases);
  });
  const before = dataOf(store, POOL_CM)!.LEASES;
  // A requested MAC of block 5 (nobody's): its lease would pass the claims' share, so it is refused and nothing changes.
  await rejects(a.claim(intToMac(macToInt('02:00:00:00:00:00') + 5 * 4 + 1), owner('req')), Code.PoolExhausted, /for a requested MAC.*kept for pool allocation/);
  assert.equal(dataOf(store, POOL_CM)!.LEASES, before);
  // A pool allocation may still lease.
  const got = await a.allocate(owner('alloc'));
  assert.equal(JSON.parse(dataOf(store, POOL_CM)!.LEASES!)['0'], leaseValue('node-a', 0), got);
});

test('a claims shard drops the holdings that are free again as it is written: it does not keep every MAC ever requested', async () => {
  const { store, clock, a } = setup();
  const outside = (i: number) => intToMac(macToInt('00:1b:2c:00:00:00') + i * 977);
  // Two MACs of the same shard.
  const first = outside(0);
  let i = 1;
  while (claimsCm(outside(i)) !== claimsCm(first)) i++;
  await a.claim(first, owner('old'));
  await a.release(first, owner('old'));
  clock.t += GRACE;
  await a.claim(outside(i), owner('new'));
  assert.equal(holdingIn(store, claimsCm(first), first), undefined, 'the free one is gone');
  assert.equal(holdingIn(store, claimsCm(first), outside(i))?.owner, owner('new'));
});

test("findOwner: a pod's attachments share one owner-index object, read once per verb when the verb passes its reads along", async () => {
  const { store, a, b } = setup();
  const p = { owner: ownerOf('ns', 'web-0', 'net1'), uid: 'u1' };
  const q = { owner: ownerOf('ns', 'web-0', 'net2'), uid: 'u1' };
  const m1 = await a.allocate(p);
  const m2 = await a.allocate(q);
  for (const [m, w] of [[m1, p], [m2, q]] as const) await a.release(m, w);
  await a.recordReleased([{ mac: m1, who: p }, { mac: m2, who: q }]);
  const gets = store.reads.get;
  const reads = new Map();
  assert.deepEqual([await b.findOwner({ ...p, uid: 'u2' }, reads), await b.findOwner({ ...q, uid: 'u2' }, reads)], [m1, m2]);
  assert.equal(store.reads.get - gets, 1, 'one GET for both attachments');
  await b.findOwner({ ...p, uid: 'u2' });
  assert.equal(store.reads.get - gets, 2, 'without shared reads, a GET each');
});

test("releaseMany: one DEL's MACs of one block in one write; another owner's holding untouched; a MAC elsewhere on its own", async () => {
  const { store, a, b } = setup();
  const p = (att: string) => ({ owner: ownerOf('ns', 'web-0', att), uid: 'u1' });
  const m1 = await a.allocate(p('net1'));
  const m2 = await a.allocate(p('net2'));
  const theirs = await a.allocate({ owner: ownerOf('ns', 'other', 'net1'), uid: 'u9' });
  const outside = '00:1b:2c:00:00:07';
  await a.claim(outside, p('net3'));
  const writes = store.writes;
  const results = await a.releaseMany([
    { mac: m1, who: p('net1') },
    { mac: m2, who: p('net2') },
    { mac: theirs, who: p('net4') },
    { mac: outside, who: p('net3') },
  ]);
  assert.deepEqual(results, [true, true, false, true]);
  assert.equal(store.writes - writes, 2, 'the block once, the claims shard once');
  for (const m of [m1, m2]) assert.equal(holdingIn(store, blk('node-a', 0), m)?.state, 'released');
  assert.equal(holdingIn(store, blk('node-a', 0), theirs)?.state, 'active');
  assert.equal(holdingIn(store, claimsCm(outside), outside)?.state, 'released');
  // Again: nothing to change, nothing written, and each still reads as released for its owner.
  assert.deepEqual(await a.releaseMany([{ mac: m1, who: p('net1') }, { mac: m2, who: p('net2') }]), [true, true]);
  assert.equal(store.writes - writes, 2);
  // The pod re-created on node-b took m1 back: a late DEL on node-a leaves it.
  await b.claim(m1, { owner: ownerOf('ns', 'web-0', 'net1'), uid: 'u2' });
  assert.deepEqual(await a.releaseMany([{ mac: m1, who: p('net1') }, { mac: m2, who: p('net2') }]), [false, true]);
  assert.equal(holdingIn(store, blk('node-a', 0), m1)?.state, 'active');
});

test('recordReleased creates a new owner-index object without reading it first; an existing one is read and updated', async () => {
  const { store, a } = setup();
  const p = { owner: ownerOf('ns', 'web-0', 'net1'), uid: 'u1' };
  const gets = store.reads.get;
  const [w] = await a.recordReleased([{ mac: mac(1), who: p }]);
  assert.ok(w);
  assert.equal(store.reads.get - gets, 0, 'created without a GET');
  const [w2] = await a.recordReleased([{ mac: mac(2), who: p }]);
  assert.equal(store.reads.get - gets, 1, 'it exists now: read, then updated');
  assert.notEqual(w2!.resourceVersion, w!.resourceVersion);
  assert.equal(await a.findOwner({ ...p, uid: 'u2' }), mac(2));
});

// ---- take: one pod's MACs, one write per home ----

/** A MemoryStore whose next update of `name` is applied but answered with a 409 (its answer lost, the retry conflicts), after `before` runs (and `after` once it is applied). */
class LostAnswerStore extends MemoryStore {
  lose?: { name: string; before?: () => Promise<void>; after?: () => Promise<void>; apply: boolean };
  override async update(cm: Cm): Promise<Cm | 'conflict'> {
    const lose = this.lose;
    if (lose && lose.name === cm.name) {
      this.lose = undefined;
      await lose.before?.();
      if (!lose.apply) return super.update(cm);
      await super.update(cm);
      await lose.after?.();
      return 'conflict';
    }
    return super.update(cm);
  }
}

const net = (name: string, att: string, gen = 1) => ({ owner: ownerOf('ns', name, att), uid: `uid-${name}-${gen}` });
const gotMac = (t: unknown): string => {
  assert.ok(t && typeof t === 'object' && 'mac' in t, `a MAC, not ${JSON.stringify(t)}`);
  return (t as { mac: string }).mac;
};

test('take: two pool MACs of one pod in the block this node leases are one write', async () => {
  const { store, a } = setup();
  await a.allocate(pod('warm')); // the node leases block 0
  const writes = store.writes;
  const got = await a.take([{ who: net('p', 'net1') }, { who: net('p', 'net2') }]);
  assert.equal(store.writes - writes, 1);
  const [m1, m2] = got.map(gotMac);
  assert.notEqual(m1, m2);
  assert.equal(holdingIn(store, blk('node-a', 0), m1!)?.owner, net('p', 'net1').owner);
  assert.equal(holdingIn(store, blk('node-a', 0), m2!)?.owner, net('p', 'net2').owner);
});

test('take: a sticky MAC and a pool MAC in the same home are one write; the pool MAC is never the sticky one', async () => {
  const { store, a, clock } = setup();
  const first = await a.allocate(net('p', 'net1'));
  await a.release(first, net('p', 'net1'));
  clock.t += 10;
  const writes = store.writes;
  const got = await a.take([{ who: net('p', 'net1', 2), mac: first }, { who: net('p', 'net2', 2) }]);
  assert.equal(store.writes - writes, 1);
  assert.equal(gotMac(got[0]), first);
  assert.notEqual(gotMac(got[1]), first);
  assert.equal(holdingIn(store, blk('node-a', 0), first)?.uid, 'uid-p-2');
  assert.equal(holdingIn(store, blk('node-a', 0), first)?.state, 'active');
});

test("take: a sticky MAC another pod holds now is not taken back: a pool MAC instead, in the same write, with why", async () => {
  const { store, a, clock } = setup();
  const first = await a.allocate(net('p', 'net1'));
  await a.release(first, net('p', 'net1'));
  clock.t += GRACE + 1;
  await a.claim(first, pod('other'));
  const writes = store.writes;
  const got = await a.take([{ who: net('p', 'net1', 2), mac: first }]);
  assert.equal(store.writes - writes, 1);
  assert.notEqual(gotMac(got[0]), first);
  assert.match((got[0] as { lost?: string }).lost ?? '', /already held by ns\/other\/net1/);
  assert.equal(holdingIn(store, blk('node-a', 0), first)?.owner, owner('other'));
});

test('take: a requested MAC another pod holds refuses the batch with code 100, before any home is written', async () => {
  const { store, a, b } = setup();
  const theirs = await b.allocate(pod('other')); // block 0, node-b's
  await a.allocate(pod('warm')); // block 1, node-a's
  const before = JSON.stringify([...store.cms]);
  const writes = store.writes;
  const got = await a.take([{ who: net('p', 'net1') }, { who: net('p', 'net2'), mac: theirs, strict: true }]);
  assert.equal(got[0], undefined, 'the pool MAC is not taken');
  assert.ok(got[1] && 'error' in got[1]);
  assert.ok(got[1].error instanceof CniError && got[1].error.code === Code.MacConflict);
  assert.match((got[1].error as Error).message, /already held by ns\/other\/net1/);
  assert.equal(store.writes, writes);
  assert.equal(JSON.stringify([...store.cms]), before);
});

test('take: a 409 in the middle (another writer took the MAC first) is retried on a fresh copy: two other MACs, no duplicate', async () => {
  const store = new LostAnswerStore();
  const clock = { t: T };
  const a = ledger(store, 'node-a', clock);
  await a.allocate(pod('warm'));
  let theirs = '';
  store.lose = {
    name: blk('node-a', 0),
    apply: false,
    // Another writer (this node's other ADD, through a copy of its own) takes the next free MAC first.
    before: async () => {
      const other = ledger(store, 'node-a', clock);
      store.lose = undefined;
      theirs = await other.allocate(pod('rival'));
    },
  };
  const got = await a.take([{ who: net('p', 'net1') }, { who: net('p', 'net2') }]);
  const macs = got.map(gotMac);
  assert.ok(theirs);
  assert.ok(!macs.includes(theirs), `${macs} must not include the rival's ${theirs}`);
  assert.equal(new Set(macs).size, 2);
  const data = dataOf(store, blk('node-a', 0))!;
  const owners = Object.entries(data).filter(([k]) => !POOL_KEYS.has(k)).map(([, v]) => decodeHolding(v)!.owner);
  assert.deepEqual(owners.sort(), [owner('rival'), owner('warm'), net('p', 'net1').owner, net('p', 'net2').owner].sort());
});

test('take: a write applied whose answer was lost (the retry gets a 409) keeps the MACs it wrote: no second pair', async () => {
  const store = new LostAnswerStore();
  const clock = { t: T };
  const a = ledger(store, 'node-a', clock);
  await a.allocate(pod('warm'));
  store.lose = { name: blk('node-a', 0), apply: true };
  const got = await a.take([{ who: net('p', 'net1') }, { who: net('p', 'net2') }]);
  const macs = got.map(gotMac);
  const data = dataOf(store, blk('node-a', 0))!;
  const held = Object.entries(data).filter(([k]) => !POOL_KEYS.has(k)).map(([k, v]) => [k, decodeHolding(v)!.owner] as const);
  assert.equal(held.length, 3, JSON.stringify(held));
  for (const m of macs) assert.ok(held.some(([k]) => k === macKey(m)));
});

/**
 * A sticky MAC held by a live pod of the same name (its old pod, gen 1): the write gives gen 2 a pool MAC instead,
 * with its second attachment's, is applied and its answer lost; then gen 1's DEL releases the sticky MAC (and `after` runs), so the retry may take it back.
 */
async function stickyFreedAfterLostAnswer(uid2: string, after?: (cm: Cm, poolKey: string) => void) {
  const store = new LostAnswerStore();
  const clock = { t: T };
  const a = ledger(store, 'node-a', clock);
  const old = net('p', 'net1');
  const sticky = await a.allocate(old);
  const home = blk('node-a', 0);
  let poolKey = '';
  store.lose = {
    name: home,
    apply: true,
    after: async () => {
      poolKey = Object.entries(dataOf(store, home)!).find(([k, v]) => !POOL_KEYS.has(k) && decodeHolding(v)!.owner === old.owner && decodeHolding(v)!.uid === uid2)?.[0] ?? '';
      assert.ok(await ledger(store, 'node-a', clock).release(sticky, old));
      after?.(store.cms.get(home)!, poolKey);
    },
  };
  // Its second attachment takes a pool MAC: the block the sticky MAC's home is, in the same write.
  const got = await a.take([{ who: { owner: old.owner, uid: uid2 }, mac: sticky }, { who: { owner: net('p', 'net2').owner, uid: uid2 } }]);
  assert.ok(poolKey, 'the first write gave the pod a pool MAC');
  return { store, home, got, sticky, poolKey };
}

test('take: a pool MAC written by a try whose answer was lost is freed when the retry takes the sticky MAC back instead', async () => {
  const { store, home, got, sticky, poolKey } = await stickyFreedAfterLostAnswer('uid-p-2');
  assert.equal(gotMac(got[0]), sticky);
  assert.equal(holdingIn(store, home, sticky)?.uid, 'uid-p-2');
  assert.equal(dataOf(store, home)![poolKey], undefined, `pool MAC ${poolKey} left held: ${dataOf(store, home)![poolKey]}`);
});

test('take: a pool MAC written by a try whose answer was lost is freed when the retry goes on one by one (its home at its byte bound)', async () => {
  // Without the pool MAC the home is exactly at its bound: freeing it fits, taking the sticky MAC back (a holding with a longer UID than gen 1's) does not.
  const { store, home, got, poolKey } = await stickyFreedAfterLostAnswer('uid-p-2-with-a-longer-uid-than-the-first', (cm, key) => {
    const rest: Record<string, string> = { ...cm.data, junk: '' };
    delete rest[key];
    cm.data.junk = 'x'.repeat(MAX_OBJECT_BYTES - Buffer.byteLength(JSON.stringify(rest)));
  });
  assert.ok(got[0] && 'error' in got[0], `the sticky MAC does not fit: ${JSON.stringify(got[0])}`);
  assert.equal(dataOf(store, home)![poolKey], undefined, `pool MAC ${poolKey} left held: ${dataOf(store, home)![poolKey]}`);
});

test('take: pool MACs past what the block holds go on one by one (the next block leased)', async () => {
  const { store, a } = setup();
  await a.allocate(pod('warm'));
  const got = await a.take([1, 2, 3, 4, 5].map((k) => ({ who: net('p', `net${k}`) })));
  const macs = got.map(gotMac);
  assert.equal(new Set(macs).size, 5);
  assert.ok(ownBlocks(leasesOf(store), 'node-a').length >= 2);
});
