// Unit tests for src/mac/address.ts and src/mac/range.ts: MAC parsing, 48-bit arithmetic, ranges, blocks and what a pool may hand out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLocallyAdministered, isUnicast, parseMac, requestedMac } from '../../src/mac/address';
import {
  assignable,
  blockBounds,
  blockCount,
  blockOf,
  DEFAULT_BLOCK_SIZE,
  freeInBlock,
  inRange,
  intToMac,
  isLocalInt,
  isMulticastInt,
  MAC_MAX,
  macToInt,
  nextAssignable,
  parseRange,
  poolSize,
  rangeText,
  type PoolSpec,
} from '../../src/mac/range';
import { Code } from '../../src/cni/errors';
import { thrown } from './helpers';

const m = (s: string) => macToInt(s);

// ---- parseMac ----

const PARSED: Array<[string, string]> = [
  ['02:00:00:00:00:01', '02:00:00:00:00:01'],
  ['02-00-00-00-00-01', '02:00:00:00:00:01'],
  ['0A:1B:2C:3D:4E:5F', '0a:1b:2c:3d:4e:5f'],
  ['0a-1B-2c-3D-4e-5F', '0a:1b:2c:3d:4e:5f'],
  ['ff:ff:ff:ff:ff:ff', 'ff:ff:ff:ff:ff:ff'],
  ['00:00:00:00:00:00', '00:00:00:00:00:00'],
];
for (const [input, canonical] of PARSED) {
  test(`parseMac(${input}) is ${canonical}`, () => assert.equal(parseMac(input), canonical));
}

const NOT_MACS: Array<[string, string]> = [
  ['empty', ''],
  ['five octets', '02:00:00:00:01'],
  ['seven octets', '02:00:00:00:00:01:02'],
  ['EUI-64', '02:00:00:ff:fe:00:00:01'],
  ['EUI-64 with dashes', '02-00-00-ff-fe-00-00-01'],
  ['20-octet IPoIB', '80:00:00:48:fe:80:00:00:00:00:00:00:02:c9:02:00:23:13:92:a1'],
  ['mixed separators', '02:00-00:00:00:01'],
  ['dots (Cisco form)', '0200.0000.0001'],
  ['no separators', '020000000001'],
  ['one-digit octet', '2:00:00:00:00:01'],
  ['three-digit octet', '002:00:00:00:00:01'],
  ['non-hex digit', '02:00:00:00:00:0g'],
  ['trailing newline', '02:00:00:00:00:01\n'],
  ['leading space', ' 02:00:00:00:00:01'],
];
for (const [what, input] of NOT_MACS) {
  test(`parseMac rejects ${what}`, () => assert.equal(parseMac(input), undefined));
}

// ---- requestedMac ----

test('requestedMac returns the canonical form of a unicast MAC, locally or globally administered', () => {
  assert.equal(requestedMac('0A-1B-2C-3D-4E-5F', 'mac'), '0a:1b:2c:3d:4e:5f');
  assert.equal(requestedMac('00:1b:2c:3d:4e:5f', 'mac'), '00:1b:2c:3d:4e:5f');
  assert.equal(requestedMac('02:00:00:00:00:00', 'mac'), '02:00:00:00:00:00');
});

const BAD_REQUESTS: Array<[string, string, RegExp]> = [
  ['EUI-64', '02:00:00:ff:fe:00:00:01', /not a MAC address of 6 octets/],
  ['20-octet IPoIB', '80:00:00:48:fe:80:00:00:00:00:00:00:02:c9:02:00:23:13:92:a1', /not a MAC address of 6 octets/],
  ['garbage', 'nope', /not a MAC address of 6 octets/],
  ['multicast', '01:00:5e:00:00:01', /multicast/],
  ['multicast, locally administered', '03:00:00:00:00:01', /multicast/],
  ['broadcast', 'FF:FF:FF:FF:FF:FF', /multicast/],
  ['all-zero', '00:00:00:00:00:00', /all-zero/],
  ['all-zero with dashes', '00-00-00-00-00-00', /all-zero/],
];
for (const [what, input, msg] of BAD_REQUESTS) {
  test(`requestedMac rejects ${what} with code 7 naming the field`, () => {
    const e = thrown(() => requestedMac(input, 'annotation[0].mac'));
    assert.equal(e.code, Code.InvalidConfig);
    assert.match(e.message, /^annotation\[0\]\.mac: /);
    assert.match(e.message, msg);
  });
}

