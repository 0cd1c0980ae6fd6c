// Unit tests for src/annotations/networks.ts: both annotation forms, every error, cluster-network selection and device names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  deviceNames,
  isDns1123Label,
  parseDefaultNetwork,
  parseNetworks,
  selectClusterNetwork,
  type NetworkSelection,
} from '../../src/annotations/networks';
import { thrown } from './helpers';

const POD = { namespace: 'default', name: 'web' };
const NETS = 'pod default/web: annotation k8s.v1.cni.cncf.io/networks: ';
const DEF = 'pod default/web: annotation v1.multus-cni.io/default-network: ';
const GREEN = 'net9f27410725ab';
const BLUE = 'net48d6215903df';

// ---- comma form ----

const TEXT_OK: Array<[string, NetworkSelection[]]> = [
  ['', []],
  ['  \t ', []],
  ['green', [{ index: 0, name: 'green', namespace: 'default' }]],
  [
    ' green , other/blue@net1 ,red@eth5 ',
    [
      { index: 0, name: 'green', namespace: 'default' },
      { index: 1, name: 'blue', namespace: 'other', interface: 'net1' },
      { index: 2, name: 'red', namespace: 'default', interface: 'eth5' },
    ],
  ],
  ['kube-system/a-1@x', [{ index: 0, name: 'a-1', namespace: 'kube-system', interface: 'x' }]],
  ['0/9', [{ index: 0, name: '9', namespace: '0' }]],
  [`${'a'.repeat(63)}@${'i'.repeat(15)}`, [{ index: 0, name: 'a'.repeat(63), namespace: 'default', interface: 'i'.repeat(15) }]],
];
for (const [value, want] of TEXT_OK) {
  test(`comma form ${JSON.stringify(value)} parses`, () => assert.deepEqual(parseNetworks(value, POD), want));
}

const TEXT_ERRORS: Array<[string, string]> = [
  ['Bad_Name', 'element 0: name "Bad_Name" is not a valid DNS-1123 label'],
  ['green,Blue', 'element 1: name "Blue" is not a valid DNS-1123 label'],
  ['-green', 'element 0: name "-green" is not a valid DNS-1123 label'],
  ['green-', 'element 0: name "green-" is not a valid DNS-1123 label'],
  ['gr.een', 'element 0: name "gr.een" is not a valid DNS-1123 label'],
  ['a'.repeat(64), `element 0: name "${'a'.repeat(64)}" is not a valid DNS-1123 label`],
  ['@net1', 'element 0: name "" is not a valid DNS-1123 label'],
  ['green , gr een', 'element 1: name "gr een" is not a valid DNS-1123 label'],
  ['Other/green', 'element 0: namespace "Other" is not a valid DNS-1123 label'],
  ['/green', 'element 0: namespace "" is not a valid DNS-1123 label'],
  [`${'n'.repeat(64)}/green`, `element 0: namespace "${'n'.repeat(64)}" is not a valid DNS-1123 label`],
  ['a/b/c', 'element 0: "a/b/c" has more than one "/"'],
  ['green@net1@x', 'element 0: "green@net1@x" has more than one "@"'],
  ['green@', 'element 0: interface "" is empty'],
  ['green@abcdefghijklmnop', 'element 0: interface "abcdefghijklmnop" is longer than 15 characters'],
  ['green@net/1', 'element 0: interface "net/1" may not contain "/", ":" or whitespace'],
  ['ns/green@a/b', 'element 0: interface "a/b" may not contain "/", ":" or whitespace'],
  ['green@net 1', 'element 0: interface "net 1" may not contain "/", ":" or whitespace'],
  ['green@eth0:1', 'element 0: interface "eth0:1" may not contain "/", ":" or whitespace'],
  ['green@..', 'element 0: interface ".." may not be "." or ".."'],
  ['green@lo', 'element 0: interface "lo" is the pod\'s loopback device'],
  ['green,,blue', 'element 1: is empty'],
  ['green,', 'element 1: is empty'],
  [',green', 'element 0: is empty'],
];
for (const [value, msg] of TEXT_ERRORS) {
  test(`comma form ${JSON.stringify(value)} is code 7: ${msg}`, () => {
    const e = thrown(() => parseNetworks(value, POD));
    assert.equal(e.code, 7);
    assert.equal(e.message, NETS + msg);
  });
}

