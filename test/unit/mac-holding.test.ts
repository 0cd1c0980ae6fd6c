// Unit tests for src/mac/holding.ts and src/mac/home.ts: who holds a MAC, the state rules, the compact encoding, and every MAC's home.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isLiveEncoded,
  activate,
  decodeHolding,
  encodeHolding,
  isFree,
  keyMac,
  macKey,
  decodeUid,
  encodeUid,
  holderText,
  mayTake,
  ownerOf,
  release,
  reserve,
  type Holding,
} from '../../src/mac/holding';
import { blocksOf, claimsCm, homeOf, ledgerCm, POOL_CM, type Leases } from '../../src/mac/home';
import { macToInt, parseRange } from '../../src/mac/range';
import { Code } from '../../src/cni/errors';
import { thrown } from './helpers';

const MAC = '02:00:00:00:00:2a';
const A = ownerOf('ns1', 'pod-a', 'green');
const B = ownerOf('ns2', 'pod-b', 'blue');
const GRACE = 600;
const T = 1_700_000_000;

const U1 = '6f1c2a9e-0d3b-4c55-9e0f-1a2b3c4d5e6f';
const U2 = 'b7e0f2d4-1111-4222-8333-944455556666';
const h = (over: Partial<Holding>): Holding => ({ owner: A, state: 'active', node: 'node-a', since: T, uid: U1, ...over });
/** A claimant on node-b (another node than the holdings'), with pod UID `uid` ('' for none). */
const on = (owner: string, uid: string | undefined = U1, node = 'node-b', adopt?: boolean) => ({ owner, node, ...(uid ? { uid } : {}), ...(adopt !== undefined ? { adoptLegacy: () => adopt } : {}) });

test('ownerOf is namespace/pod/attachment', () => {
  assert.equal(ownerOf('default', 'web-0', 'net1'), 'default/web-0/net1');
  assert.notEqual(ownerOf('a', 'b', 'c'), ownerOf('a', 'b', 'd'));
});

// ---- reserve: who may take a MAC ----

interface ReserveCase {
  what: string;
  cur: Holding | undefined;
  owner: string;
  now: number;
  /** The state after reserving, or a regex for the code 100 message. */
  want: 'reserved' | 'unchanged' | RegExp;
}
const RESERVE: ReserveCase[] = [
  { what: 'a free MAC, by anyone', cur: undefined, owner: B, now: T, want: 'reserved' },
  { what: 'one reserved by the same owner', cur: h({ state: 'reserved', since: T - 5 }), owner: A, now: T, want: 'reserved' },
  { what: 'one active for the same owner (kept as it is)', cur: h({ state: 'active' }), owner: A, now: T + 50, want: 'unchanged' },
  { what: 'one reserved by another owner', cur: h({ state: 'reserved' }), owner: B, now: T + 1, want: /^MAC 02:00:00:00:00:2a is already held by ns1\/pod-a\/green \(uid 6f1c2a9e-0d3b-4c55-9e0f-1a2b3c4d5e6f, reserved on node node-a\)$/ },
  { what: 'one active for another owner, long after', cur: h({ state: 'active' }), owner: B, now: T + 10 * GRACE, want: /already held by ns1\/pod-a\/green \(uid [-0-9a-f]+, active on node node-a\)$/ },
  { what: 'one released by another owner within grace', cur: h({ state: 'released' }), owner: B, now: T + GRACE - 1, want: /already held by ns1\/pod-a\/green \(uid [-0-9a-f]+, released on node node-a\) \(released 599s ago, held for its owner for 600s\)/ },
  { what: 'one released by the same owner within grace', cur: h({ state: 'released' }), owner: A, now: T + 1, want: 'reserved' },
  { what: 'one released by another owner exactly at the end of grace', cur: h({ state: 'released' }), owner: B, now: T + GRACE, want: 'reserved' },
  { what: 'one released by another owner after grace', cur: h({ state: 'released' }), owner: B, now: T + GRACE + 100, want: 'reserved' },
  { what: 'one released by the same owner after grace', cur: h({ state: 'released' }), owner: A, now: T + GRACE + 100, want: 'reserved' },
];
for (const c of RESERVE) {
  test(`reserve ${c.what}`, () => {
    if (c.want instanceof RegExp) {
      const e = thrown(() => reserve(c.cur, on(c.owner), c.now, GRACE, MAC));
      assert.equal(e.code, Code.MacConflict);
      assert.match(e.message, c.want);
      assert.equal(mayTake(c.cur, on(c.owner), c.now, GRACE), false);
      return;
    }
    assert.equal(mayTake(c.cur, on(c.owner), c.now, GRACE), true);
    const got = reserve(c.cur, on(c.owner), c.now, GRACE, MAC);
    if (c.want === 'unchanged') assert.equal(got, c.cur);
    else assert.deepEqual(got, { owner: c.owner, state: 'reserved', node: 'node-b', since: c.now, uid: U1 });
  });
}