const BITS: Array<[string, boolean, boolean]> = [
  // mac, unicast, locally administered
  ['00:11:22:33:44:55', true, false],
  ['01:11:22:33:44:55', false, false],
  ['02:11:22:33:44:55', true, true],
  ['03:11:22:33:44:55', false, true],
  ['fe:11:22:33:44:55', true, true],
  ['ff:ff:ff:ff:ff:ff', false, true],
];
for (const [mac, unicast, local] of BITS) {
  test(`${mac}: unicast ${unicast}, locally administered ${local} (string and integer checks agree)`, () => {
    assert.equal(isUnicast(mac), unicast);
    assert.equal(isLocallyAdministered(mac), local);
    assert.equal(isMulticastInt(m(mac)), !unicast);
    assert.equal(isLocalInt(m(mac)), local);
    assert.equal(assignable(m(mac)), unicast && local);
  });
}

// ---- integers ----

const INTS: Array<[string, number]> = [
  ['00:00:00:00:00:00', 0],
  ['00:00:00:00:00:01', 1],
  ['00:00:00:00:01:00', 256],
  ['02:00:00:00:00:00', 2 * 2 ** 40],
  ['02:00:00:00:00:ff', 2 * 2 ** 40 + 255],
  ['02:00:00:00:01:00', 2 * 2 ** 40 + 256],
  ['12:34:56:78:9a:bc', 0x123456789abc],
  ['ff:ff:ff:ff:ff:ff', MAC_MAX],
];
for (const [mac, n] of INTS) {
  test(`macToInt(${mac}) is ${n} and intToMac gives it back`, () => {
    assert.equal(macToInt(mac), n);
    assert.equal(intToMac(n), mac);
    assert.equal(macToInt(mac.toUpperCase().replace(/:/g, '-')), n);
  });
}