test('a bad label error carries the DNS-1123 rule in details', () => {
  const e = thrown(() => parseNetworks('Bad_Name', POD));
  assert.match(e.details, /63 characters/);
  assert.match(e.details, /lowercase/);
});

test('the pod in messages is the one given', () => {
  const e = thrown(() => parseNetworks('X', { namespace: 'team-a', name: 'db-0' }));
  assert.match(e.message, /^pod team-a\/db-0: annotation k8s\.v1\.cni\.cncf\.io\/networks: element 0: /);
});

test('isDns1123Label follows the rule', () => {
  for (const ok of ['a', '0', 'a-b', 'a--b', 'x'.repeat(63), '1abc']) assert.ok(isDns1123Label(ok), ok);
  for (const bad of ['', 'A', '-a', 'a-', 'a_b', 'a.b', 'x'.repeat(64), 'é']) assert.ok(!isDns1123Label(bad), bad);
});

// ---- JSON form ----

const JSON_OK: Array<[string, unknown, NetworkSelection[]]> = [
  ['empty list', [], []],
  [
    'name only, then namespace and interface',
    [{ name: 'green' }, { name: 'blue', namespace: 'other', interface: 'net1' }],
    [
      { index: 0, name: 'green', namespace: 'default' },
      { index: 1, name: 'blue', namespace: 'other', interface: 'net1' },
    ],
  ],
  [
    'every field',
    [
      {
        name: 'dataplane',
        namespace: 'infra',
        interface: 'dp0',
        mac: '02:23:45:67:89:01',
        isPrimary: false,
        ips: ['10.1.1.11/24', 'fd00::11/64'],
        'cni-args': { foo: 'bar', n: 1 },
        'default-route': ['10.1.1.1', 'fd00::1'],
        portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
        bandwidth: { ingressRate: 1000, egressRate: 2000 },
      },
    ],
    [
      {
        index: 0,
        name: 'dataplane',
        namespace: 'infra',
        interface: 'dp0',
        mac: '02:23:45:67:89:01',
        isPrimary: false,
        ips: ['10.1.1.11/24', 'fd00::11/64'],
        cniArgs: { foo: 'bar', n: 1 },
        defaultRoute: ['10.1.1.1', 'fd00::1'],
        portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
        bandwidth: { ingressRate: 1000, egressRate: 2000 },
      },
    ],
  ],
  ['kactus ifMac is mac', [{ name: 'mynet', ifMac: '00:11:22:33:44:55' }], [{ index: 0, name: 'mynet', namespace: 'default', mac: '00:11:22:33:44:55' }]],
  [
    'mac and ifMac equal up to case: mac as given wins',
    [{ name: 'mynet', mac: '02:AA:bb:cc:dd:ee', ifMac: '02:aa:BB:CC:DD:EE' }],
    [{ index: 0, name: 'mynet', namespace: 'default', mac: '02:AA:bb:cc:dd:ee' }],
  ],
  [
    'kactus isPrimary',
    [{ name: 'mydefaultnet', ifMac: '00:11:22:33:44:55', isPrimary: true }],
    [{ index: 0, name: 'mydefaultnet', namespace: 'default', mac: '00:11:22:33:44:55', isPrimary: true }],
  ],
  ['unknown fields are ignored', [{ name: 'green', 'infiniband-guid': 'x', whatever: [1, 2] }], [{ index: 0, name: 'green', namespace: 'default' }]],
  [
    'null and empty strings mean not given',
    [{ name: 'green', namespace: '', interface: '', mac: '', ifMac: null, ips: null, 'cni-args': null, isPrimary: null, bandwidth: null }],
    [{ index: 0, name: 'green', namespace: 'default' }],
  ],
  ['"ns/name" in name', [{ name: 'default/p4p1', mac: '02:23:45:67:89:01' }], [{ index: 0, name: 'p4p1', namespace: 'default', mac: '02:23:45:67:89:01' }]],
  ['"ns/name" in name agreeing with namespace', [{ name: 'infra/p4p1', namespace: 'infra' }], [{ index: 0, name: 'p4p1', namespace: 'infra' }]],
  ['empty arrays are kept', [{ name: 'g', ips: [], 'default-route': [], portMappings: [] }], [{ index: 0, name: 'g', namespace: 'default', ips: [], defaultRoute: [], portMappings: [] }]],
];
for (const [what, value, want] of JSON_OK) {
  test(`JSON form: ${what}`, () => {
    assert.deepEqual(parseNetworks(JSON.stringify(value), POD), want);
    // Whitespace and line breaks around the list (a YAML block scalar) do not matter.
    assert.deepEqual(parseNetworks(`\n  ${JSON.stringify(value, null, 2)}\n`, POD), want);
  });
}

