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
  withoutRetention,
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

// ---- retention beyond the grace period (macmux.io/mac-retention: owner) ----

const STS = 'StatefulSet/web';
const VMI = 'VirtualMachineInstance/vm1';
/** A released holding retained for `retain`, of owner `owner`. */
const kept = (retain: string, owner = 'ns1/web-0/green', over: Partial<Holding> = {}): Holding => h({ owner, state: 'released', since: T, retain, ...over });
const withoutUid = (x: Holding): Holding => {
  const { uid: _, ...rest } = x;
  return rest;
};
/** A claimant of anchor `retain`. */
const by = (owner: string, retain?: string, uid = U2) => ({ ...on(owner, uid), ...(retain !== undefined ? { retain } : {}) });

test('retention: a retained holding encodes as a sixth field o:Kind/name; fields 0-4 are what releases before it read', () => {
  for (const base of [h({ state: 'released' }), h({ state: 'released', uid: undefined }), h({ state: 'active' })]) {
    const plain = encodeHolding(base).split('|');
    const fields = encodeHolding({ ...base, retain: STS }).split('|');
    assert.equal(fields.length, 6, fields.join('|'));
    assert.deepEqual(fields.slice(0, 4), plain.slice(0, 4), 'state, owner, node and since unchanged');
    assert.equal(fields[4], plain[4] ?? '', 'the uid field, empty when there is none');
    assert.equal(fields[5], `o:${STS}`);
  }
  assert.equal(encodeHolding({ owner: A, state: 'released', node: 'n1', since: 42, retain: STS }), 'x|ns1/pod-a/green|n1|42||o:StatefulSet/web');
  assert.equal(encodeHolding({ owner: A, state: 'released', node: 'n1', since: 42, uid: U1, retain: VMI }), `x|ns1/pod-a/green|n1|42|${encodeUid(U1)}|o:VirtualMachineInstance/vm1`);
});

test('retention: the field is read back; an empty uid field stays no uid; later fields are ignored', () => {
  for (const x of [kept(STS), withoutUid(kept(VMI, A)), kept('VirtualMachine/vm1', A, { state: 'active' })]) assert.deepEqual(decodeHolding(encodeHolding(x)), x);
  assert.deepEqual(decodeHolding('x|ns/p/a|n|5||o:StatefulSet/web|future'), { state: 'released', owner: 'ns/p/a', node: 'n', since: 5, retain: STS });
});

test('retention: a sixth field that is not a valid anchor is ignored (the holding keeps the grace period only)', () => {
  for (const bad of ['o:', 'o:Pod/web', 'o:StatefulSet/', 'o:StatefulSet/Web', 'o:statefulset/web', `o:StatefulSet/${'a'.repeat(254)}`, 'StatefulSet/web', 'o:StatefulSet/web/x', 'z:future']) {
    const d = decodeHolding(`x|ns/p/a|n|5||${bad}`);
    assert.deepEqual(d, { state: 'released', owner: 'ns/p/a', node: 'n', since: 5 }, bad);
  }
});

test('retention: isFree: a released retained holding is held whatever its age; dated 0 (a forced release) it is free', () => {
  assert.equal(isFree(kept(STS), T + 1000 * GRACE, GRACE), false);
  assert.equal(isFree(kept(STS, A, { since: 0 }), T, GRACE), true);
  assert.equal(isFree(kept(STS, A, { state: 'active' }), T + 1000 * GRACE, GRACE), false);
  assert.equal(isFree(withoutRetention(kept(STS)), T + GRACE, GRACE), true, 'without the retention: the grace period again');
});

