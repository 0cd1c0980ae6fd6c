// Unit tests for `macmux ledger migrate`'s protocol (ClusterLedger.migrateBlock, migrate.ts) against MemoryStore: legacy
// blocks moved into ConfigMaps of their own, runs stopped after each step and run again, and writers racing each step.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterLedger } from '../../src/mac/cluster';
import { poolView } from '../../src/mac/pool';
import { census } from '../../src/mac/census';
import { decodeHolding, encodeHolding, macKey, ownerOf, type Holding } from '../../src/mac/holding';
import { LEDGER_LABEL, POOL_CM, type Leases } from '../../src/mac/home';
import { migrationPlan, movedKey } from '../../src/mac/migrate';
import { intToMac, macToInt } from '../../src/mac/range';
import { MemoryStore, type Cm, type CmStore } from '../../src/mac/store';
import { CniError, Code } from '../../src/cni/errors';

const T = 1_700_000_000;
const GRACE = 600;
/** 02:00:00:00:00:00 - 02:00:00:00:00:1f in 4 blocks of 8. */
const RANGE = { RANGE_START: '02:00:00:00:00:00', RANGE_END: '02:00:00:00:00:1f', BLOCK_SIZE: '8' };
const mac = (i: number) => intToMac(macToInt('02:00:00:00:00:00') + i);
const pod = (name: string) => ({ owner: ownerOf('ns', name, 'net1'), uid: `uid-${name}` });
const held = (name: string, node: string, state: Holding['state'] = 'active', since = T - 100): string =>
  encodeHolding({ ...pod(name), state, node, since });

/** A store over `inner` that runs hooks around each write: `before` ahead of it, `after` once it succeeded. */
class Hooked implements CmStore {
  before?: (op: 'create' | 'update', cm: Cm) => Promise<void> | void;
  after?: (op: 'create' | 'update', cm: Cm) => Promise<void> | void;
  constructor(readonly inner: MemoryStore) {}
  get(name: string) {
    return this.inner.get(name);
  }
  list(key: string, except?: string) {
    return this.inner.list(key, except);
  }
  async create(cm: Cm) {
    await this.before?.('create', cm);
    const r = await this.inner.create(cm);
    if (r !== 'exists') await this.after?.('create', cm);
    return r;
  }
  async update(cm: Cm) {
    await this.before?.('update', cm);
    const r = await this.inner.update(cm);
    if (r !== 'conflict') await this.after?.('update', cm);
    return r;
  }
}

/**
 * A ledger as releases before 15 left it: blocks 0 and 1 leased to node-a and block 2 to node-b, each
 * node's holdings in its one `macmux-ledger-<node>`; block 3 unleased.
 */
function legacyWorld() {
  const store = new MemoryStore();
  const put = (name: string, kind: string, data: Record<string, string>) => void store.create({ name, labels: { [LEDGER_LABEL]: kind }, data });
  put(POOL_CM, 'pool', { ...RANGE, LEASES: JSON.stringify({ 0: 'node-a', 1: 'node-a', 2: 'node-b' }) });
  put('macmux-ledger-node-a', 'node', {
    [macKey(mac(0))]: held('p0', 'node-a'),
    [macKey(mac(1))]: held('p1', 'node-a', 'released', T - 10),
    [macKey(mac(9))]: held('p9', 'node-a'),
  });
  put('macmux-ledger-node-b', 'node', { [macKey(mac(16))]: held('p16', 'node-b') });
  const clock = { t: T };
  const ledger = (node: string, s: CmStore = store, sleep: (ms: number) => Promise<void> = async () => {}) =>
    new ClusterLedger(s, { node, graceSec: GRACE, now: () => clock.t, sleep });
  return { store, clock, ledger };
}

const dataOf = (store: MemoryStore, name: string) => store.cms.get(name)?.data ?? {};
const leasesOf = (store: MemoryStore): Leases => JSON.parse(dataOf(store, POOL_CM).LEASES!) as Leases;
const holdingAt = (store: MemoryStore, name: string, m: string) => {
  const v = dataOf(store, name)[macKey(m)];
  return v === undefined ? undefined : decodeHolding(v);
};

/** The ledger's census now: no duplicate, nothing damaged (markers are not damage), every holding at its home. */
function assertSound(store: MemoryStore, now = T): ReturnType<typeof census> {
  const c = census([...store.cms.values()], now, GRACE);
  assert.deepEqual(c.damaged, []);
  assert.deepEqual(c.duplicates, []);
  assert.deepEqual(c.entries.filter((e) => !e.atHome).map((e) => `${e.mac} in ${e.cm}`), []);
  return c;
}