const JSON_ERRORS: Array<[string, string]> = [
  ['[{"name":"a"},{"name":"b","interface":5}]', 'element 1: "interface" must be a string'],
  ['[{}]', 'element 0: "name" is required'],
  ['[{"name":null}]', 'element 0: "name" is required'],
  ['[{"namespace":"x"}]', 'element 0: "name" is required'],
  ['[{"name":5}]', 'element 0: "name" must be a string'],
  ['[{"name":["a"]}]', 'element 0: "name" must be a string'],
  ['[{"name":""}]', 'element 0: name "" is not a valid DNS-1123 label'],
  ['[{"name":"Bad_Name"}]', 'element 0: name "Bad_Name" is not a valid DNS-1123 label'],
  ['[{"name":"green@net1"}]', 'element 0: name "green@net1" is not a valid DNS-1123 label'],
  ['[{"name":"a/b/c"}]', 'element 0: "a/b/c" has more than one "/"'],
  ['[{"name":"NS/a"}]', 'element 0: namespace "NS" is not a valid DNS-1123 label'],
  ['[{"name":"a","namespace":7}]', 'element 0: "namespace" must be a string'],
  ['[{"name":"a","namespace":"Other"}]', 'element 0: namespace "Other" is not a valid DNS-1123 label'],
  ['[{"name":"x/a","namespace":"y"}]', 'element 0: "name" "x/a" names namespace "x" but "namespace" is "y"'],
  ['[{"name":"a","interface":"abcdefghijklmnop"}]', 'element 0: interface "abcdefghijklmnop" is longer than 15 characters'],
  ['[{"name":"a","interface":"a/b"}]', 'element 0: interface "a/b" may not contain "/", ":" or whitespace'],
  ['[{"name":"a","interface":"lo"}]', 'element 0: interface "lo" is the pod\'s loopback device'],
  ['[{"name":"a","interface":" net1"}]', 'element 0: interface " net1" may not contain "/", ":" or whitespace'],
  ['[{"name":"a","interface":"net\\t1"}]', 'element 0: interface "net\t1" may not contain "/", ":" or whitespace'],
  ['[{"name":"a","interface":"."}]', 'element 0: interface "." may not be "." or ".."'],
  ['[{"name":"a","interface":true}]', 'element 0: "interface" must be a string'],
  ['[{"name":"a","mac":5}]', 'element 0: "mac" must be a string'],
  ['[{"name":"a","ifMac":{}}]', 'element 0: "ifMac" must be a string'],
  [
    '[{"name":"a","mac":"02:00:00:00:00:01","ifMac":"02:00:00:00:00:02"}]',
    'element 0: "mac" "02:00:00:00:00:01" and "ifMac" "02:00:00:00:00:02" differ; give one of them',
  ],
  ['[{"name":"a","isPrimary":"true"}]', 'element 0: "isPrimary" must be a boolean'],
  ['[{"name":"a","isPrimary":1}]', 'element 0: "isPrimary" must be a boolean'],
  ['[{"name":"a","ips":"10.0.0.1"}]', 'element 0: "ips" must be an array of strings'],
  ['[{"name":"a","ips":[1]}]', 'element 0: "ips" must be an array of strings'],
  ['[{"name":"a","cni-args":[]}]', 'element 0: "cni-args" must be an object'],
  ['[{"name":"a","cni-args":"k=v"}]', 'element 0: "cni-args" must be an object'],
  ['[{"name":"a","default-route":"10.0.0.1"}]', 'element 0: "default-route" must be an array of strings'],
  ['[{"name":"a","default-route":[10]}]', 'element 0: "default-route" must be an array of strings'],
  ['[{"name":"a","default-route":["10.0.0.256"]}]', 'element 0: "default-route" "10.0.0.256" is not an IP address'],
  ['[{"name":"a","default-route":["10.0.0.1/24"]}]', 'element 0: "default-route" "10.0.0.1/24" is not an IP address'],
  ['[{"name":"a","portMappings":{}}]', 'element 0: "portMappings" must be an array of objects'],
  ['[{"name":"a","portMappings":[8080]}]', 'element 0: "portMappings" must be an array of objects'],
  ['[{"name":"a","bandwidth":[]}]', 'element 0: "bandwidth" must be an object'],
  ['[{"name":"a","bandwidth":100}]', 'element 0: "bandwidth" must be an object'],
  ['["green"]', 'element 0: must be a JSON object'],
  ['[{"name":"a"},null]', 'element 1: must be a JSON object'],
  ['[[{"name":"a"}]]', 'element 0: must be a JSON object'],
  ['{"name":"a"}', 'must be a JSON list of objects'],
];
for (const [value, msg] of JSON_ERRORS) {
  test(`JSON form ${value} is code 7: ${msg}`, () => {
    const e = thrown(() => parseNetworks(value, POD));
    assert.equal(e.code, 7);
    assert.equal(e.message, NETS + msg);
  });
}

