// Unit tests for src/mac/cluster.ts: the pool, block leases, claims on every MAC's home, grace, findOwner and compare-and-swap under contention, against MemoryStore.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterLedger, type ClusterOptions } from '../../src/mac/cluster';
import { MemoryStore, type Cm, type CmStore } from '../../src/mac/store';
import { decodeHolding, macKey, ownerOf, type Holding } from '../../src/mac/holding';
import { claimsCm, homeOf, ledgerCm, LEDGER_LABEL, POOL_CM, type Leases } from '../../src/mac/home';
import { assignable, inRange, intToMac, macToInt, parseRange } from '../../src/mac/range';
import { CniError, Code } from '../../src/cni/errors';

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

/** Every holding in every ConfigMap of the store, by MAC. */
function allHoldings(store: MemoryStore): Map<string, Array<{ cm: string; h: Holding }>> {
  const out = new Map<string, Array<{ cm: string; h: Holding }>>();
  for (const cm of store.cms.values()) {
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

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
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

test('allocate leases block 0, hands out its MACs in order, then leases the next block', async () => {
  const { store, a } = setup();
  const got: string[] = [];
  for (let i = 0; i < 4; i++) got.push(await a.allocate(owner(`p${i}`)));
  assert.deepEqual(got, [mac(0), mac(1), mac(2), mac(3)]);
  assert.deepEqual(leasesOf(store), { '0': 'node-a' });
  for (let i = 0; i < 4; i++) assert.deepEqual(holdingIn(store, ledgerCm('node-a'), got[i]!), { owner: owner(`p${i}`), state: 'active', node: 'node-a', since: T });
  assert.equal(store.cms.get(ledgerCm('node-a'))!.labels?.[LEDGER_LABEL], 'node');
  assert.equal(await a.allocate(owner('p4')), mac(4));
  assert.deepEqual(leasesOf(store), { '0': 'node-a', '1': 'node-a' });
});

test('two nodes lease different blocks, and each hands out only its own', async () => {
  const { store, a, b } = setup();
  assert.equal(await a.allocate(owner('a0')), mac(0));
  assert.equal(await b.allocate(owner('b0')), mac(4));
  assert.equal(await a.allocate(owner('a1')), mac(1));
  assert.equal(await b.allocate(owner('b1')), mac(5));
  assert.deepEqual(leasesOf(store), { '0': 'node-a', '1': 'node-b' });
  assert.equal(holdingIn(store, ledgerCm('node-b'), mac(5))?.owner, owner('b1'));
  assert.equal(holdingIn(store, ledgerCm('node-a'), mac(5)), undefined);
});

test('when every block is leased and full, allocate fails with code 101 naming the range', async () => {
  const { store, a, b } = setup({ rangeStart: '02:00:00:00:00:00', rangeEnd: '02:00:00:00:00:07', blockSize: 4 });
  for (let i = 0; i < 4; i++) await a.allocate(owner(`a${i}`));
  for (let i = 0; i < 4; i++) await b.allocate(owner(`b${i}`));
  const e = await rejects(a.allocate(owner('late')), Code.PoolExhausted, /02:00:00:00:00:00-02:00:00:00:00:07/);
  assert.match(e.message, /exhausted/);
  await rejects(b.allocate(owner('late')), Code.PoolExhausted);
  assert.deepEqual(leasesOf(store), { '0': 'node-a', '1': 'node-b' });
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
  assert.equal(holdingIn(store, ledgerCm('node-a'), mac(1))?.owner, owner('b-req'));
  assert.equal(await a.allocate(owner('a1')), mac(2));
  assert.equal(await a.allocate(owner('a2')), mac(3));
  await rejects(a.allocate(owner('a3')), Code.PoolExhausted);
});

test('concurrent allocations on one node lease only the blocks they fill', async () => {
  const store = new MemoryStore();
  const a = ledger(store, 'node-a', { t: T }, { maxConflicts: 1000 });
  const got = await Promise.all(Array.from({ length: 16 }, (_, i) => a.allocate(owner(`p${i}`))));
  assert.deepEqual([...got].sort(), Array.from({ length: 16 }, (_, i) => mac(i)));
  assert.deepEqual(leasesOf(store), { '0': 'node-a', '1': 'node-a', '2': 'node-a', '3': 'node-a' });
  await rejects(a.allocate(owner('late')), Code.PoolExhausted);
});

// ---- requested MACs ----

test('a claim inside an unleased block is recorded in the pool ConfigMap', async () => {
  const { store, b } = setup();
  await b.claim(mac(6), owner('req'));
  assert.deepEqual(holdingIn(store, POOL_CM, mac(6)), { owner: owner('req'), state: 'active', node: 'node-b', since: T });
  assert.deepEqual((await b.pool(true)).claims[mac(6)]?.owner, owner('req'));
  assert.deepEqual(leasesOf(store), {}, 'claiming does not lease');
});

test("a claim inside a leased block is recorded in that node's ledger, whichever node claims it", async () => {
  const { store, a, b } = setup();
  await a.allocate(owner('a0'));
  await b.claim(mac(2), owner('req'));
  assert.deepEqual(holdingIn(store, ledgerCm('node-a'), mac(2)), { owner: owner('req'), state: 'active', node: 'node-b', since: T });
  assert.equal(holdingIn(store, POOL_CM, mac(2)), undefined);
  assert.equal(store.cms.has(ledgerCm('node-b')), false);
});

test('a claim inside a block leased the legacy way to a node that has no ledger is code 11 and creates none (macmux ledger migrate moves such a block)', async () => {
  const { store, b } = setup();
  // Create the pool through node-b, then lease block 3 to node-z by hand, as a release before 15 did.
  await b.pool();
  const pool = store.cms.get(POOL_CM)!;
  assert.notEqual(await store.update({ ...pool, data: { ...pool.data, LEASES: '{"3":"node-z"}' } }), 'conflict');
  const quick = ledger(store, 'node-b', { t: T }, { sleep: async () => {} });
  await rejects(quick.claim(mac(13), owner('req')), Code.TryAgainLater, /macmux-ledger-node-z.*does not exist/);
  assert.equal(store.cms.has(ledgerCm('node-z')), false);
});

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
  ['in an unleased block (pool)', mac(9), false],
  ["in a leased block (node ledger)", mac(2), true],
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

test('allocate never hands out a claimed MAC, whether claimed in a leased block or before the lease', async () => {
  const { a, b } = setup();
  await b.claim(mac(1), owner('early')); // block 0, unleased: recorded in the pool
  assert.equal(await a.allocate(owner('p0')), mac(0));
  await b.claim(mac(2), owner('late')); // block 0, now node-a's: recorded in its ledger
  const got = [await a.allocate(owner('p1')), await a.allocate(owner('p2'))];
  assert.deepEqual(got, [mac(3), mac(4)]);
});

test("a claim made in the pool is migrated to the node's ledger when its block is leased, and stays refused to others", async () => {
  const { store, a, b } = setup();
  await b.claim(mac(2), pod('req'));
  assert.ok(holdingIn(store, POOL_CM, mac(2)));
  await a.allocate(owner('p0'));
  assert.deepEqual(leasesOf(store), { '0': 'node-a' });
  assert.equal(holdingIn(store, POOL_CM, mac(2)), undefined, 'no longer in the pool');
  assert.deepEqual(holdingIn(store, ledgerCm('node-a'), mac(2)), { owner: owner('req'), state: 'active', node: 'node-b', since: T, uid: 'uid-req-1' });
  const got = [await a.allocate(owner('p1')), await a.allocate(owner('p2')), await a.allocate(owner('p3'))];
  assert.deepEqual(got, [mac(1), mac(3), mac(4)]);
  await rejects(b.claim(mac(2), owner('other')), Code.MacConflict, /held by ns\/req\/net1/);
  await rejects(a.claim(mac(2), owner('other')), Code.MacConflict, /held by ns\/req\/net1/);
  await b.claim(mac(2), pod('req'));
  assert.equal(allHoldings(store).get(mac(2))!.length, 1);
});

test('a claim left in the pool after its block was leased (migration never ran) is still honoured everywhere', async () => {
  const { store, clock, a, b } = setup();
  await b.claim(mac(1), pod('req'));
  // node-a leased block 0 and died before moving the claim: LEASES says node-a, the claim is still in the pool.
  const pool = store.cms.get(POOL_CM)!;
  assert.notEqual(await store.update({ ...pool, data: { ...pool.data, LEASES: '{"0":"node-a"}' } }), 'conflict');
  assert.deepEqual([await a.allocate(owner('p0')), await a.allocate(owner('p1'))], [mac(0), mac(2)]);
  await rejects(b.claim(mac(1), owner('other')), Code.MacConflict, /held by ns\/req\/net1/);
  await b.claim(mac(1), pod('req'));
  // Released by its owner, it is kept during grace and then free for anyone.
  await b.release(mac(1), pod('req'));
  await rejects(b.claim(mac(1), owner('other')), Code.MacConflict);
  clock.t += GRACE;
  await b.claim(mac(1), owner('other'));
  assert.equal(holdingIn(store, ledgerCm('node-a'), mac(1))?.owner, owner('other'));
});

test("a release racing the migration of its claim is not undone by the migration's older copy", async () => {
  const store = new HookStore();
  const clock = { t: T };
  const a = ledger(store, 'node-a', clock);
  const b = ledger(store, 'node-b', clock);
  await b.claim(mac(1), owner('req'));
  // Just before node-a copies the claim into its ledger, its owner releases it from node-b.
  let raced = false;
  store.before = async (_op, cm) => {
    if (!raced && cm.name === ledgerCm('node-a') && cm.data[macKey(mac(1))]) {
      raced = true;
      await b.release(mac(1), owner('req'));
    }
  };
  await a.allocate(owner('p0'));
  assert.ok(raced, 'the race was staged');
  store.before = undefined;
  assert.equal(holdingIn(store, ledgerCm('node-a'), mac(1))?.state, 'released');
  clock.t += GRACE;
  await b.claim(mac(1), owner('other'));
  assert.equal(holdingIn(store, ledgerCm('node-a'), mac(1))?.owner, owner('other'));
});

test('a claim that races a lease of its block ends up in the new lessee ledger, not in the pool', async () => {
  const store = new HookStore();
  const clock = { t: T };
  const a = ledger(store, 'node-a', clock);
  const b = ledger(store, 'node-b', clock);
  await a.pool();
  // node-b read the pool (block 0 unleased) and is about to write its claim there; node-a leases block 0 first.
  let raced = false;
  store.before = async (op, cm) => {
    if (!raced && op === 'update' && cm.name === POOL_CM && cm.data[macKey(mac(2))]) {
      raced = true;
      await a.allocate(owner('p0'));
    }
  };
  await b.claim(mac(2), owner('req'));
  assert.ok(raced);
  store.before = undefined;
  assert.equal(holdingIn(store, POOL_CM, mac(2)), undefined);
  assert.equal(holdingIn(store, ledgerCm('node-a'), mac(2))?.owner, owner('req'));
  assert.deepEqual([await a.allocate(owner('p1')), await a.allocate(owner('p2'))], [mac(1), mac(3)]);
});

// ---- release and grace ----

test('release keeps a pool MAC for its owner during grace; after grace anyone may take it', async () => {
  const { store, clock, a, b } = setup();
  const m = await a.allocate(pod('web-0'));
  clock.t += 10;
  await a.release(m, pod('web-0'));
  assert.deepEqual(holdingIn(store, ledgerCm('node-a'), m), { owner: owner('web-0'), state: 'released', node: 'node-a', since: T + 10, uid: 'uid-web-0-1' });
  clock.t += GRACE - 1;
  await rejects(b.claim(m, owner('intruder')), Code.MacConflict, /held by ns\/web-0\/net1 \(uid uid-web-0-1, released on node node-a\) \(released 599s ago, held for its owner for 600s\)/);
  await b.claim(m, pod('web-0', 2));
  assert.deepEqual(holdingIn(store, ledgerCm('node-a'), m), { owner: owner('web-0'), state: 'active', node: 'node-b', since: T + GRACE + 9, uid: 'uid-web-0-2' });
  await b.release(m, pod('web-0', 2));
  clock.t += GRACE;
  await b.claim(m, owner('intruder'));
  assert.equal(holdingIn(store, ledgerCm('node-a'), m)?.owner, owner('intruder'));
});

for (const [where, m] of [
  ['in the pool', mac(9)],
  ['in a claims shard', '0a:00:00:00:00:01'],
] as const) {
  test(`release of a requested MAC ${where}: held during grace, free after`, async () => {
    const { store, clock, a, b } = setup();
    await a.claim(m, owner('req'));
    await a.release(m, owner('req'));
    const home = m === mac(9) ? POOL_CM : claimsCm(m);
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
  const first = holdingIn(store, ledgerCm('node-a'), m);
  const writes = store.writes;
  clock.t += 100;
  await a.release(m, owner('p0'));
  await a.release(m, owner('someone-else'));
  assert.deepEqual(holdingIn(store, ledgerCm('node-a'), m), first, 'the grace period still runs from the first release');
  const m2 = await a.allocate(owner('p1'));
  const w2 = store.writes;
  await a.release(m2, owner('someone-else'));
  assert.equal(holdingIn(store, ledgerCm('node-a'), m2)?.state, 'active');
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

// ---- findOwner: a pod re-created on another node ----

test('findOwner: released on node A, found and re-claimed from node B during grace', async () => {
  const { store, clock, a, b } = setup();
  await a.allocate(owner('other'));
  const m = await a.allocate(pod('web-0'));
  assert.equal(await b.findOwner(pod('web-0')), m, 'a live holding is found');
  clock.t += 30;
  await a.release(m, pod('web-0'));
  clock.t += GRACE - 1;
  assert.equal(await b.findOwner(pod('web-0')), m);
  await b.claim(m, pod('web-0'));
  assert.deepEqual(holdingIn(store, ledgerCm('node-a'), m), { owner: owner('web-0'), state: 'active', node: 'node-b', since: clock.t, uid: 'uid-web-0-1' });
  assert.equal(await b.findOwner(owner('nobody')), undefined);
});

test('findOwner: not after grace', async () => {
  const { clock, a, b } = setup();
  const m = await a.allocate(pod('web-0'));
  await a.release(m, pod('web-0'));
  clock.t += GRACE;
  assert.equal(await b.findOwner(pod('web-0')), undefined);
  assert.equal(await a.findOwner(pod('web-0')), undefined);
});

test('findOwner: the most recent holding of the owner when it has several', async () => {
  const { clock, a, b } = setup();
  const old = await a.allocate(pod('web-0'));
  await a.release(old, pod('web-0'));
  clock.t += 5;
  const newer = await b.allocate(pod('web-0'));
  assert.notEqual(old, newer);
  assert.equal(await a.findOwner(pod('web-0')), newer);
});

test('findOwner: this node\'s own ledger comes from the seen cache while a metadata list shows it unchanged; the others from one list without it', async () => {
  const { store, a, b } = setup();
  const mine = await a.allocate(pod('web-0'));
  await b.allocate(pod('web-1'));
  const before = { ...store.reads };
  assert.equal(await a.findOwner(pod('web-0')), mine, 'found in the cached copy');
  assert.equal(await a.findOwner(pod('web-1')), mac(4), "found in node-b's ledger");
  assert.equal(store.reads.get, before.get, 'its own ledger was not read');
  assert.equal(store.reads.listMeta - before.listMeta, 2);
  // Each list carried the pool and node-b's ledger, never node-a's.
  assert.equal(store.reads.listed - before.listed, 4);
});

test('findOwner: a change another node made to this node\'s ledger since it was cached is seen (read again, and cached)', async () => {
  const { store, a, b } = setup();
  await a.allocate(owner('p0'));
  // node-b records a requested MAC whose home is node-a's block (a pod of node-b asking for it).
  await b.claim(mac(2), pod('moved'));
  assert.equal(holdingIn(store, ledgerCm('node-a'), mac(2))?.owner, owner('moved'));
  const gets = store.reads.get;
  assert.equal(await a.findOwner(pod('moved')), mac(2));
  assert.equal(store.reads.get, gets + 1, 'the stale copy was replaced by a fresh read');
  assert.equal(a.seen.get(ledgerCm('node-a'))?.resourceVersion, store.cms.get(ledgerCm('node-a'))?.resourceVersion);
  assert.equal(await a.findOwner(pod('moved')), mac(2));
  assert.equal(store.reads.get, gets + 1, 'then served from the cache');
});

test('findOwner: a cached copy of a ledger ConfigMap deleted since is not trusted', async () => {
  const { store, a } = setup();
  const m = await a.allocate(owner('gone'));
  store.cms.delete(ledgerCm('node-a'));
  assert.equal(await a.findOwner(owner('gone')), undefined);
  assert.equal(a.seen.has(ledgerCm('node-a')), false);
  assert.notEqual(m, undefined);
});

test('findOwner: without a cached copy of its own ledger, one full list, which fills the cache', async () => {
  const { store, clock, a } = setup();
  const m = await a.allocate(owner('web-0'));
  const fresh = ledger(store, 'node-a', clock);
  const before = { ...store.reads };
  assert.equal(await fresh.findOwner(owner('web-0')), m);
  assert.deepEqual([store.reads.list - before.list, store.reads.listMeta - before.listMeta], [1, 0]);
  assert.equal(fresh.seen.get(ledgerCm('node-a'))?.resourceVersion, store.cms.get(ledgerCm('node-a'))?.resourceVersion);
});

// ---- full blocks: skipped while the node ledger's resourceVersion stands ----

test('allocation remembers the blocks it found full of live MACs, at the resourceVersion it then wrote, and skips them', async () => {
  const { store, a } = setup();
  for (let i = 0; i < 4; i++) assert.equal(await a.allocate(owner(`p${i}`)), mac(i));
  assert.equal(await a.allocate(owner('p4')), mac(4));
  const rv = store.cms.get(ledgerCm('node-a'))!.resourceVersion;
  assert.deepEqual(a.fullBlocks.get(ledgerCm('node-a')), { resourceVersion: rv, blocks: [0] });
  assert.equal(await a.allocate(owner('p5')), mac(5));
  assert.deepEqual(a.fullBlocks.get(ledgerCm('node-a')), { resourceVersion: store.cms.get(ledgerCm('node-a'))!.resourceVersion, blocks: [0] }, 'carried over its own write');
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
  assert.equal(a.fullBlocks.get(ledgerCm('node-a'))?.blocks.includes(0) ?? false, false);
  const writes = store.writes;
  clock.t += GRACE;
  assert.equal(store.writes, writes);
  assert.equal(await a.allocate(owner('p5')), mac(2));
});

test('remembered full blocks of a resourceVersion another writer changed are not trusted', async () => {
  const { store, clock, a, b } = setup();
  for (let i = 0; i < 5; i++) await a.allocate(owner(`p${i}`));
  assert.deepEqual(a.fullBlocks.get(ledgerCm('node-a'))?.blocks, [0]);
  // Another process (an operator's release --force) frees mac(3) in node-a's ledger; node-a's cached copy is now stale.
  const other = ledger(store, 'node-a', clock);
  await other.operatorRelease(mac(3), owner('p3'), true);
  // From its stale copy, node-a takes the next MAC it sees free (a 409 brings the fresh copy, on which it is still free)...
  assert.equal(await a.allocate(owner('late')), mac(5));
  // ... and the blocks it remembered were of the stale resourceVersion: block 0 is scanned again.
  assert.equal(await a.allocate(owner('later')), mac(3));
  assert.notEqual(b, undefined);
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
    if (!staged && op === 'update' && cm.name === ledgerCm('node-a')) {
      staged = true;
      await b.claim(mac(1), owner('b-req'));
    }
  };
  assert.equal(await a.allocate(owner('p1')), mac(2));
  assert.equal(holdingIn(store, ledgerCm('node-a'), mac(1))?.owner, owner('b-req'));
  assert.equal(holdingIn(store, ledgerCm('node-a'), mac(2))?.owner, owner('p1'));
});

test('a store that always answers 409 makes the ledger give up with code 11 after maxConflicts', async () => {
  const inner = new MemoryStore();
  const clock = { t: T };
  await ledger(inner, 'node-a', clock).allocate(owner('p0'));
  const chaos = new ChaosStore(inner, () => 0, 1, 0);
  const a = ledger(chaos, 'node-a', clock, { maxConflicts: 5 });
  await rejects(a.allocate(owner('p1')), Code.TryAgainLater, /gave up after 5 conflicting writes/);
  assert.equal(chaos.conflicts, 5);
  await rejects(a.claim(mac(2), owner('p2')), Code.TryAgainLater); // its home, node-a's ledger, exists: every update is a 409
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
  // Requested MACs: inside the range in the top blocks (past what allocation needs), and outside it.
  const inside = (k: number) => intToMac(macToInt('02:00:00:00:06:00') + k * 7);
  const outside = (k: number) => intToMac(macToInt('00:1b:2c:00:00:00') + k * 1031);
  for (let k = 0; k < 20; k++) ops.push({ kind: 'claim', node: node(k), owner: ownerOf('load', `solo-in-${k}`, 'net1'), mac: inside(k) });
  for (let k = 0; k < 20; k++) ops.push({ kind: 'claim', node: node(k + 1), owner: ownerOf('load', `solo-out-${k}`, 'net1'), mac: outside(k) });
  const overlapping = new Set<string>();
  for (let k = 0; k < 20; k++) {
    const m = k < 10 ? inside(100 + k) : outside(100 + k);
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

    // Each node leased only the blocks it filled (a block is leased when the node's others are full).
    for (const node of ['node-a', 'node-b'] as const) {
      const leased = Object.values(leases).filter((n) => n === node).length;
      const held = Object.keys(dataOf(inner, ledgerCm(node)) ?? {}).length;
      assert.ok(leased <= Math.ceil(held / LOAD_RANGE.blockSize), `${node} leased ${leased} blocks for ${held} MACs`);
    }
    assert.ok(contestedWon > 0, 'some contested claims won');
  });
}