// ---- owners are pods: the UID decides who may take a live holding ----

interface PodCase {
  what: string;
  cur: Holding;
  claimant: ReturnType<typeof on>;
  take: boolean;
}
const PODS: PodCase[] = [
  { what: 'active for the same owner and UID, from another node (a retried ADD)', cur: h({}), claimant: on(A, U1), take: true },
  { what: 'active for the same owner name but another UID (re-created), on another node', cur: h({}), claimant: on(A, U2), take: false },
  { what: 'active for the same owner name but another UID, on its own node', cur: h({}), claimant: on(A, U2, 'node-a'), take: false },
  { what: 'reserved for the same owner name but another UID', cur: h({ state: 'reserved' }), claimant: on(A, U2), take: false },
  { what: 'active for a UID, asked by the same name without one', cur: h({}), claimant: on(A, ''), take: false },
  { what: 'released in grace by the old UID, asked by a new UID (stickiness by name)', cur: h({ state: 'released', since: T }), claimant: on(A, U2), take: true },
  { what: 'released in grace, asked by another owner with the same UID', cur: h({ state: 'released', since: T }), claimant: on(B, U1), take: false },
  { what: 'uid-less (earlier release) active, same name, another node', cur: h({ uid: undefined }), claimant: on(A, U2, 'node-b', true), take: false },
  { what: 'uid-less active, same name, its node, the old sandbox still there', cur: h({ uid: undefined }), claimant: on(A, U2, 'node-a', false), take: false },
  { what: 'uid-less active, same name, its node, the old sandbox gone', cur: h({ uid: undefined }), claimant: on(A, U2, 'node-a', true), take: true },
  { what: 'uid-less active, same name, its node, nobody asked the cache', cur: h({ uid: undefined }), claimant: on(A, U2, 'node-a'), take: false },
  { what: 'uid-less active, another owner, its node', cur: h({ uid: undefined }), claimant: on(B, U2, 'node-a', true), take: false },
];
for (const c of PODS) {
  test(`mayTake/reserve: ${c.what}: ${c.take ? 'taken' : 'refused'}`, () => {
    assert.equal(mayTake(c.cur, c.claimant, T + 5, GRACE), c.take);
    if (c.take) {
      const got = reserve(c.cur, c.claimant, T + 5, GRACE, MAC);
      assert.equal(got.uid, c.claimant.uid, 'the holding records the taker\'s UID');
      return;
    }
    const e = thrown(() => reserve(c.cur, c.claimant, T + 5, GRACE, MAC));
    assert.equal(e.code, Code.MacConflict);
    assert.ok(e.message.includes(c.cur.owner) && e.message.includes(`node ${c.cur.node}`), e.message);
    assert.ok(e.message.includes(c.cur.uid ?? 'uid unknown'), e.message);
  });
}

test('adoptLegacy is asked only for a uid-less live holding of the same owner on its node', () => {
  let asked = 0;
  const c = { owner: A, uid: U2, node: 'node-a', adoptLegacy: () => (asked++, true) };
  mayTake(undefined, c, T, GRACE);
  mayTake(h({}), c, T, GRACE);
  mayTake(h({ state: 'released' }), c, T + 1, GRACE);
  mayTake(h({ uid: undefined, node: 'node-b' }), c, T, GRACE);
  mayTake(h({ uid: undefined, owner: B }), c, T, GRACE);
  assert.equal(asked, 0);
  assert.equal(mayTake(h({ uid: undefined }), c, T, GRACE), true);
  assert.equal(asked, 1);
});