for (const value of ['[{"name":', '[{"name":"a"}] x', "[{'name':'a'}]", '[', '{']) {
  test(`invalid JSON ${JSON.stringify(value)} is code 7 naming the annotation and pod`, () => {
    const e = thrown(() => parseNetworks(value, POD));
    assert.equal(e.code, 7);
    assert.ok(e.message.startsWith(NETS + 'is not valid JSON: '), e.message);
    assert.doesNotMatch(e.message, /\n/);
  });
}

// ---- default-network annotation ----

const DEFAULT_OK: Array<[string, NetworkSelection]> = [
  ['p4p1', { index: 0, name: 'p4p1', namespace: 'default' }],
  [' kube-system/calico ', { index: 0, name: 'calico', namespace: 'kube-system' }],
  ['{"name":"a","namespace":"b","ifMac":"02:00:00:00:00:09"}', { index: 0, name: 'a', namespace: 'b', mac: '02:00:00:00:00:09' }],
  ['[{"name":"infra/a","mac":"02:00:00:00:00:0a"}]', { index: 0, name: 'a', namespace: 'infra', mac: '02:00:00:00:00:0a' }],
  ['{"name":"a","ips":["10.0.0.2/24"],"isPrimary":true}', { index: 0, name: 'a', namespace: 'default' }],
];
for (const [value, want] of DEFAULT_OK) {
  test(`default-network ${JSON.stringify(value)} parses`, () => assert.deepEqual(parseDefaultNetwork(value, POD), want));
}

const DEFAULT_ERRORS: Array<[string, string]> = [
  ['', 'is empty'],
  ['   ', 'is empty'],
  ['a,b', '"a,b" names more than one network'],
  ['a@net1', '"a@net1" may not name an interface: the default network always uses the cluster interface'],
  ['Bad', 'name "Bad" is not a valid DNS-1123 label'],
  ['X/a', 'namespace "X" is not a valid DNS-1123 label'],
  ['a/b/c', '"a/b/c" has more than one "/"'],
  ['[]', 'must name exactly one network, not 0'],
  ['[{"name":"a"},{"name":"b"}]', 'must name exactly one network, not 2'],
  ['[5]', 'must be a JSON object with "name"'],
  ['{}', '"name" is required'],
  ['{"name":4}', '"name" must be a string'],
  ['{"name":"a","interface":"eth1"}', '"interface" may not be set: the default network always uses the cluster interface'],
  ['{"name":"a","mac":"02:00:00:00:00:01","ifMac":"02:00:00:00:00:02"}', '"mac" "02:00:00:00:00:01" and "ifMac" "02:00:00:00:00:02" differ; give one of them'],
  ['{"name":"a","mac":1}', '"mac" must be a string'],
];
for (const [value, msg] of DEFAULT_ERRORS) {
  test(`default-network ${JSON.stringify(value)} is code 7: ${msg}`, () => {
    const e = thrown(() => parseDefaultNetwork(value, POD));
    assert.equal(e.code, 7);
    assert.equal(e.message, DEF + msg);
  });
}