test('MAC_MAX is 2^48 - 1 and every integer round-trips through intToMac', () => {
  assert.equal(MAC_MAX, 0xffffffffffff);
  for (const n of [0, 1, 255, 256, 2 ** 40 - 1, 2 ** 40, 2 ** 47, MAC_MAX - 1, MAC_MAX, 0x0123456789ab]) {
    const mac = intToMac(n);
    assert.match(mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    assert.equal(macToInt(mac), n);
  }
});

// ---- parseRange ----

test('parseRange: whole 48-bit comparison, so 02:00:00:00:01:00 is above 02:00:00:00:00:ff', () => {
  // Octet by octet, 01 > 00 but 00 < ff: only the whole value says which end is higher. A per-octet check
  // (kubemacpool's) also rejects the valid reverse range below, whose last octet goes down from ff to 00.
  const e = thrown(() => parseRange('02:00:00:00:01:00', '02:00:00:00:00:ff'));
  assert.equal(e.code, Code.InvalidConfig);
  assert.match(e.message, /RANGE_START 02:00:00:00:01:00 is above RANGE_END 02:00:00:00:00:ff/);
  // The other way round is a valid 256-address range, although its last octet goes down.
  assert.deepEqual(parseRange('02:00:00:00:00:ff', '02:00:00:00:01:00'), { start: m('02:00:00:00:00:ff'), end: m('02:00:00:00:01:00'), blockSize: DEFAULT_BLOCK_SIZE });
  // First octets decide even when all later octets point the other way.
  thrown(() => parseRange('03:00:00:00:00:00', '02:ff:ff:ff:ff:ff'));
  assert.equal(parseRange('02:ff:ff:ff:ff:ff', '03:00:00:00:00:00').end - parseRange('02:ff:ff:ff:ff:ff', '03:00:00:00:00:00').start, 1);
});

test('parseRange accepts a single-address range, dashes and upper case, and defaults the block size to 256', () => {
  assert.equal(DEFAULT_BLOCK_SIZE, 256);
  assert.deepEqual(parseRange('02:00:00:00:00:05', '02-00-00-00-00-05'), { start: m('02:00:00:00:00:05'), end: m('02:00:00:00:00:05'), blockSize: 256 });
  assert.deepEqual(parseRange('0A:00:00:00:00:00', '0a:00:00:00:ff:ff', 16), { start: m('0a:00:00:00:00:00'), end: m('0a:00:00:00:ff:ff'), blockSize: 16 });
});

const BAD_RANGES: Array<[string, string, string, number | undefined, RegExp]> = [
  ['start not a MAC', '02:00:00:00:00', '02:00:00:00:00:ff', undefined, /RANGE_START "02:00:00:00:00" is not a MAC address/],
  ['end not a MAC', '02:00:00:00:00:00', 'x', undefined, /RANGE_END "x" is not a MAC address/],
  ['EUI-64 end', '02:00:00:00:00:00', '02:00:00:ff:fe:00:00:01', undefined, /RANGE_END/],
  ['block size 0', '02:00:00:00:00:00', '02:00:00:00:00:ff', 0, /BLOCK_SIZE 0 must be an integer from 1 to 65536/],
  ['negative block size', '02:00:00:00:00:00', '02:00:00:00:00:ff', -4, /BLOCK_SIZE -4/],
  ['fractional block size', '02:00:00:00:00:00', '02:00:00:00:00:ff', 2.5, /BLOCK_SIZE 2.5/],
  ['NaN block size', '02:00:00:00:00:00', '02:00:00:00:00:ff', NaN, /BLOCK_SIZE NaN/],
  ['block size above 65536', '02:00:00:00:00:00', '02:00:00:00:00:ff', 65537, /BLOCK_SIZE 65537/],
];
for (const [what, s, e, bs, msg] of BAD_RANGES) {
  test(`parseRange rejects ${what} with code 7`, () => {
    const err = thrown(() => parseRange(s, e, bs, 'macPool'));
    assert.equal(err.code, Code.InvalidConfig);
    assert.match(err.message, /^macPool: /);
    assert.match(err.message, msg);
  });
}

test('parseRange accepts the block size bounds 1 and 65536, and names where the range came from', () => {
  assert.equal(parseRange('02:00:00:00:00:00', '02:00:00:00:00:ff', 1).blockSize, 1);
  assert.equal(parseRange('02:00:00:00:00:00', '02:00:00:00:00:ff', 65536).blockSize, 65536);
  assert.match(thrown(() => parseRange('x', 'y', 4, 'ConfigMap macmux-pool')).message, /^ConfigMap macmux-pool: /);
});

// ---- blocks ----

// 02:00:00:00:00:00 - 02:00:00:00:00:09 in blocks of 4: [0..3] [4..7] [8..9].
const SMALL: PoolSpec = parseRange('02:00:00:00:00:00', '02:00:00:00:00:09', 4);
const S0 = SMALL.start;

const BLOCK_OF: Array<[string, number, number | undefined]> = [
  ['one below the range', S0 - 1, undefined],
  ['the first address', S0, 0],
  ['the last of block 0', S0 + 3, 0],
  ['the first of block 1', S0 + 4, 1],
  ['the first of the partial last block', S0 + 8, 2],
  ['the last address', S0 + 9, 2],
  ['one above the range', S0 + 10, undefined],
];
for (const [what, n, block] of BLOCK_OF) {
  test(`blockOf: ${what} is ${block === undefined ? 'outside' : `block ${block}`}`, () => {
    assert.equal(blockOf(SMALL, n), block);
    assert.equal(inRange(SMALL, n), block !== undefined);
  });
}

test('blockBounds: full blocks, and a last partial block cut at the range end', () => {
  assert.equal(blockCount(SMALL), 3);
  assert.deepEqual(blockBounds(SMALL, 0), [S0, S0 + 3]);
  assert.deepEqual(blockBounds(SMALL, 1), [S0 + 4, S0 + 7]);
  assert.deepEqual(blockBounds(SMALL, 2), [S0 + 8, S0 + 9]);
  // Every address lies in the block whose bounds contain it.
  for (let n = S0; n <= SMALL.end; n++) {
    const [lo, hi] = blockBounds(SMALL, blockOf(SMALL, n)!);
    assert.ok(lo <= n && n <= hi, intToMac(n));
  }
});

test('blockCount and blockBounds with an exact multiple, a single address, and the very top of the MAC space', () => {
  const exact = parseRange('02:00:00:00:00:00', '02:00:00:00:00:ff', 16);
  assert.equal(blockCount(exact), 16);
  assert.deepEqual(blockBounds(exact, 15), [exact.start + 240, exact.end]);
  const one = parseRange('02:00:00:00:00:07', '02:00:00:00:00:07', 256);
  assert.equal(blockCount(one), 1);
  assert.deepEqual(blockBounds(one, 0), [one.start, one.start]);
  const top = parseRange('fe:ff:ff:ff:ff:00', 'ff:ff:ff:ff:ff:ff', 256);
  assert.equal(blockCount(top), 2 ** 32 + 1);
  assert.equal(blockOf(top, MAC_MAX), 2 ** 32);
  assert.deepEqual(blockBounds(top, 2 ** 32), [MAC_MAX - 255, MAC_MAX]);
  assert.equal(rangeText(top), 'fe:ff:ff:ff:ff:00-ff:ff:ff:ff:ff:ff');
});

// ---- nextAssignable ----

test('nextAssignable crosses from 02:ff:ff:ff:ff:ff to 06:00:00:00:00:00, never 03:, 04: or 05:', () => {
  const lo = m('02:ff:ff:ff:ff:fe');
  const hi = m('06:00:00:00:00:01');
  const out: string[] = [];
  for (let x = nextAssignable(lo, hi); x !== undefined && out.length < 10; x = nextAssignable(x + 1, hi)) out.push(intToMac(x));
  assert.deepEqual(out, ['02:ff:ff:ff:ff:fe', '02:ff:ff:ff:ff:ff', '06:00:00:00:00:00', '06:00:00:00:00:01']);
});

const NEXT: Array<[string, string, string, string | undefined]> = [
  ['an assignable start is itself', '02:00:00:00:00:05', '02:00:00:00:00:09', '02:00:00:00:00:05'],
  ['from globally administered 00: to 02:', '00:12:34:56:78:9a', '02:00:00:00:00:00', '02:00:00:00:00:00'],
  ['from multicast 03: to 06:', '03:00:00:00:00:07', '06:00:00:00:00:00', '06:00:00:00:00:00'],
  ['from 04: (global) to 06:', '04:ff:ff:ff:ff:ff', '07:00:00:00:00:00', '06:00:00:00:00:00'],
  ['nothing when hi stops before the next assignable octet', '03:00:00:00:00:00', '05:ff:ff:ff:ff:ff', undefined],
  ['nothing when n is above hi', '02:00:00:00:00:02', '02:00:00:00:00:01', undefined],
  ['ff: (broadcast octet) is skipped to the end of the space', 'fe:ff:ff:ff:ff:ff', 'ff:ff:ff:ff:ff:ff', 'fe:ff:ff:ff:ff:ff'],
  ['nothing from ff:00:00:00:00:00', 'ff:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff', undefined],
];
for (const [what, from, to, want] of NEXT) {
  test(`nextAssignable: ${what}`, () => {
    const got = nextAssignable(m(from), m(to));
    assert.equal(got === undefined ? undefined : intToMac(got), want);
  });
}

test('nextAssignable agrees with the definition at the edges of every first octet from 00 to 07', () => {
  // Within one first octet every address has the same two bits, so the answer is either n itself or the
  // start of a later octet; sampling both ends of each octet therefore contains every possible answer.
  const samples: number[] = [];
  for (let o = 0; o <= 7; o++) for (const d of [0, 1, 2, 2 ** 40 - 2, 2 ** 40 - 1]) samples.push(o * 2 ** 40 + d);
  const hi = 8 * 2 ** 40 - 1;
  for (const n of samples) {
    const want = samples.find((s) => s >= n && assignable(s));
    assert.equal(nextAssignable(n, hi), want, intToMac(n));
  }
});

// ---- poolSize ----

const SIZES: Array<[string, string, number]> = [
  ['02:00:00:00:00:00', '02:00:00:00:00:09', 10],
  ['02:00:00:00:00:07', '02:00:00:00:00:07', 1],
  ['03:00:00:00:00:00', '03:ff:ff:ff:ff:ff', 0],
  ['00:00:00:00:00:00', '01:ff:ff:ff:ff:ff', 0],
  ['02:ff:ff:ff:ff:fe', '06:00:00:00:00:01', 4],
  ['01:ff:ff:ff:ff:ff', '02:00:00:00:00:00', 1],
  ['02:00:00:00:00:00', '02:ff:ff:ff:ff:ff', 2 ** 40],
  ['00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff', 64 * 2 ** 40],
];
for (const [s, e, n] of SIZES) {
  test(`poolSize(${s}-${e}) is ${n}`, () => assert.equal(poolSize(parseRange(s, e)), n));
}

// ---- freeInBlock ----

test('freeInBlock: the lowest free assignable address of the block, or undefined when it is full', () => {
  const held = new Set<number>();
  const taken = (n: number) => held.has(n);
  assert.equal(freeInBlock(SMALL, 0, taken), S0);
  held.add(S0);
  assert.equal(freeInBlock(SMALL, 0, taken), S0 + 1);
  held.add(S0 + 2);
  assert.equal(freeInBlock(SMALL, 0, taken), S0 + 1);
  held.add(S0 + 1).add(S0 + 3);
  assert.equal(freeInBlock(SMALL, 0, taken), undefined);
  // Block 1 is unaffected; the partial block 2 has exactly two addresses.
  assert.equal(freeInBlock(SMALL, 1, taken), S0 + 4);
  held.add(S0 + 8);
  assert.equal(freeInBlock(SMALL, 2, taken), S0 + 9);
  held.add(S0 + 9);
  assert.equal(freeInBlock(SMALL, 2, taken), undefined);
});

test('freeInBlock never asks about, nor returns, an address that is not assignable', () => {
  // Blocks of 2 across 02:ff:ff:ff:ff:fe - 06:00:00:00:00:01: block 0 is assignable, blocks 1 .. inside 03:-05: are not.
  const spec = parseRange('02:ff:ff:ff:ff:fe', '06:00:00:00:00:01', 2);
  const asked: number[] = [];
  const none = (n: number) => {
    asked.push(n);
    return false;
  };
  assert.equal(freeInBlock(spec, 0, none), m('02:ff:ff:ff:ff:fe'));
  assert.equal(freeInBlock(spec, 1, none), undefined); // 03:00:00:00:00:00 - 03:00:00:00:00:01
  const last = blockCount(spec) - 1;
  assert.equal(freeInBlock(spec, last, none), m('06:00:00:00:00:00'));
  const all = (n: number) => {
    asked.push(n);
    return n !== m('06:00:00:00:00:01');
  };
  assert.equal(freeInBlock(spec, last, all), m('06:00:00:00:00:01'));
  assert.ok(asked.every(assignable), asked.map(intToMac).join(' '));
});