/** The holdings of every ConfigMap but the pool, by MAC: where each is recorded. */
const where = (store: MemoryStore) =>
  Object.fromEntries(census([...store.cms.values()], T, GRACE).entries.map((e) => [e.mac, `${e.cm} ${encodeHolding(e)}`]));

async function rejectsWith(p: Promise<unknown>, code: number, msg?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CniError, String(e));
    assert.equal(e.code, code, e.message);
    if (msg) assert.match(e.message, msg);
    return true;
  });
}

/** The layout every test ends in: each block in its own ConfigMap, the legacy ledgers holding their markers only. */
function assertMigrated(store: MemoryStore): void {
  assert.deepEqual(leasesOf(store), { 0: 'node-a.b0', 1: 'node-a.b1', 2: 'node-b.b2' });
  assert.deepEqual(dataOf(store, 'macmux-ledger-node-a'), { [movedKey(0)]: 'macmux-ledger-node-a.b0', [movedKey(1)]: 'macmux-ledger-node-a.b1' });
  assert.deepEqual(dataOf(store, 'macmux-ledger-node-b'), { [movedKey(2)]: 'macmux-ledger-node-b.b2' });
  for (const b of ['node-a.b0', 'node-a.b1', 'node-b.b2']) assert.equal(store.cms.get(`macmux-ledger-${b}`)?.labels?.[LEDGER_LABEL], 'block', b);
  const view = poolView(store.cms.get(POOL_CM)!);
  assert.deepEqual(migrationPlan(view.spec, view.leases, [...store.cms.values()]), []);
}