test('default-network with invalid JSON is code 7 naming the annotation and pod', () => {
  const e = thrown(() => parseDefaultNetwork('{"name":', POD));
  assert.equal(e.code, 7);
  assert.ok(e.message.startsWith(DEF + 'is not valid JSON: '), e.message);
});

// ---- which network replaces the cluster network ----

const sel = (index: number, name: string, extra: Partial<NetworkSelection> = {}): NetworkSelection => ({ index, name, namespace: 'default', ...extra });

test('without isPrimary or default-network every selection is a secondary', () => {
  const s = [sel(0, 'a'), sel(1, 'b', { isPrimary: false })];
  const got = selectClusterNetwork(s, undefined, POD);
  assert.deepEqual(got, { secondaries: s });
  assert.ok(!('primary' in got));
});

test('the isPrimary element replaces the cluster network and leaves the secondaries', () => {
  const s = parseNetworks('[{"name":"a"},{"name":"core","isPrimary":true,"ifMac":"02:00:00:00:00:01"},{"name":"b","isPrimary":false}]', POD);
  const got = selectClusterNetwork(s, undefined, POD);
  assert.deepEqual(got.primary, { index: 1, name: 'core', namespace: 'default', isPrimary: true, mac: '02:00:00:00:00:01' });
  assert.deepEqual(got.secondaries.map((x) => x.name), ['a', 'b']);
});

test('the default-network annotation replaces the cluster network', () => {
  const def = parseDefaultNetwork('infra/core', POD);
  const s = parseNetworks('a,b', POD);
  const got = selectClusterNetwork(s, def, POD);
  assert.equal(got.primary, def);
  assert.deepEqual(got.secondaries, s);
});

test('two isPrimary elements are code 7 naming both', () => {
  const s = [sel(0, 'a', { isPrimary: true }), sel(1, 'b'), sel(2, 'c', { isPrimary: true, namespace: 'x' })];
  const e = thrown(() => selectClusterNetwork(s, undefined, POD));
  assert.equal(e.code, 7);
  assert.equal(
    e.message,
    'pod default/web: annotation k8s.v1.cni.cncf.io/networks: elements 0 ("default/a") and 2 ("x/c") both set "isPrimary"; only one network may replace the cluster network',
  );
});

test('isPrimary plus default-network is code 7 naming both', () => {
  const s = [sel(0, 'a'), sel(1, 'b', { isPrimary: true })];
  const e = thrown(() => selectClusterNetwork(s, sel(0, 'core', { namespace: 'infra' }), POD));
  assert.equal(e.code, 7);
  assert.equal(
    e.message,
    'pod default/web: annotation k8s.v1.cni.cncf.io/networks element 1 ("default/b") sets "isPrimary" and annotation v1.multus-cni.io/default-network names "infra/core"; only one network may replace the cluster network',
  );
});

// ---- device names ----

test('devices are md5 names of the NAD name unless an interface is given', () => {
  const s = parseNetworks('green, other/blue, red@net1', POD);
  assert.deepEqual(deviceNames(s, 'eth0', POD), [GREEN, BLUE, 'net1']);
  assert.deepEqual(deviceNames([], 'eth0', POD), []);
});

