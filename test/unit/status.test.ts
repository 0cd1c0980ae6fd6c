// Unit tests for src/annotations/status.ts: the exact network-status text, prefix stripping, device-info and hot-plug merges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildNetworkStatus, deviceInfo, isPciAddress, mergeNetworkStatus, stripPrefix, type StatusEntry } from '../../src/annotations/status';

const CLUSTER: StatusEntry = { name: 'k8s-pod-network', interface: 'eth0', ips: ['10.244.1.5/24', 'fd00:10:244:1::5/64'], mac: '0a:58:0a:f4:01:05', default: true };
const GREEN: StatusEntry = { name: 'default/green', interface: 'net9f27410725ab', ips: ['192.168.42.10/24'], mac: '02:00:00:00:00:01', default: false };

test('buildNetworkStatus writes the exact multus text', () => {
  const want = `[{
    "name": "k8s-pod-network",
    "interface": "eth0",
    "ips": [
        "10.244.1.5",
        "fd00:10:244:1::5"
    ],
    "mac": "0a:58:0a:f4:01:05",
    "default": true,
    "dns": {}
},{
    "name": "default/green",
    "interface": "net9f27410725ab",
    "ips": [
        "192.168.42.10"
    ],
    "mac": "02:00:00:00:00:01",
    "dns": {}
}]`;
  assert.equal(buildNetworkStatus([CLUSTER, GREEN]), want);
});

test('buildNetworkStatus with no entries is an empty list', () => {
  assert.equal(buildNetworkStatus([]), '[]');
});

const SHAPES: Array<[string, StatusEntry, Record<string, unknown>]> = [
  ['unknown mac and interface are left out, as are empty ips', { name: 'default/x', ips: [], default: false }, { name: 'default/x', dns: {} }],
  ['empty strings count as unknown', { name: 'default/x', interface: '', mac: '', ips: [], default: false }, { name: 'default/x', dns: {} }],
  ['default false is left out', { name: 'a', ips: ['1.2.3.4'], default: false }, { name: 'a', ips: ['1.2.3.4'], dns: {} }],
  ['default true is written', { name: 'a', ips: [], default: true }, { name: 'a', default: true, dns: {} }],
  [
    'dns keeps only the fields that are set, in multus order',
    { name: 'a', ips: [], default: true, dns: { options: ['ndots:5'], search: [], domain: 'cluster.local', nameservers: ['10.96.0.10'] } },
    { name: 'a', default: true, dns: { nameservers: ['10.96.0.10'], domain: 'cluster.local', options: ['ndots:5'] } },
  ],
  ['an empty dns is {}', { name: 'a', ips: [], default: false, dns: { nameservers: [], domain: '' } }, { name: 'a', dns: {} }],
  [
    'a PCI device ID gives pci device-info',
    { name: 'default/vf', interface: 'net1', ips: [], default: false, deviceID: '0000:3b:02.1' },
    { name: 'default/vf', interface: 'net1', dns: {}, 'device-info': { type: 'pci', version: '1.1.0', pci: { 'pci-address': '0000:3b:02.1' } } },
  ],
  ['a non-PCI device ID gives no device-info', { name: 'default/dp', ips: [], default: false, deviceID: 'dataplane0' }, { name: 'default/dp', dns: {} }],
  ['an empty device ID gives no device-info', { name: 'default/dp', ips: [], default: false, deviceID: '' }, { name: 'default/dp', dns: {} }],
];
for (const [what, entry, want] of SHAPES) {
  test(`status entry: ${what}`, () => {
    const text = buildNetworkStatus([entry]);
    const parsed = JSON.parse(text) as unknown[];
    assert.deepEqual(parsed, [want]);
    // Key order is multus's: name, interface, ips, mac, default, dns, device-info.
    assert.deepEqual(Object.keys(parsed[0] as object), Object.keys(want));
  });
}

test('device-info is the last field and indented like the rest', () => {
  assert.equal(
    buildNetworkStatus([{ name: 'default/vf', interface: 'net1', ips: ['10.0.0.2/24'], mac: '02:00:00:00:00:02', default: false, deviceID: '0000:af:00.7' }]),
    `[{
    "name": "default/vf",
    "interface": "net1",
    "ips": [
        "10.0.0.2"
    ],
    "mac": "02:00:00:00:00:02",
    "dns": {},
    "device-info": {
        "type": "pci",
        "version": "1.1.0",
        "pci": {
            "pci-address": "0000:af:00.7"
        }
    }
}]`,
  );
});

const PREFIXES: Array<[string, string]> = [
  ['10.1.2.3/24', '10.1.2.3'],
  ['10.1.2.3', '10.1.2.3'],
  ['fd00::1/64', 'fd00::1'],
  ['2001:db8::2230/32', '2001:db8::2230'],
  ['fe80::1', 'fe80::1'],
];
for (const [ip, want] of PREFIXES) test(`stripPrefix(${ip}) is ${want}`, () => assert.equal(stripPrefix(ip), want));