test('release: only the holding of the releasing pod (its UID); a uid-less one only by the node that wrote it', () => {
  const cur = h({});
  assert.equal(release(cur, { owner: A, uid: U2, node: 'node-a' }, T + 7), cur, "a late DEL of the old pod does not release the new pod's holding");
  assert.equal(release(cur, { owner: A, node: 'node-a' }, T + 7), cur, 'nor a release that names no UID');
  assert.equal(release(cur, { owner: A, uid: U1, node: 'node-b' }, T + 7)!.state, 'released');
  const legacy = h({ uid: undefined });
  assert.equal(release(legacy, { owner: A, uid: U2, node: 'node-b' }, T + 7), legacy);
  assert.equal(release(legacy, { owner: A, uid: U2, node: 'node-a' }, T + 7)!.state, 'released');
  assert.equal(release(legacy, { owner: A, node: 'node-a' }, T + 7)!.state, 'released');
});

test('holderText names owner, UID and node', () => {
  assert.equal(holderText(h({})), `ns1/pod-a/green (uid ${U1}, active on node node-a)`);
  assert.equal(holderText(h({ uid: undefined, state: 'reserved' })), 'ns1/pod-a/green (uid unknown: written by an earlier release, reserved on node node-a)');
});

const FREE: Array<[string, Holding | undefined, number, boolean]> = [
  ['nothing', undefined, T, true],
  ['reserved', h({ state: 'reserved' }), T + 10 * GRACE, false],
  ['active', h({ state: 'active' }), T + 10 * GRACE, false],
  ['released 1s before the end of grace', h({ state: 'released' }), T + GRACE - 1, false],
  ['released at the end of grace', h({ state: 'released' }), T + GRACE, true],
];
for (const [what, cur, now, free] of FREE) {
  test(`isFree: ${what} is ${free ? 'free' : 'held'}`, () => assert.equal(isFree(cur, now, GRACE), free));
}

// ---- activate and release ----

test('activate: reserved becomes active at `now`; active stays as it is', () => {
  const r = h({ state: 'reserved', since: T });
  assert.deepEqual(activate(r, T + 3), { ...r, state: 'active', since: T + 3 });
  assert.equal(r.state, 'reserved', 'the input is not mutated');
  const a = h({ state: 'active', since: T });
  assert.equal(activate(a, T + 9), a);
});

test('release: by its owner, reserved or active becomes released at `now`', () => {
  for (const state of ['reserved', 'active'] as const) {
    const cur = h({ state });
    assert.deepEqual(release(cur, on(A, U1), T + 7), { ...cur, state: 'released', since: T + 7 });
    assert.equal(cur.state, state, 'the input is not mutated');
  }
});

test('release is idempotent: a second release keeps the first release time (and so the grace period)', () => {
  const once = release(h({ state: 'active' }), on(A), T + 7)!;
  const twice = release(once, on(A), T + 500);
  assert.equal(twice, once);
  assert.equal(twice!.since, T + 7);
});

test("release by another owner, or of nothing, does nothing", () => {
  const cur = h({ state: 'active' });
  assert.equal(release(cur, on(B), T + 7), cur);
  assert.equal(release(undefined, on(A), T + 7), undefined);
  assert.equal(isFree(release(cur, on(B), T + 7), T + 10 * GRACE, GRACE), false);
});

test('a full life: reserve, activate, release, held during grace for its owner only, then free for anyone', () => {
  let cur = reserve(undefined, on(A, U1, 'node-a'), T, GRACE, MAC);
  cur = activate(cur, T + 1);
  cur = release(cur, on(A, U1, 'node-a'), T + 100)!;
  assert.equal(thrown(() => reserve(cur, on(B, U2), T + 100 + GRACE - 1, GRACE, MAC)).code, Code.MacConflict);
  assert.equal(reserve(cur, on(A, U2), T + 200, GRACE, MAC).owner, A);
  assert.equal(reserve(cur, on(B, U2), T + 100 + GRACE, GRACE, MAC).owner, B);
});

// ---- encoding ----

