// Unit tests for src/cni/result.ts and src/cni/versions.ts: results converted between every pair of CNI versions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyResult, formatResult, macOf, parseResult } from '../../src/cni/result';
import { compareVersions, isSupported, LATEST_VERSION, requireSupported, SUPPORTED_VERSIONS, versionInfo } from '../../src/cni/versions';
import { CniError } from '../../src/cni/errors';

type Json = Record<string, unknown>;
const LEGACY = ['0.1.0', '0.2.0'];
const VERSIONED_IPS = ['0.3.0', '0.3.1', '0.4.0'];
const ALL = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];

// The same attachment, as each version can express it.
const IFACES_BASIC = [
  { name: 'cni0', mac: '0a:58:0a:01:00:01' },
  { name: 'eth0', mac: '02:42:ac:11:00:05', sandbox: '/var/run/netns/pod1' },
];
const IFACES_11 = [
  { name: 'cni0', mac: '0a:58:0a:01:00:01', mtu: 1500 },
  { name: 'eth0', mac: '02:42:ac:11:00:05', mtu: 1450, sandbox: '/var/run/netns/pod1', socketPath: '/run/vhost-user/eth0.sock', pciID: '0000:00:1f.0' },
];
const V4 = { address: '10.1.0.5/24', gateway: '10.1.0.1' };
const V6 = { address: 'fd00::5/64', gateway: 'fd00::1' };
const ROUTES_BASIC = [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }, { dst: '10.2.0.0/16' }, { dst: '::/0', gw: 'fd00::1' }];
const ROUTES_11 = [
  { dst: '0.0.0.0/0', gw: '10.1.0.1', mtu: 1400, advmss: 1360, priority: 100, table: 254, scope: 0 },
  { dst: '10.2.0.0/16', scope: 253 },
  { dst: '::/0', gw: 'fd00::1', priority: 1024 },
];
const DNS = { nameservers: ['10.96.0.10'], domain: 'cluster.local', search: ['default.svc.cluster.local', 'svc.cluster.local'], options: ['ndots:5'] };

function legacyShape(v: string): Json {
  return {
    cniVersion: v,
    ip4: { ip: V4.address, gateway: V4.gateway, routes: [ROUTES_BASIC[0], ROUTES_BASIC[1]] },
    ip6: { ip: V6.address, gateway: V6.gateway, routes: [ROUTES_BASIC[2]] },
    dns: DNS,
  };
}

/** A realistic result as a plugin of version `v` prints it. */
function sample(v: string): Json {
  if (LEGACY.includes(v)) return legacyShape(v);
  const ips = [{ ...V4, interface: 1 }, { ...V6, interface: 1 }];
  if (v === '1.1.0') return { cniVersion: v, interfaces: IFACES_11, ips, routes: ROUTES_11, dns: DNS };
  const versioned = VERSIONED_IPS.includes(v) ? [{ version: '4', ...ips[0] }, { version: '6', ...ips[1] }] : ips;
  return { cniVersion: v, interfaces: IFACES_BASIC, ips: versioned, routes: ROUTES_BASIC, dns: DNS };
}

/** What a result from `from`, printed in `to`, must look like exactly. */
function expected(from: string, to: string): Json {
  if (LEGACY.includes(to)) return legacyShape(to);
  const fromLegacy = LEGACY.includes(from);
  const rich = from === '1.1.0' && to === '1.1.0';
  const idx = fromLegacy ? {} : { interface: 1 };
  const ips: Json[] = [{ ...V4, ...idx }, { ...V6, ...idx }];
  if (VERSIONED_IPS.includes(to)) {
    ips[0] = { version: '4', ...ips[0] };
    ips[1] = { version: '6', ...ips[1] };
  }
  return {
    cniVersion: to,
    ...(fromLegacy ? {} : { interfaces: rich ? IFACES_11 : IFACES_BASIC }),
    ips,
    routes: rich ? ROUTES_11 : ROUTES_BASIC,
    dns: DNS,
  };
}

test('the supported versions are exactly the seven spec versions', () => {
  assert.deepEqual([...SUPPORTED_VERSIONS], ALL);
  assert.equal(LATEST_VERSION, '1.1.0');
});

for (const from of ALL) {
  for (const to of ALL) {
    test(`result ${from} -> ${to}`, () => {
      const input = sample(from);
      const snapshot = structuredClone(input);
      const out = formatResult(parseResult(input, 'test'), to);
      assert.deepEqual(out, expected(from, to));
      assert.deepEqual(input, snapshot, 'input not mutated');
      const text = JSON.stringify(out);
      if (LEGACY.includes(to)) assert.doesNotMatch(text, /"interfaces"|"ips"|"version"/);
      if (to !== '1.1.0') assert.doesNotMatch(text, /"mtu"|"socketPath"|"pciID"|"advmss"|"priority"|"table"|"scope"/);
      if (to === '1.0.0' || to === '1.1.0') assert.doesNotMatch(text, /"version"/);
    });
  }
}