describe('ledger migrate: legacy blocks into ConfigMaps of their own', () => {
  it('plans every legacy block, moves each with its holdings, keeps the legacy ledgers with their markers; a second run does nothing', async () => {
    const w = legacyWorld();
    const before = where(w.store);
    const view = poolView(w.store.cms.get(POOL_CM)!);
    assert.deepEqual(
      migrationPlan(view.spec, view.leases, [...w.store.cms.values()]).map((p) => `${p.block} ${p.todo} ${p.from} -> ${p.to} (${p.holdings})`),
      ['0 migrate macmux-ledger-node-a -> macmux-ledger-node-a.b0 (2)', '1 migrate macmux-ledger-node-a -> macmux-ledger-node-a.b1 (1)', '2 migrate macmux-ledger-node-b -> macmux-ledger-node-b.b2 (1)'],
    );
    const op = w.ledger('operator');
    const done = [];
    for (const b of [0, 1, 2]) done.push(await op.migrateBlock(b));
    assert.deepEqual(done.map((d) => [d.block, d.result, d.copied, d.removed]), [[0, 'migrated', 2, 2], [1, 'migrated', 1, 1], [2, 'migrated', 1, 1]]);
    assertMigrated(w.store);
    const after = where(w.store);
    // The same holdings, each now in its block's ConfigMap.
    assert.deepEqual(Object.keys(after), Object.keys(before));
    for (const m of Object.keys(before)) assert.equal(after[m]!.split(' ')[1], before[m]!.split(' ')[1], m);
    assert.equal(after[mac(0)]!.split(' ')[0], 'macmux-ledger-node-a.b0');
    assert.equal(after[mac(9)]!.split(' ')[0], 'macmux-ledger-node-a.b1');
    assertSound(w.store);
    // Again: nothing to do, nothing written; an unleased block is skipped.
    const writes = w.store.writes;
    assert.deepEqual((await op.migrateBlock(0)).result, 'none');
    assert.deepEqual((await op.migrateBlock(3)).result, 'skipped');
    assert.equal(w.store.writes, writes);
  });

  it('after migrating, the node takes back a released MAC and releases one on the block ConfigMap; the legacy ledger is never written again', async () => {
    const w = legacyWorld();
    const op = w.ledger('operator');
    for (const b of [0, 1, 2]) await op.migrateBlock(b);
    const a = w.ledger('node-a');
    await a.claim(mac(1), pod('p1'));
    assert.equal(await a.release(mac(0), pod('p0')), true);
    assert.equal(holdingAt(w.store, 'macmux-ledger-node-a.b0', mac(1))?.state, 'active');
    assert.equal(holdingAt(w.store, 'macmux-ledger-node-a.b0', mac(0))?.state, 'released');
    // A requested MAC of a migrated block by another node goes to the block's ConfigMap too.
    await w.ledger('node-b').claim(mac(3), pod('q3'));
    assert.equal(holdingAt(w.store, 'macmux-ledger-node-a.b0', mac(3))?.owner, pod('q3').owner);
    assert.deepEqual(Object.keys(dataOf(w.store, 'macmux-ledger-node-a')), [movedKey(0), movedKey(1)]);
    assertSound(w.store);
  });

  for (const stop of [1, 2, 3]) {
    it(`a run stopped after step ${stop} is finished by running it again`, async () => {
      const w = legacyWorld();
      const hooked = new Hooked(w.store);
      let writes = 0;
      hooked.after = () => {
        if (++writes === stop) throw new Error(`stopped after step ${stop}`);
      };
      await assert.rejects(w.ledger('operator', hooked).migrateBlock(0), /stopped/);
      if (stop === 3) {
        // The lease moved, the copies are still in the legacy ledger: the plan finishes it.
        const view = poolView(w.store.cms.get(POOL_CM)!);
        const plan = migrationPlan(view.spec, view.leases, [...w.store.cms.values()]);
        assert.deepEqual(plan.map((p) => [p.block, p.todo, p.holdings]), [[0, 'finish', 2], [1, 'migrate', 1], [2, 'migrate', 1]]);
      }
      const again = w.ledger('operator');
      assert.equal((await again.migrateBlock(0)).result, stop === 3 ? 'finished' : 'migrated');
      for (const b of [1, 2]) await again.migrateBlock(b);
      assertMigrated(w.store);
      assert.equal(holdingAt(w.store, 'macmux-ledger-node-a.b0', mac(0))?.owner, pod('p0').owner);
      assert.equal(holdingAt(w.store, 'macmux-ledger-node-a.b0', mac(1))?.state, 'released');
      assertSound(w.store);
    });
  }

  it('a rerun after the lease moved does not copy the legacy ledger again: a MAC freed in the block ConfigMap stays free', async () => {
    const w = legacyWorld();
    const hooked = new Hooked(w.store);
    let writes = 0;
    hooked.after = () => {
      if (++writes === 3) throw new Error('stopped after step 3');
    };
    await assert.rejects(w.ledger('operator', hooked).migrateBlock(0), /stopped/);
    // The operator frees mac(0) at its new home meanwhile: deleted there.
    const freed = await w.ledger('operator').operatorRelease(mac(0), pod('p0').owner, true);
    assert.deepEqual(freed.written, ['macmux-ledger-node-a.b0']);
    await w.ledger('operator').migrateBlock(0);
    assert.equal(holdingAt(w.store, 'macmux-ledger-node-a.b0', mac(0)), undefined);
    assert.equal(holdingAt(w.store, 'macmux-ledger-node-a', mac(0)), undefined);
  });

  it('a legacy ledger marked moved turns writers away (code 11 naming the MAC) until the lease follows; none of them writes there', async () => {
    const w = legacyWorld();
    const hooked = new Hooked(w.store);
    hooked.after = () => {
      throw new Error('stopped after step 1');
    };
    await assert.rejects(w.ledger('operator', hooked).migrateBlock(0), /stopped/);
    const legacy = structuredClone(dataOf(w.store, 'macmux-ledger-node-a'));
    let slept = 0;
    const a = w.ledger('node-a', w.store, async () => void slept++);
    await rejectsWith(a.claim(mac(2), pod('new')), Code.TryAgainLater, /MAC 02:00:00:00:00:02: its block is being moved out of macmux-ledger-node-a/);
    assert.equal(slept, 8);
    await rejectsWith(a.release(mac(0), pod('p0')), Code.TryAgainLater, /MAC 02:00:00:00:00:00/);
    await rejectsWith(a.operatorRelease(mac(0), pod('p0').owner, true), Code.TryAgainLater);
    assert.deepEqual(dataOf(w.store, 'macmux-ledger-node-a'), legacy);
    // Block 1 of the same ledger is not marked: its writes go on there.
    await a.claim(mac(10), pod('p10'));
    assert.equal(holdingAt(w.store, 'macmux-ledger-node-a', mac(10))?.state, 'active');
    // The run finished, the same writes land in the block's ConfigMap.
    await w.ledger('operator').migrateBlock(0);
    await a.claim(mac(2), pod('new'));
    assert.equal(await a.release(mac(0), pod('p0')), true);
    assert.equal(holdingAt(w.store, 'macmux-ledger-node-a.b0', mac(2))?.owner, pod('new').owner);
    assert.equal(holdingAt(w.store, 'macmux-ledger-node-a.b0', mac(0))?.state, 'released');
    assertSound(w.store);
  });

  it('a pool MAC taken from a legacy block as last resort (no block left to lease) while the block moves is not lost: allocation skips a block marked moved', async () => {
    const w = legacyWorld();
    // Block 3 leased too: node-a's only blocks are legacy ones, its last resort.
    const pool = w.store.cms.get(POOL_CM)!;
    pool.data.LEASES = JSON.stringify({ 0: 'node-a', 1: 'node-a', 2: 'node-b', 3: 'node-c.b3' });
    const hooked = new Hooked(w.store);
    const a = w.ledger('node-a');
    let writes = 0;
    let got: string | undefined;
    // Between the copy (step 2) and the lease's move (step 3): node-a, on the pool that still leases block 0 the legacy way, allocates.
    hooked.after = async () => {
      if (++writes === 2) got = await a.allocate(pod('new'));
    };
    assert.equal((await w.ledger('operator', hooked).migrateBlock(0)).result, 'migrated');
    assert.ok(got !== undefined);
    // Wherever the MAC came from, its home records it after the move: no other pod can be given it.
    const home = macToInt(got!) - macToInt(mac(0)) < 8 ? 'macmux-ledger-node-a.b0' : 'macmux-ledger-node-a';
    assert.equal(holdingAt(w.store, home, got!)?.owner, pod('new').owner, `${got} held at ${home}`);
    const next = await w.ledger('node-a').allocate(pod('other'));
    assert.notEqual(next, got);
    assertSound(w.store);
  });

  it('a write that waits while the block moves lands in its new ConfigMap once the lease follows', async () => {
    const w = legacyWorld();
    const hooked = new Hooked(w.store);
    let writes = 0;
    let resume: (() => void) | undefined;
    // The run pauses after step 1; the claim's first wait lets it go on.
    hooked.after = () => (++writes === 1 ? new Promise<void>((r) => (resume = r)) : undefined);
    const run = w.ledger('operator', hooked).migrateBlock(0);
    while (!resume) await new Promise((r) => setImmediate(r));
    const a = w.ledger('node-a', w.store, async () => {
      resume?.();
      await run;
    });
    await a.claim(mac(2), pod('new'));
    resume?.();
    assert.equal((await run).result, 'migrated');
    assert.equal(holdingAt(w.store, 'macmux-ledger-node-a.b0', mac(2))?.owner, pod('new').owner);
    assert.equal(holdingAt(w.store, 'macmux-ledger-node-a', mac(2)), undefined);
    assertSound(w.store);
  });

  it('a missing legacy ledger is created by a claim only when the pool, read again, still leases its block the legacy way; never from a stale pool; a release creates none', async () => {
    const w = legacyWorld();
    const pool = w.store.cms.get(POOL_CM)!;
    await w.store.update({ ...pool, data: { ...pool.data, LEASES: JSON.stringify({ ...leasesOf(w.store), 3: 'node-c' }) } });
    const a = w.ledger('node-a');
    // An older node leased block 3 and died before its first write: nothing to release there, and a release creates nothing.
    assert.equal(await a.release(mac(24), pod('x')), false);
    assert.equal(w.store.cms.has('macmux-ledger-node-c'), false);
    await a.claim(mac(24), pod('x'));
    assert.equal(holdingAt(w.store, 'macmux-ledger-node-c', mac(24))?.owner, pod('x').owner);
    // node-b cached the pool with the legacy lease; the block is migrated, and the emptied legacy ledger deleted by hand.
    const b = w.ledger('node-b');
    await b.pool();
    assert.equal((await w.ledger('operator').migrateBlock(3)).result, 'migrated');
    w.store.cms.delete('macmux-ledger-node-c');
    await b.claim(mac(25), pod('y'));
    assert.equal(holdingAt(w.store, 'macmux-ledger-node-c.b3', mac(25))?.owner, pod('y').owner);
    assert.equal(w.store.cms.has('macmux-ledger-node-c'), false, 'not re-created from the stale pool');
    assertSound(w.store);
  });

  it('the census and doctor count markers nowhere: not damaged, not holdings', () => {
    const w = legacyWorld();
    const cm = w.store.cms.get('macmux-ledger-node-a')!;
    cm.data[movedKey(0)] = 'macmux-ledger-node-a.b0';
    const c = census([...w.store.cms.values()], T, GRACE);
    assert.deepEqual(c.damaged, []);
    assert.equal(c.entries.length, 4);
  });
});