const ROUND_TRIPS: Holding[] = [
  { owner: A, state: 'reserved', node: 'node-a', since: T },
  { owner: B, state: 'active', node: 'worker-17.example.com', since: 0 },
  { owner: 'kube-system/web-0/net1', state: 'released', node: '', since: 1 },
  { owner: A, state: 'active', node: 'node-a', since: T, uid: U1 },
  { owner: B, state: 'reserved', node: 'n', since: 3, uid: 'not-a-uuid.7' },
];
for (const x of ROUND_TRIPS) {
  test(`encodeHolding/decodeHolding round trip: ${x.state} ${x.owner}`, () => {
    const s = encodeHolding(x);
    assert.deepEqual(decodeHolding(s), x);
    assert.ok(s.length < 100, `compact: ${s}`);
  });
}

test('encodeHolding is compact: one letter for the state, then owner, node and epoch seconds', () => {
  assert.equal(encodeHolding({ owner: A, state: 'active', node: 'n1', since: 42 }), 'a|ns1/pod-a/green|n1|42');
  assert.equal(encodeHolding({ owner: A, state: 'reserved', node: 'n1', since: 42 }), 'r|ns1/pod-a/green|n1|42');
  assert.equal(encodeHolding({ owner: A, state: 'released', node: 'n1', since: 42 }), 'x|ns1/pod-a/green|n1|42');
});

test('encodeHolding appends the UID compactly: a UUID as 22 base64url characters, anything else after =', () => {
  assert.equal(encodeHolding({ owner: A, state: 'active', node: 'n1', since: 42, uid: U1 }), `a|ns1/pod-a/green|n1|42|${encodeUid(U1)}`);
  assert.match(encodeUid(U1), /^[-\w]{22}$/);
  assert.equal(decodeUid(encodeUid(U1)), U1);
  assert.equal(encodeUid('x.y'), '=x.y');
  assert.equal(decodeUid('=x.y'), 'x.y');
  const s = encodeHolding({ owner: 'default/web-0/net1', state: 'active', node: 'worker-17.example.com', since: T, uid: U1 });
  assert.ok(s.length < 90, `compact: ${s.length} bytes`);
});

test('holdings of the previous release (no UID) decode as uid-less; fields after the UID are ignored, as the previous release ignored the UID', () => {
  assert.deepEqual(decodeHolding('a|ns/p/a|n|5'), { state: 'active', owner: 'ns/p/a', node: 'n', since: 5 });
  assert.deepEqual(decodeHolding(`a|ns/p/a|n|5|${encodeUid(U1)}|future`), { state: 'active', owner: 'ns/p/a', node: 'n', since: 5, uid: U1 });
  assert.equal(decodeHolding('a|ns/p/a|n|5|')?.uid, undefined);
  assert.equal(isLiveEncoded(`a|ns/p/a|n|5|${encodeUid(U1)}`), true);
  assert.equal(isLiveEncoded(`x|ns/p/a|n|5|${encodeUid(U1)}`), false);
});

const GARBAGE: Array<[string, string]> = [
  ['empty', ''],
  ['a JSON value', '{"owner":"a"}'],
  ['a pool key value', '02:00:00:00:00:00'],
  ['unknown state letter', 'z|ns/p/a|n|1'],
  ['state spelled out', 'active|ns/p/a|n|1'],
  ['no owner', 'a||n|1'],
  ['no node field', 'a|ns/p/a'],
  ['no since', 'a|ns/p/a|n'],
  ['empty since', 'a|ns/p/a|n|'],
  ['negative since', 'a|ns/p/a|n|-1'],
  ['fractional since', 'a|ns/p/a|n|1.5'],
  ['since with letters', 'a|ns/p/a|n|12abc'],
];
for (const [what, s] of GARBAGE) {
  test(`decodeHolding rejects ${what}`, () => assert.equal(decodeHolding(s), undefined));
}

const KEYS: Array<[string, string]> = [
  ['02:00:00:00:00:2a', '02000000002a'],
  ['ff:ff:ff:ff:ff:ff', 'ffffffffffff'],
  ['00:00:00:00:00:00', '000000000000'],
];
for (const [mac, key] of KEYS) {
  test(`macKey(${mac}) is ${key}, a valid ConfigMap key, and keyMac gives the MAC back`, () => {
    assert.equal(macKey(mac), key);
    assert.match(key, /^[-._a-zA-Z0-9]+$/);
    assert.equal(keyMac(key), mac);
  });
}

// ---- home ----