test('legacy output keeps only the first address of each family and routes of families that have one', () => {
  const res = parseResult(
    { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24' }, { address: '10.0.0.3/24', gateway: '10.0.0.1' }], routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0', gw: 'fd00::1' }] },
    'test',
  );
  assert.deepEqual(formatResult(res, '0.2.0'), { cniVersion: '0.2.0', ip4: { ip: '10.0.0.2/24', routes: [{ dst: '0.0.0.0/0' }] }, dns: {} });
});

test('an empty result prints no interfaces, ips or routes', () => {
  assert.deepEqual(formatResult(emptyResult(), '1.1.0'), { cniVersion: '1.1.0', dns: {} });
  assert.deepEqual(formatResult(emptyResult(), '0.2.0'), { cniVersion: '0.2.0', dns: {} });
});

test('macOf prefers the sandbox interface of that name', () => {
  const res = parseResult({ cniVersion: '1.0.0', interfaces: [{ name: 'eth0', mac: 'aa:aa:aa:aa:aa:aa' }, { name: 'eth0', mac: '02:00:00:00:00:01', sandbox: '/ns' }] }, 'test');
  assert.equal(macOf(res, 'eth0'), '02:00:00:00:00:01');
  assert.equal(macOf(parseResult(sample('1.0.0'), 'test'), 'cni0'), '0a:58:0a:01:00:01');
  assert.equal(macOf(res, 'net1'), undefined);
});

const BAD_RESULTS: Array<[string, unknown, number, RegExp]> = [
  ['unsupported cniVersion', { cniVersion: '0.5.0', ips: [] }, 1, /unsupported cniVersion "0\.5\.0"/],
  ['future cniVersion', { cniVersion: '2.0.0' }, 1, /unsupported cniVersion "2\.0\.0"/],
  ['missing cniVersion', { ips: [] }, 1, /unsupported cniVersion ""/],
  ['non-string cniVersion', { cniVersion: 1 }, 1, /unsupported cniVersion/],
  ['an array', [], 6, /not a JSON object/],
  ['null', null, 6, /not a JSON object/],
];
for (const [name, raw, code, msg] of BAD_RESULTS) {
  test(`parseResult rejects ${name} with code ${code}`, () => {
    assert.throws(() => parseResult(raw, 'bridge ADD'), (e: unknown) => {
      assert.ok(e instanceof CniError);
      assert.equal(e.code, code);
      assert.match(e.message, /^bridge ADD: /);
      assert.match(e.message, msg);
      return true;
    });
  });
}

const COMPARE: Array<[string, string, -1 | 0 | 1]> = [
  ['0.1.0', '0.2.0', -1],
  ['0.3.0', '0.3.1', -1],
  ['0.4.0', '0.3.1', 1],
  ['1.0.0', '0.4.0', 1],
  ['1.1.0', '1.1.0', 0],
  ['1.1', '1.1.0', 0],
  ['0.10.0', '0.9.0', 1],
  ['1.0.10', '1.0.9', 1],
];
for (const [a, b, sign] of COMPARE) {
  test(`compareVersions(${a}, ${b}) is ${sign}`, () => {
    assert.equal(Math.sign(compareVersions(a, b)), sign);
    assert.equal(Math.sign(compareVersions(b, a)), -sign || 0);
  });
}

test('isSupported and requireSupported', () => {
  for (const v of ALL) {
    assert.ok(isSupported(v));
    assert.equal(requireSupported(v, 'x'), v);
  }
  for (const v of ['0.5.0', '1.2.0', '', '1.0']) {
    assert.equal(isSupported(v), false);
    assert.throws(() => requireSupported(v, 'conf'), { code: 1, message: `conf: unsupported cniVersion "${v}"`, details: `supported: ${ALL.join(', ')}` });
  }
});

test('versionInfo echoes the asked version, else the newest', () => {
  assert.deepEqual(versionInfo('0.4.0'), { cniVersion: '0.4.0', supportedVersions: ALL });
  assert.deepEqual(versionInfo(undefined), { cniVersion: '1.1.0', supportedVersions: ALL });
  assert.deepEqual(versionInfo(''), { cniVersion: '1.1.0', supportedVersions: ALL });
});