/**
 * A writer of another node racing the run: it runs between two steps (`at`: after the n-th write of the
 * run), or reads before a step and writes after it (its compare-and-swap gets a 409). Whatever the
 * interleaving, the end has no duplicate, no holding lost and none left outside its home.
 */
describe('ledger migrate: a writer racing each step', () => {
  /** `refused`: it never writes (so it has no write to race from inside). */
  type Op = { name: string; run: (l: ClusterLedger) => Promise<unknown>; check: (store: MemoryStore) => void; refused?: boolean };
  const home0 = 'macmux-ledger-node-a.b0';
  const ops: Op[] = [
    {
      name: 'a claim of a free requested MAC',
      run: (l) => l.claim(mac(2), pod('new')),
      check: (s) => assert.equal(holdingAt(s, home0, mac(2))?.owner, pod('new').owner),
    },
    {
      name: 'the owner taking back its released MAC',
      run: (l) => l.claim(mac(1), pod('p1')),
      check: (s) => assert.equal(holdingAt(s, home0, mac(1))?.state, 'active'),
    },
    {
      name: 'a DEL releasing a MAC',
      run: (l) => l.release(mac(0), pod('p0')),
      check: (s) => assert.equal(holdingAt(s, home0, mac(0))?.state, 'released'),
    },
    {
      name: "another owner's claim of a held MAC (refused)",
      run: (l) =>
        l.claim(mac(0), pod('thief')).catch((e: unknown) => {
          if (!(e instanceof CniError && e.code === Code.MacConflict)) throw e;
        }),
      check: (s) => assert.equal(holdingAt(s, home0, mac(0))?.owner, pod('p0').owner),
      refused: true,
    },
  ];

  /** The end state: the op's effect at block 0's home, the other holdings untouched there, nothing of block 0 left in the legacy ledger. */
  function assertEnd(store: MemoryStore, op: Op): void {
    op.check(store);
    // Block 1 is not migrated here: its holding stays in the legacy ledger beside block 0's marker.
    assert.deepEqual(Object.keys(dataOf(store, 'macmux-ledger-node-a')).sort(), [macKey(mac(9)), movedKey(0)]);
    assert.equal(holdingAt(store, 'macmux-ledger-node-a', mac(9))?.owner, pod('p9').owner);
    for (const m of [mac(0), mac(1)]) assert.ok(holdingAt(store, home0, m), `${m} kept`);
    assertSound(store);
  }

  for (const op of ops) {
    for (const at of [1, 2, 3, 4]) {
      it(`${op.name}, run between step ${at} and the next: done, or code 11 and done when tried again`, async () => {
        const w = legacyWorld();
        const hooked = new Hooked(w.store);
        const racer = w.ledger('node-a');
        let writes = 0;
        let failed: unknown;
        hooked.after = async () => {
          if (++writes === at) await op.run(racer).catch((e: unknown) => (failed = e));
        };
        assert.equal((await w.ledger('operator', hooked).migrateBlock(0)).result, 'migrated');
        if (failed !== undefined) {
          // Only while the block is between its marker and its lease's move.
          assert.ok(failed instanceof CniError && failed.code === Code.TryAgainLater && at < 3, String(failed));
          await op.run(racer);
        }
        assertEnd(w.store, op);
      });
    }
    for (const at of op.refused ? [] : [1, 2, 3, 4]) {
      it(`${op.name}, read before step ${at} and written after it (409)`, async () => {
        const w = legacyWorld();
        const hooked = new Hooked(w.store);
        const runner = new Hooked(w.store);
        let writes = 0;
        let stopped = false;
        // The run goes as far as step `at`, from inside the racer's first write (after its read).
        runner.after = () => {
          if (++writes === at) {
            stopped = true;
            throw new Error('paused');
          }
        };
        let raced = false;
        hooked.before = async () => {
          if (raced) return;
          raced = true;
          await w.ledger('operator', runner).migrateBlock(0).catch(() => undefined);
        };
        // Its waits finish the run (as a run does in a few API calls).
        const racer = w.ledger('node-a', hooked, async () => void (await w.ledger('operator').migrateBlock(0)));
        await op.run(racer);
        assert.ok(stopped || at === 4);
        await w.ledger('operator').migrateBlock(0);
        assertEnd(w.store, op);
      });
    }
  }
});