const PCI: Array<[string, boolean]> = [
  ['0000:00:1f.2', true],
  ['0000:AF:02.7', true],
  ['10000:00:00.0', true],
  ['00:1f.2', false],
  ['0000:00:1f.8', false],
  ['0000:00:1f', false],
  ['dataplane0', false],
  [' 0000:00:1f.2', false],
];
for (const [id, want] of PCI) {
  test(`isPciAddress(${JSON.stringify(id)}) is ${want}`, () => {
    assert.equal(isPciAddress(id), want);
    assert.equal(deviceInfo(id) !== undefined, want);
  });
}

// ---- hot-plug merge ----

const BLUE: StatusEntry = { name: 'default/blue', interface: 'net48d6215903df', ips: ['192.168.43.10/24'], default: false };
const parse = (s: string) => JSON.parse(s) as Array<Record<string, unknown>>;
const names = (s: string) => parse(s).map((o) => `${String(o.name)}@${String(o.interface)}`);

test('merge adds a hot-plugged attachment after the existing ones', () => {
  const out = mergeNetworkStatus(buildNetworkStatus([CLUSTER, GREEN]), { add: [BLUE] });
  assert.equal(out, buildNetworkStatus([CLUSTER, GREEN, BLUE]));
});

test('merge removes a hot-unplugged attachment by name', () => {
  const out = mergeNetworkStatus(buildNetworkStatus([CLUSTER, GREEN, BLUE]), { removeNames: ['default/green'] });
  assert.equal(out, buildNetworkStatus([CLUSTER, BLUE]));
});

test('merge removes by name and interface, leaving the same network on another interface', () => {
  const green2: StatusEntry = { ...GREEN, interface: 'net2' };
  const existing = buildNetworkStatus([CLUSTER, GREEN, green2]);
  assert.deepEqual(names(mergeNetworkStatus(existing, { remove: [{ name: 'default/green', interface: 'net2' }] })), [
    'k8s-pod-network@eth0',
    'default/green@net9f27410725ab',
  ]);
  assert.deepEqual(names(mergeNetworkStatus(existing, { remove: [{ name: 'default/green' }] })), ['k8s-pod-network@eth0']);
  assert.deepEqual(names(mergeNetworkStatus(existing, { remove: [{ name: 'default/green', interface: 'net7' }] })), names(existing));
});

test('merge replaces an entry with the same name and interface in place', () => {
  const readded: StatusEntry = { ...GREEN, ips: ['192.168.42.99/24'] };
  const out = parse(mergeNetworkStatus(buildNetworkStatus([CLUSTER, GREEN, BLUE]), { add: [readded] }));
  assert.deepEqual(out.map((o) => o.name), ['k8s-pod-network', 'default/green', 'default/blue']);
  assert.deepEqual(out[1]!.ips, ['192.168.42.99']);
});

test('merge removes before it adds, so remove+add of one attachment replaces it', () => {
  const readded: StatusEntry = { ...GREEN, mac: '02:00:00:00:00:09' };
  const out = parse(mergeNetworkStatus(buildNetworkStatus([CLUSTER, GREEN, BLUE]), { removeNames: ['default/green'], add: [readded] }));
  assert.deepEqual(out.map((o) => o.name), ['k8s-pod-network', 'default/blue', 'default/green']);
  assert.equal(out[2]!.mac, '02:00:00:00:00:09');
});

test('merge keeps fields another writer put in existing entries', () => {
  const existing = JSON.stringify([{ name: 'k8s-pod-network', interface: 'eth0', ips: ['10.0.0.1'], default: true, dns: {}, mtu: 1450, gateway: ['10.0.0.254'] }]);
  const out = parse(mergeNetworkStatus(existing, { add: [BLUE] }));
  assert.deepEqual(out[0], { name: 'k8s-pod-network', interface: 'eth0', ips: ['10.0.0.1'], default: true, dns: {}, mtu: 1450, gateway: ['10.0.0.254'] });
  assert.equal(out.length, 2);
});

const MALFORMED: Array<[string, string | undefined]> = [
  ['absent', undefined],
  ['empty', ''],
  ['not JSON', '[{"name":'],
  ['an object', '{"name":"x"}'],
  ['a string', '"x"'],
];
for (const [what, existing] of MALFORMED) {
  test(`merge replaces an existing value that is ${what}`, () => {
    assert.equal(mergeNetworkStatus(existing, { add: [GREEN] }), buildNetworkStatus([GREEN]));
    assert.equal(mergeNetworkStatus(existing, { removeNames: ['x'] }), '[]');
  });
}

test('merge drops existing elements that are not objects with a string name', () => {
  const existing = JSON.stringify([5, null, { interface: 'net1' }, { name: 3 }, { name: 'ok', dns: {} }, []]);
  assert.deepEqual(parse(mergeNetworkStatus(existing, {})), [{ name: 'ok', dns: {} }]);
});

test('merge output is formatted like buildNetworkStatus', () => {
  const out = mergeNetworkStatus(JSON.stringify([{ name: 'a', dns: {} }]), { add: [BLUE] });
  assert.equal(
    out,
    `[{
    "name": "a",
    "dns": {}
},{
    "name": "default/blue",
    "interface": "net48d6215903df",
    "ips": [
        "192.168.43.10"
    ],
    "dns": {}
}]`,
  );
});
