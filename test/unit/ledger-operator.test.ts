// Unit tests for the operator's side of the ledger: ClusterLedger.operatorRelease (against MemoryStore) and the node's history log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterLedger } from '../../src/mac/cluster';
import { MemoryStore } from '../../src/mac/store';
import { decodeHolding, encodeHolding, isFree, macKey, ownerOf } from '../../src/mac/holding';
import { leaseValue, ledgerCm, POOL_CM } from '../../src/mac/home';
import { appendHistory, historyFile, historyRecord, readHistory, recordHistory } from '../../src/mac/history';

const T = 1_700_000_000;
const GRACE = 600;
const FALLBACK = { rangeStart: '02:00:00:00:00:00', rangeEnd: '02:00:00:00:00:0f', blockSize: 4 };
const owner = (pod: string) => ownerOf('ns', pod, 'net1');

function setup() {
  const store = new MemoryStore();
  const clock = { t: T };
  const mk = (node: string) => new ClusterLedger(store, { node, graceSec: GRACE, fallback: FALLBACK, now: () => clock.t });
  return { store, clock, a: mk('node-a'), op: mk('laptop') };
}

const at = (store: MemoryStore, cm: string, mac: string) => {
  const v = store.cms.get(cm)?.data[macKey(mac)];
  return v === undefined ? undefined : decodeHolding(v);
};

test('operatorRelease releases on the home whichever node wrote it, keeps the grace period, and is idempotent', async () => {
  const { store, clock, a, op } = setup();
  const m = await a.allocate(owner('p'));
  clock.t += 5;
  // A plugin's release from another node would be refused (the pod moved); the operator's is not.
  assert.deepEqual(await op.operatorRelease(m, owner('p'), false), { held: true, written: [ledgerCm(leaseValue('node-a', 0))] });
  const h = at(store, ledgerCm(leaseValue('node-a', 0)), m)!;
  assert.deepEqual([h.state, h.owner, h.node, h.since], ['released', owner('p'), 'node-a', T + 5]);
  assert.ok(!isFree(h, clock.t, GRACE), 'still its owner\'s during the grace period');
  const writes = store.writes;
  assert.deepEqual(await op.operatorRelease(m, owner('p'), false), { held: true, written: [] });
  assert.equal(store.writes, writes, 'nothing written the second time');
});

test('operatorRelease with the holding the operator saw does nothing once the pod was re-created on another node meanwhile', async () => {
  const { store, clock, a, op } = setup();
  const m = await a.allocate({ owner: owner('web-0'), uid: 'u1' });
  const saw = at(store, ledgerCm(leaseValue('node-a', 0)), m)!;
  // gc saw web-0's pod gone; before it writes, node-a's DEL releases it and web-0 is re-created on node-b, which takes the MAC back.
  clock.t += 30;
  await a.release(m, { owner: owner('web-0'), uid: 'u1' });
  const b = new ClusterLedger(store, { node: 'node-b', graceSec: GRACE, fallback: FALLBACK, now: () => clock.t });
  await b.claim(m, { owner: owner('web-0'), uid: 'u2' });
  assert.equal(at(store, ledgerCm(leaseValue('node-a', 0)), m)!.node, 'node-b');
  const writes = store.writes;
  assert.deepEqual(await op.operatorRelease(m, owner('web-0'), false, { node: saw.node, since: saw.since, uid: 'u1' }), { held: false, written: [] });
  assert.equal(store.writes, writes);
  assert.equal(at(store, ledgerCm(leaseValue('node-a', 0)), m)!.state, 'active', "the new sandbox's MAC stays active");
  // With what it sees now, it would release.
  const now = at(store, ledgerCm(leaseValue('node-a', 0)), m)!;
  assert.equal((await op.operatorRelease(m, owner('web-0'), false, { node: now.node, since: now.since, uid: 'u2' })).held, true);
});

test('operatorRelease for an owner that does not hold the MAC writes nothing and says so', async () => {
  const { store, a, op } = setup();
  const m = await a.allocate(owner('p'));
  const writes = store.writes;
  assert.deepEqual(await op.operatorRelease(m, owner('someone-else'), true), { held: false, written: [] });
  assert.equal(store.writes, writes);
  assert.equal(at(store, ledgerCm(leaseValue('node-a', 0)), m)?.state, 'active');
});

test('operatorRelease of a MAC whose home ConfigMap does not exist: not held, nothing written or created', async () => {
  const { store, op } = setup();
  await op.pool();
  assert.deepEqual(await op.operatorRelease('02:00:00:00:00:05', owner('p'), true), { held: false, written: [] });
  assert.deepEqual(await op.operatorRelease('02:00:00:00:00:05', owner('p'), false), { held: false, written: [] });
  assert.deepEqual([...store.cms.keys()], [POOL_CM]);
});