// Blocks of 4 over 02:00:00:00:00:00 - 02:00:00:00:00:0f: block 0 leased to node-a, block 2 to node-b.
const SPEC = parseRange('02:00:00:00:00:00', '02:00:00:00:00:0f', 4);
const LEASES: Leases = { '0': 'node-a', '2': 'node-b' };

const HOMES: Array<[string, string, string]> = [
  ['the first address, in block 0 (node-a)', '02:00:00:00:00:00', 'macmux-ledger-node-a'],
  ['the last of block 0', '02:00:00:00:00:03', 'macmux-ledger-node-a'],
  ['block 1, unleased', '02:00:00:00:00:04', POOL_CM],
  ['the last of block 1', '02:00:00:00:00:07', POOL_CM],
  ['block 2 (node-b)', '02:00:00:00:00:0a', 'macmux-ledger-node-b'],
  ['block 3, unleased, the last address', '02:00:00:00:00:0f', POOL_CM],
];
for (const [what, mac, home] of HOMES) {
  test(`homeOf: ${what} lives in ${home}`, () => assert.equal(homeOf(mac, macToInt(mac), SPEC, LEASES), home));
}

test('homeOf: a MAC outside the range lives in its claims shard, macmux-claims-<2 hex>, the same every time', () => {
  for (const mac of ['01:ff:ff:ff:ff:ff', '02:00:00:00:00:10', '00:1b:2c:3d:4e:5f', 'fe:ff:ff:ff:ff:ff']) {
    const home = homeOf(mac, macToInt(mac), SPEC, LEASES);
    assert.match(home, /^macmux-claims-[0-9a-f]{2}$/);
    assert.equal(home, claimsCm(mac));
    assert.equal(homeOf(mac, macToInt(mac), SPEC, {}), home, 'leases do not move a MAC outside the range');
  }
});

test('claims shards spread MACs: 512 MACs land in many of the 256 shards', () => {
  const shards = new Set<string>();
  for (let i = 0; i < 512; i++) shards.add(claimsCm(`00:1b:2c:3d:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`));
  assert.ok(shards.size > 150, `only ${shards.size} shards`);
});

test('homeOf: leasing a block moves the home of its MACs from the pool to that node, and only theirs', () => {
  const mac = '02:00:00:00:00:05';
  assert.equal(homeOf(mac, macToInt(mac), SPEC, LEASES), POOL_CM);
  const after = { ...LEASES, '1': 'node-c' };
  assert.equal(homeOf(mac, macToInt(mac), SPEC, after), ledgerCm('node-c'));
  assert.equal(homeOf('02:00:00:00:00:0c', macToInt('02:00:00:00:00:0c'), SPEC, after), POOL_CM);
});

test('ledgerCm names a node ledger macmux-ledger-<node>', () => {
  assert.equal(ledgerCm('worker-1'), 'macmux-ledger-worker-1');
  assert.equal(POOL_CM, 'macmux-pool');
});

test('blocksOf: the blocks a node leases, in numeric order', () => {
  const leases: Leases = { '10': 'a', '2': 'a', '3': 'b', '0': 'a', '100': 'a' };
  assert.deepEqual(blocksOf(leases, 'a'), [0, 2, 10, 100]);
  assert.deepEqual(blocksOf(leases, 'b'), [3]);
  assert.deepEqual(blocksOf(leases, 'c'), []);
  assert.deepEqual(blocksOf({}, 'a'), []);
});

test('isLiveEncoded agrees with decodeHolding: true exactly for a well-formed reserved or active holding', () => {
  const cases = [
    'a|ns/p/net|node-a|1700000000',
    'r|ns/p/net|node-a|1',
    'x|ns/p/net|node-a|1700000000',
    'a|ns/p/net||1700000000',
    'a|ns/p/net|node-a|1700000000|extra',
    'a||node-a|1',
    'a|ns/p/net|node-a|',
    'a|ns/p/net|node-a|12a',
    'a|ns/p/net|node-a',
    'a|ns/p/net',
    'ar|ns/p/net|n|1',
    'A|ns/p/net|n|1',
    '',
    'garbage',
    ' a|ns/p/net|n|1',
    'r|o|n|1|',
  ];
  for (const s of cases) {
    const state = decodeHolding(s)?.state;
    assert.equal(isLiveEncoded(s), state === 'reserved' || state === 'active', JSON.stringify(s));
  }
});