const RETAINED: Array<{ what: string; cur: Holding; c: ReturnType<typeof by>; take: boolean }> = [
  { what: 'same owner name, another UID, long after grace', cur: kept(STS), c: by('ns1/web-0/green'), take: true },
  { what: 'same owner name without the annotation now', cur: kept(STS), c: by('ns1/web-0/green', undefined), take: true },
  { what: 'another pod of the same anchor, namespace and attachment (a new virt-launcher pod)', cur: kept(VMI, 'ns1/virt-launcher-vm1-abcde/green'), c: by('ns1/virt-launcher-vm1-fghij/green', VMI), take: true },
  { what: 'same anchor, another attachment', cur: kept(VMI, 'ns1/virt-launcher-vm1-abcde/green'), c: by('ns1/virt-launcher-vm1-fghij/blue', VMI), take: false },
  { what: 'same anchor text, another namespace', cur: kept(VMI, 'ns1/virt-launcher-vm1-abcde/green'), c: by('ns2/virt-launcher-vm1-fghij/green', VMI), take: false },
  { what: 'another anchor, same namespace and attachment', cur: kept(STS, 'ns1/web-0/green'), c: by('ns1/web-1/green', 'StatefulSet/db'), take: false },
  { what: 'another kind of the same name', cur: kept('VirtualMachineInstance/web', 'ns1/web-0/green'), c: by('ns1/web-1/green', STS), take: false },
  { what: 'a claimant without an anchor, same namespace and attachment', cur: kept(STS, 'ns1/web-0/green'), c: by('ns1/web-1/green'), take: false },
  { what: 'another owner, long after grace', cur: kept(STS), c: by(B), take: false },
  { what: 'an active retained holding, same anchor, another pod', cur: kept(VMI, 'ns1/virt-launcher-vm1-abcde/green', { state: 'active' }), c: by('ns1/virt-launcher-vm1-fghij/green', VMI), take: false },
  { what: 'a released holding without retention, in grace, a claimant with an anchor', cur: h({ owner: 'ns1/web-0/green', state: 'released', since: T + 100 * GRACE - 1 }), c: by('ns1/web-1/green', STS), take: false },
];
for (const x of RETAINED) {
  test(`retention: mayTake/reserve of a released retained holding: ${x.what}: ${x.take ? 'taken' : 'refused'}`, () => {
    const now = T + 100 * GRACE;
    assert.equal(mayTake(x.cur, x.c, now, GRACE), x.take);
    if (x.take) {
      assert.deepEqual(reserve(x.cur, x.c, now, GRACE, MAC), { owner: x.c.owner, state: 'reserved', node: 'node-b', since: now, uid: U2, ...(x.c.retain ? { retain: x.c.retain } : {}) });
      return;
    }
    const e = thrown(() => reserve(x.cur, x.c, now, GRACE, MAC));
    assert.equal(e.code, Code.MacConflict);
    if (x.cur.state === 'released' && x.cur.retain) assert.match(e.message, new RegExp(`retained for as long as its owner ${x.cur.retain} exists\\)$`));
  });
}

test('retention: reserve records the claimant\'s anchor; release keeps the releasing pod\'s anchor, else the recorded one', () => {
  const r = reserve(undefined, by('ns1/web-0/green', STS, U1), T, GRACE, MAC);
  assert.equal(r.retain, STS);
  const a = activate(r, T + 1);
  assert.deepEqual(release(a, { owner: 'ns1/web-0/green', uid: U1, node: 'node-a' }, T + 9), { ...a, state: 'released', since: T + 9, retain: STS }, 'a DEL that could not read the pod keeps it');
  const plain = activate(reserve(undefined, by('ns1/web-0/green', undefined, U1), T, GRACE, MAC), T + 1);
  assert.equal(plain.retain, undefined);
  assert.equal(release(plain, { owner: 'ns1/web-0/green', uid: U1, node: 'node-a', retain: STS }, T + 9)!.retain, STS);
  assert.equal(release(plain, { owner: 'ns1/web-0/green', uid: U1, node: 'node-a' }, T + 9)!.retain, undefined);
  assert.equal(release(plain, { owner: 'ns1/web-0/green', uid: U2, node: 'node-a', retain: STS }, T + 9), plain, 'not the releasing pod\'s: unchanged');
});

test('retention: isLiveEncoded stays exact on six-field holdings', () => {
  const cases = ['a|ns/p/net|n|1||o:StatefulSet/web', 'r|ns/p/net|n|1|AAAAAAAAAAAAAAAAAAAAAA|o:StatefulSet/web', 'x|ns/p/net|n|1||o:StatefulSet/web', 'x|ns/p/net|n|0||o:StatefulSet/web', 'a|ns/p/net|n||o:StatefulSet/web'];
  for (const s of cases) {
    const state = decodeHolding(s)?.state;
    assert.equal(isLiveEncoded(s), state === 'reserved' || state === 'active', s);
  }
});