test('operatorRelease --force frees at once: the key is gone from its home, and another owner may take it', async () => {
  const { store, a, op } = setup();
  const m = await a.allocate(owner('p'));
  assert.deepEqual(await op.operatorRelease(m, owner('p'), true), { held: true, written: [ledgerCm(leaseValue('node-a', 0))] });
  assert.equal(store.cms.get(ledgerCm(leaseValue('node-a', 0)))!.data[macKey(m)], undefined);
  const fresh = new ClusterLedger(store, { node: 'node-a', graceSec: GRACE, fallback: FALLBACK, now: () => T });
  assert.equal(await fresh.allocate(owner('q')), m, 'the lowest free MAC is handed out again at once');
});

test('operatorRelease --force with a leftover copy in the pool: a released record dated 0 at home, the pool copy removed', async () => {
  const { store, a, op } = setup();
  const m = await a.allocate(owner('p')); // node-a leases block 0
  const pool = store.cms.get(POOL_CM)!;
  const leftover = '02:00:00:00:00:02';
  pool.data[macKey(leftover)] = encodeHolding({ owner: owner('old'), state: 'active', node: 'node-b', since: T - 50 });
  assert.notEqual(m, leftover);
  const r = await op.operatorRelease(leftover, owner('old'), true);
  assert.deepEqual(r, { held: true, written: [ledgerCm(leaseValue('node-a', 0)), POOL_CM] });
  assert.deepEqual(at(store, ledgerCm(leaseValue('node-a', 0)), leftover), { owner: owner('old'), state: 'released', node: 'node-b', since: 0 });
  assert.equal(store.cms.get(POOL_CM)!.data[macKey(leftover)], undefined);
  assert.ok(isFree(at(store, ledgerCm(leaseValue('node-a', 0)), leftover), T, 1_000_000), 'free under any grace period');
});

test('operatorRelease without --force releases a leftover on its home and in the pool', async () => {
  const { store, clock, a, op } = setup();
  await a.allocate(owner('p'));
  const leftover = '02:00:00:00:00:03';
  store.cms.get(POOL_CM)!.data[macKey(leftover)] = encodeHolding({ owner: owner('old'), state: 'active', node: 'node-b', since: T - 50 });
  clock.t += 7;
  const r = await op.operatorRelease(leftover, owner('old'), false);
  assert.deepEqual(r, { held: true, written: [ledgerCm(leaseValue('node-a', 0)), POOL_CM] });
  for (const cm of [ledgerCm(leaseValue('node-a', 0)), POOL_CM]) assert.deepEqual(at(store, cm, leftover), { owner: owner('old'), state: 'released', node: 'node-b', since: T + 7 });
});

test('history: one JSON line per record, read back per MAC from the rotated and the current log', () => {
  const dir = mkdtempSync(join(tmpdir(), 'macmux-history-'));
  try {
    mkdirSync(join(dir, 'ledger'));
    const rec = (i: number, mac: string) => historyRecord(mac, owner(`p${i}`), i % 2 ? 'release' : 'reserve', 'node-a', { containerID: `c${i}` }, new Date(T * 1000 + i));
    appendHistory(dir, [rec(0, '02:00:00:00:00:01'), rec(1, '02:00:00:00:00:02')], 400);
    const lines = readFileSync(historyFile(dir), 'utf8').trim().split('\n');
    assert.equal(lines.length, 2);
    assert.deepEqual(JSON.parse(lines[0]!), { time: new Date(T * 1000).toISOString(), mac: '02:00:00:00:00:01', owner: owner('p0'), event: 'reserve', containerID: 'c0', node: 'node-a' });
    // Past the limit the log moves to .1 and a new one starts; older .1 content is dropped.
    for (let i = 2; i < 12; i++) appendHistory(dir, [rec(i, '02:00:00:00:00:01')], 400);
    assert.ok(existsSync(`${historyFile(dir)}.1`));
    assert.ok(statSync(historyFile(dir)).size <= 400 && statSync(`${historyFile(dir)}.1`).size <= 400);
    const back = readHistory(dir, '02:00:00:00:00:01');
    const owners = back.map((r) => r.owner);
    assert.deepEqual(owners, [...owners].sort((x, y) => Number(x.split('/')[1]!.slice(1)) - Number(y.split('/')[1]!.slice(1))), 'oldest first');
    assert.equal(owners.at(-1), owner('p11'));
    assert.ok(back.length < 11, 'bounded: the oldest records are gone');
    // A torn line (a crash mid-write) is skipped.
    writeFileSync(historyFile(dir), `${readFileSync(historyFile(dir), 'utf8')}{"time":"x","ma`);
    assert.equal(readHistory(dir, '02:00:00:00:00:01').at(-1)!.owner, owner('p11'));
    assert.deepEqual(readHistory(dir, '02:00:00:00:00:09'), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('recordHistory never throws: a failure goes to warn', () => {
  const dir = mkdtempSync(join(tmpdir(), 'macmux-history-'));
  try {
    mkdirSync(join(dir, 'ledger'));
    mkdirSync(historyFile(dir)); // a directory where the log should be: appending fails
    const warnings: string[] = [];
    recordHistory(dir, [historyRecord('02:00:00:00:00:01', owner('p'), 'reserve', 'node-a')], (m) => warnings.push(m));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /history not written/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