const COLLISIONS: Array<[string, string, string | string[], string]> = [
  [
    'an explicit interface equal to another md5 name',
    `[{"name":"green"},{"name":"blue","interface":"${GREEN}"}]`,
    'eth0',
    `elements 0 ("default/green") and 1 ("default/blue") would both use device "${GREEN}"`,
  ],
  [
    'an md5 name equal to an earlier explicit interface',
    `[{"name":"blue","interface":"${GREEN}"},{"name":"green"}]`,
    'eth0',
    `elements 0 ("default/blue") and 1 ("default/green") would both use device "${GREEN}"`,
  ],
  ['one NAD name in two namespaces', 'a/green,b/green', 'eth0', `elements 0 ("a/green") and 1 ("b/green") would both use device "${GREEN}"`],
  ['the same network twice', 'green, blue, green', 'eth0', `elements 0 ("default/green") and 2 ("default/green") would both use device "${GREEN}"`],
  ['two explicit interfaces', 'green@net1,blue@net1', 'eth0', 'elements 0 ("default/green") and 1 ("default/blue") would both use device "net1"'],
  ['an explicit interface equal to the cluster ifname', 'green,blue@eth0', 'eth0', 'element 1 ("default/blue") would use device "eth0", which is reserved for the cluster network'],
  ['an md5 name equal to the cluster ifname', 'blue,green', GREEN, `element 1 ("default/green") would use device "${GREEN}", which is reserved for the cluster network`],
  ['any of several reserved names', 'green@net1', ['eth0', 'net1'], 'element 0 ("default/green") would use device "net1", which is reserved for the cluster network'],
];
for (const [what, value, reserved, msg] of COLLISIONS) {
  test(`device collision: ${what} is code 7 naming both`, () => {
    const e = thrown(() => deviceNames(parseNetworks(value, POD), reserved, POD));
    assert.equal(e.code, 7);
    assert.equal(e.message, NETS + msg);
  });
}

test('the primary does not take a secondary device, so its name may repeat as a secondary', () => {
  const { primary, secondaries } = selectClusterNetwork(parseNetworks('[{"name":"green","isPrimary":true},{"name":"blue"}]', POD), undefined, POD);
  assert.equal(primary?.name, 'green');
  assert.deepEqual(deviceNames(secondaries, 'eth0', POD), [BLUE]);
  const def = parseDefaultNetwork('green', POD);
  const got = selectClusterNetwork(parseNetworks('green', POD), def, POD);
  assert.deepEqual(deviceNames(got.secondaries, 'eth0', POD), [GREEN]);
});

const BAD_VALUES: Array<[string, unknown, RegExp]> = [
  ['a multicast mac', [{ name: 'a' }, { name: 'b', mac: '03:00:00:00:00:01' }], /element 1: "mac" 03:00:00:00:00:01 is a multicast address/],
  ['an EUI-64 ifMac', [{ name: 'a', ifMac: '02:00:00:ff:fe:00:00:01' }], /element 0: "ifMac" "02:00:00:ff:fe:00:00:01" is not a MAC address of 6 octets/],
  ['a non-hex mac', [{ name: 'a', mac: 'zz:00:00:00:00:01' }], /element 0: "mac" "zz:00:00:00:00:01" is not a MAC/],
  ['the all-zero mac', [{ name: 'a', mac: '00:00:00:00:00:00' }], /element 0: "mac" is the all-zero MAC/],
  ['an ips entry that is no IP', [{ name: 'a', ips: ['10.1.1.1/24', 'not-an-ip'] }], /element 0: "ips" entry "not-an-ip" is not an IP address or CIDR/],
  ['an ips prefix too long', [{ name: 'a', ips: ['10.1.1.1/33'] }], /"ips" entry "10.1.1.1\/33"/],
];
for (const [what, value, want] of BAD_VALUES) {
  test(`JSON form: ${what} is code 7 naming the pod, element and field`, () => {
    const e = thrown(() => parseNetworks(JSON.stringify(value), { namespace: 'ns1', name: 'p1' }));
    assert.equal(e.code, 7);
    assert.match(e.message, /^pod ns1\/p1: annotation k8s\.v1\.cni\.cncf\.io\/networks: /);
    assert.match(e.message, want);
  });
}

test('JSON form: good ips (IPv4/IPv6, with or without prefix) and a dash-separated mac pass', () => {
  const [sel] = parseNetworks(JSON.stringify([{ name: 'a', mac: '02-AA-bb-cc-dd-ee', ips: ['10.1.1.1', '10.1.1.2/24', 'fd00::1/64'] }]), { namespace: 'ns1', name: 'p1' });
  assert.deepEqual(sel?.ips, ['10.1.1.1', '10.1.1.2/24', 'fd00::1/64']);
  assert.equal(sel?.mac, '02-AA-bb-cc-dd-ee');
});
