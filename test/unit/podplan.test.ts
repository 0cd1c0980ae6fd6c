// Unit tests for a pod's attachments: src/plugin/plan.ts (decorate, buildPodPlan, status entries), their delegate stdin, and delegateArgs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPodPlan, decorate, planStatic, statusEntries, statusEntry, type ResolvedSelection } from '../../src/plugin/plan';
import type { Attachment } from '../../src/state/attachment';
import { delegateArgs } from '../../src/plugin/context';
import { buildStdin } from '../../src/delegate/stdin';
import { loadConf, type NetworkList, type PluginConf } from '../../src/config/load';
import { nadNetwork } from '../../src/config/nad';
import { parseCniArgs, readEnv, type CniEnv } from '../../src/cni/env';
import type { NetworkSelection } from '../../src/annotations/networks';
import type { Result } from '../../src/cni/result';
import { deviceName } from '../../src/util/names';
import { thrown } from './helpers';

const POD = { namespace: 'default', name: 'web' };
const GREEN_DEV = 'net9f27410725ab';
const MAC = '02:aa:bb:cc:dd:ee';
const PCI = '0000:03:00.1';

const sel = (name: string, extra: Partial<NetworkSelection> = {}): NetworkSelection => ({ index: 0, name, namespace: 'default', ...extra });

/** A conflist of three plugins, the first with args of its own. */
function conflist(name = 'green'): NetworkList {
  return nadNetwork(
    { namespace: 'default', name },
    JSON.stringify({
      cniVersion: '1.0.0',
      name,
      plugins: [
        { type: 'sriov', capabilities: { mac: true, deviceID: true }, args: { cni: { vlan: 10 }, other: { k: 1 } } },
        { type: 'tuning', capabilities: { mac: true } },
        { type: 'sbr' },
      ],
    }),
    '1.0.0',
  );
}

const single = (name: string): NetworkList => nadNetwork({ namespace: 'default', name }, `{"cniVersion":"1.0.0","type":"macvlan","master":"eth1"}`, '1.0.0');

// ---- decorate ----

test('decorate: deviceID is injected into every plugin and offered as runtimeConfig.deviceID', () => {
  const network = conflist();
  const att = decorate({ selection: sel('green'), network, deviceID: PCI }, POD, {});
  assert.equal(att.network.plugins.length, 3);
  for (const p of att.network.plugins) assert.equal(p.deviceID, PCI, `plugin ${p.type}`);
  assert.deepEqual(att.runtimeConfig, { deviceID: PCI });
  assert.equal(att.deviceID, PCI);
  assert.ok(network.plugins.every((p) => !('deviceID' in p)), 'the NAD network is not mutated');
});

test('decorate: without deviceID, MAC or capabilities to offer, plugins are unchanged and there is no runtimeConfig', () => {
  const network = conflist();
  const att = decorate({ selection: sel('green'), network }, POD, {});
  assert.deepEqual(att.network, network);
  assert.ok(!('runtimeConfig' in att) && !('deviceID' in att) && !('mac' in att));
});

test('decorate: cni-args are merged into every plugin\'s args.cni, keeping existing args', () => {
  const att = decorate({ selection: sel('green', { cniArgs: { foo: 'bar', vlan: 20 } }), network: conflist() }, POD, {});
  const [sriov, tuning, sbr] = att.network.plugins as [PluginConf, PluginConf, PluginConf];
  assert.deepEqual(sriov.args, { cni: { vlan: 20, foo: 'bar' }, other: { k: 1 } });
  assert.deepEqual(tuning.args, { cni: { foo: 'bar', vlan: 20 } });
  assert.deepEqual(sbr.args, { cni: { foo: 'bar', vlan: 20 } });
  assert.ok(!('runtimeConfig' in att), 'cni-args are not a capability');
});

const MACS: Array<[string, string]> = [
  ['02-AA-BB-CC-DD-EE', MAC],
  ['02:AA:bb:Cc:dD:EE', MAC],
  [MAC, MAC],
  ['0a-00-00-00-00-01', '0a:00:00:00:00:01'],
];
for (const [given, want] of MACS) {
  test(`decorate: requested MAC ${given} → ${want} in args.cni.mac of every plugin, runtimeConfig.mac and the attachment`, () => {
    const att = decorate({ selection: sel('green', { mac: given, cniArgs: { mac: '02:00:00:00:00:99', foo: 1 } }), network: conflist() }, POD, {});
    assert.equal(att.mac, want);
    assert.deepEqual(att.runtimeConfig, { mac: want });
    for (const p of att.network.plugins) {
      const cni = (p.args as { cni: Record<string, unknown> }).cni;
      assert.equal(cni.mac, want, `plugin ${p.type}: the requested MAC wins over a cni-args mac`);
      assert.equal(cni.foo, 1);
    }
  });
}

test('decorate: a mac in the pod\'s cni-args, or in a NAD plugin\'s args.cni, is a requested MAC the ledger sees', () => {
  const viaArgs = decorate({ selection: sel('green', { cniArgs: { mac: '02-00-00-00-00-AA' } }), network: conflist() }, POD, {});
  assert.equal(viaArgs.mac, '02:00:00:00:00:aa');
  assert.deepEqual(viaArgs.runtimeConfig, { mac: '02:00:00:00:00:aa' });
  const nad = conflist();
  nad.plugins[1] = { ...nad.plugins[1]!, args: { cni: { mac: '02:00:00:00:00:bb' } } };
  assert.equal(decorate({ selection: sel('green'), network: nad }, POD, {}).mac, '02:00:00:00:00:bb');
  assert.equal(decorate({ selection: sel('green', { cniArgs: { mac: '02:00:00:00:00:aa' } }), network: nad }, POD, {}).mac, '02:00:00:00:00:aa', 'the pod\'s wins');
  const e = thrown(() => decorate({ selection: sel('green', { cniArgs: { mac: '03:00:00:00:00:01' } }), network: conflist() }, POD, {}));
  assert.equal(e.code, 7);
  assert.match(e.message, /network default\/green: cni-args\.mac: 03:00:00:00:00:01 is a multicast address/);
});

const BAD_MACS: Array<[string, string]> = [
  ['03:00:00:00:00:01', 'multicast'],
  ['ff:ff:ff:ff:ff:ff', 'multicast'],
  ['00:00:00:00:00:00', 'all-zero'],
  ['02:aa:bb:cc:dd', 'not a MAC address of 6 octets'],
  ['02:aa:bb:cc:dd:ee:ff:00', 'not a MAC address of 6 octets'],
  ['02:aa:bb:cc:dd:gg', 'not a MAC address of 6 octets'],
  ['02:aa-bb:cc:dd:ee', 'not a MAC address of 6 octets'],
  ['02aabbccddee', 'not a MAC address of 6 octets'],
];
for (const [mac, why] of BAD_MACS) {
  test(`decorate: MAC "${mac}" → code 7 naming the pod and the network (${why})`, () => {
    const e = thrown(() => decorate({ selection: sel('green', { namespace: 'nets', mac }), network: conflist() }, POD, {}));
    assert.equal(e.code, 7);
    assert.ok(e.message.startsWith('pod default/web: network nets/green: mac: '), e.message);
    assert.ok(e.message.includes(why), e.message);
  });
}

test('decorate: ips, portMappings and bandwidth are offered in runtimeConfig on top of the base; name and nad are ns/name', () => {
  const portMappings = [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }];
  const bandwidth = { ingressRate: 1000, ingressBurst: 100 };
  const selection = sel('green', { namespace: 'nets', ips: ['10.1.0.5/24', 'fd00::5/64'], portMappings, bandwidth, mac: MAC });
  const att = decorate({ selection, network: conflist(), deviceID: PCI }, POD, { dns: { nameservers: ['1.1.1.1'] }, mac: '02:00:00:00:00:77' });
  assert.equal(att.name, 'nets/green');
  assert.equal(att.nad, 'nets/green');
  assert.deepEqual(att.runtimeConfig, {
    dns: { nameservers: ['1.1.1.1'] },
    mac: MAC,
    ips: ['10.1.0.5/24', 'fd00::5/64'],
    portMappings,
    bandwidth,
    deviceID: PCI,
  });
});

// ---- decorate + buildStdin: what a delegate reads ----

test('stdin: a plugin declaring mac and deviceID gets both in runtimeConfig; one declaring none gets no runtimeConfig', () => {
  const network = nadNetwork(
    { namespace: 'default', name: 'green' },
    JSON.stringify({
      cniVersion: '1.0.0',
      plugins: [
        { type: 'macvtap', master: 'eth1', capabilities: { mac: true, deviceID: true } },
        { type: 'static-routes', args: { cni: { table: 7 } } },
      ],
    }),
    '1.0.0',
  );
  const att = decorate({ selection: sel('green', { mac: '02-AA-BB-CC-DD-EE', ips: ['10.1.0.5/24'] }), network, deviceID: PCI }, POD, {});
  const [first, second] = att.network.plugins.map((p) =>
    buildStdin(p, { name: att.network.name, cniVersion: att.network.cniVersion, ...(att.runtimeConfig ? { runtimeConfig: att.runtimeConfig } : {}) }),
  );
  assert.deepEqual(first, {
    type: 'macvtap',
    master: 'eth1',
    name: 'green',
    cniVersion: '1.0.0',
    deviceID: PCI,
    args: { cni: { mac: MAC } },
    runtimeConfig: { mac: MAC, deviceID: PCI },
  });
  assert.deepEqual(second, {
    type: 'static-routes',
    name: 'green',
    cniVersion: '1.0.0',
    deviceID: PCI,
    args: { cni: { table: 7, mac: MAC } },
  });
});

// ---- buildPodPlan ----

const RUNTIME_RC = { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] };

/** The static plan: cluster network "k8s-pod-network" on eth0 and a static secondary "storage". */
function fixedPlan(): Attachment[] {
  const conf = loadConf({
    cniVersion: '1.0.0',
    name: 'macmux',
    type: 'macmux',
    delegates: [
      { cniVersion: '1.0.0', name: 'k8s-pod-network', type: 'ptp' },
      { cniVersion: '1.0.0', name: 'storage', type: 'macvlan', master: 'eth2' },
    ],
    runtimeConfig: RUNTIME_RC,
  });
  return planStatic(conf, 'eth0');
}
const STORAGE_DEV = deviceName('storage');

const resolved = (name: string, extra: Partial<NetworkSelection> = {}, deviceID?: string): ResolvedSelection => ({
  selection: sel(name, extra),
  network: single(name),
  ...(deviceID ? { deviceID } : {}),
});

test('buildPodPlan: without annotations the plan is the static one', () => {
  const fixed = fixedPlan();
  assert.deepEqual(buildPodPlan(POD, fixed, undefined, []), fixed);
});

test('buildPodPlan: cluster network first, static secondaries kept, then annotation secondaries on net+md5 or their interface', () => {
  const fixed = fixedPlan();
  const out = buildPodPlan(POD, fixed, undefined, [resolved('green'), resolved('blue', { interface: 'net1', index: 1 }, PCI)]);
  assert.deepEqual(
    out.map((a) => [a.name, a.ifName, a.cluster]),
    [
      ['k8s-pod-network', 'eth0', true],
      ['storage', STORAGE_DEV, false],
      ['default/green', GREEN_DEV, false],
      ['default/blue', 'net1', false],
    ],
  );
  assert.equal(out[0], fixed[0], 'the cluster attachment is the static one');
  assert.equal(out[1], fixed[1]);
  assert.equal(out[3]!.deviceID, PCI);
  assert.ok(!('runtimeConfig' in out[2]!), 'secondaries do not get the runtime\'s runtimeConfig');
  assert.deepEqual(out[3]!.runtimeConfig, { deviceID: PCI });
});

test('buildPodPlan: a primary selection replaces the cluster network on its ifname, keeping the runtime\'s runtimeConfig', () => {
  const fixed = fixedPlan();
  const primary = resolved('prim', { mac: '02-00-00-00-00-0A', interface: 'net7' });
  const out = buildPodPlan(POD, fixed, primary, [resolved('green')]);
  assert.equal(out.length, 3);
  const [cluster, storage, green] = out as [Attachment, Attachment, Attachment];
  assert.equal(cluster.ifName, 'eth0', 'a primary\'s own interface is not used');
  assert.equal(cluster.cluster, true);
  assert.equal(cluster.name, 'default/prim');
  assert.equal(cluster.nad, 'default/prim');
  assert.equal(cluster.network.name, 'prim');
  assert.equal(cluster.mac, '02:00:00:00:00:0a');
  assert.deepEqual(cluster.runtimeConfig, { ...RUNTIME_RC, mac: '02:00:00:00:00:0a' });
  assert.equal(storage, fixed[1]);
  assert.deepEqual([green.name, green.ifName, green.cluster], ['default/green', GREEN_DEV, false]);
});

const CLASHES: Array<[string, ResolvedSelection | undefined, ResolvedSelection[], string]> = [
  ['an explicit interface equal to the cluster ifname', undefined, [resolved('green', { interface: 'eth0' })], 'device "eth0", which is reserved'],
  ['the same, with a primary', resolved('prim'), [resolved('green', { interface: 'eth0' })], 'device "eth0", which is reserved'],
  ['an explicit interface equal to a static secondary\'s device', undefined, [resolved('green', { interface: STORAGE_DEV })], `device "${STORAGE_DEV}", which is reserved`],
  ['a NAD named like a static secondary', undefined, [resolved('storage', { namespace: 'other' })], `device "${STORAGE_DEV}", which is reserved`],
  ['two secondaries on one interface', undefined, [resolved('green', { interface: 'net1' }), resolved('blue', { index: 1, interface: 'net1' })], 'would both use device "net1"'],
  ['an interface equal to another secondary\'s md5 device', undefined, [resolved('green'), resolved('blue', { index: 1, interface: GREEN_DEV })], `would both use device "${GREEN_DEV}"`],
];
for (const [label, primary, secondaries, fragment] of CLASHES) {
  test(`buildPodPlan: ${label} → code 7 naming the pod`, () => {
    const e = thrown(() => buildPodPlan(POD, fixedPlan(), primary, secondaries));
    assert.equal(e.code, 7);
    assert.ok(e.message.startsWith('pod default/web: '), e.message);
    assert.ok(e.message.includes(fragment), e.message);
  });
}

// ---- statusEntry / statusEntries ----

const DNS = { nameservers: ['10.96.0.10'], search: ['default.svc.cluster.local'] };

/** A result whose sandbox device is `dev` at index 1, behind a host-side veth at index 0; `mac` null for none. */
function result(dev: string, ips: Result['ips'], mac: string | null = '0a:58:0a:01:00:05'): Result {
  return {
    interfaces: [
      { name: 'veth1234', mac: 'ee:ee:ee:ee:ee:ee' },
      { name: dev, ...(mac ? { mac } : {}), sandbox: '/var/run/netns/cni-1' },
    ],
    ips,
    routes: [],
    dns: DNS,
  };
}

function att(over: Partial<Attachment>): Attachment {
  return { name: 'default/green', nad: 'default/green', ifName: 'net1', cluster: false, network: single('green'), ...over };
}

test('statusEntry: a secondary is ns/nad on its device, with only the ips indexed to it, its sandbox MAC and deviceID', () => {
  const res = result('net1', [
    { address: '10.1.0.5/24', interface: 1 },
    { address: '192.168.9.9/24', interface: 0 },
    { address: 'fd00::5/64', interface: 1 },
  ]);
  assert.deepEqual(statusEntry(att({ deviceID: PCI, mac: MAC }), res), {
    name: 'default/green',
    interface: 'net1',
    ips: ['10.1.0.5/24', 'fd00::5/64'],
    mac: '0a:58:0a:01:00:05',
    default: false,
    dns: DNS,
    deviceID: PCI,
  });
});

const IPS: Array<[string, Result['ips'], string[]]> = [
  ['no index: every ip', [{ address: '10.1.0.5/24' }, { address: 'fd00::5/64' }], ['10.1.0.5/24', 'fd00::5/64']],
  ['mixed: unindexed kept, indexed to another device dropped', [{ address: '10.1.0.5/24' }, { address: '10.2.0.5/24', interface: 0 }, { address: '10.3.0.5/24', interface: 1 }], ['10.1.0.5/24', '10.3.0.5/24']],
  ['all indexed elsewhere: none', [{ address: '10.2.0.5/24', interface: 0 }], []],
  ['no ips', [], []],
];
for (const [label, ips, want] of IPS) {
  test(`statusEntry ips: ${label}`, () => {
    assert.deepEqual(statusEntry(att({}), result('net1', ips)).ips, want);
  });
}

test('statusEntry: the MAC falls back to the requested one when the result gives none, and is absent when neither does', () => {
  assert.equal(statusEntry(att({ mac: MAC }), result('net1', [], null)).mac, MAC);
  assert.equal(statusEntry(att({ mac: MAC }), { interfaces: [], ips: [], routes: [], dns: {} }).mac, MAC);
  const none = statusEntry(att({}), result('net1', [], null));
  assert.ok(!('mac' in none) && !('deviceID' in none), JSON.stringify(none));
});

test('statusEntry: the config\'s cluster network is named by its network and is the only default', () => {
  const [cluster, storage] = fixedPlan() as [Attachment, Attachment];
  const entry = statusEntry({ ...cluster, name: 'renamed' }, result('eth0', [{ address: '10.244.1.5/24', interface: 1 }]));
  assert.equal(entry.name, 'k8s-pod-network');
  assert.equal(entry.interface, 'eth0');
  assert.equal(entry.default, true);
  assert.deepEqual(entry.ips, ['10.244.1.5/24']);
  const sec = statusEntry(storage, result(STORAGE_DEV, []));
  assert.deepEqual([sec.name, sec.interface, sec.default], ['storage', STORAGE_DEV, false]);
});

test('statusEntry: a primary NAD on the cluster ifname is named ns/nad and is the default', () => {
  const [cluster] = buildPodPlan(POD, fixedPlan(), resolved('prim', { namespace: 'nets' }), []) as [Attachment];
  const entry = statusEntry(cluster, result('eth0', []));
  assert.deepEqual([entry.name, entry.interface, entry.default], ['nets/prim', 'eth0', true]);
});

test('statusEntries: attachments without a result are skipped, the rest kept in order', () => {
  const plan = buildPodPlan(POD, fixedPlan(), undefined, [resolved('green'), resolved('blue', { index: 1, interface: 'net1' })]);
  plan[0]!.result = result('eth0', [{ address: '10.244.1.5/24', interface: 1 }]);
  plan[3]!.result = result('net1', [{ address: '10.1.0.5/24', interface: 1 }]);
  assert.deepEqual(
    statusEntries(plan).map((e) => [e.name, e.interface, e.ips, e.default]),
    [
      ['k8s-pod-network', 'eth0', ['10.244.1.5/24'], true],
      ['default/blue', 'net1', ['10.1.0.5/24'], false],
    ],
  );
  assert.deepEqual(statusEntries(plan.map(({ result: _r, ...a }) => a)), []);
});

// ---- delegateArgs ----

const POD_ARGS = 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=abc123;K8S_POD_UID=uid-1';

function env(cniArgs: string): CniEnv {
  const vars: Record<string, string> = {
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: 'abc123',
    CNI_NETNS: '/var/run/netns/cni-1',
    CNI_IFNAME: 'eth0',
    CNI_PATH: '/opt/cni/bin',
    CNI_ARGS: cniArgs,
  };
  return readEnv((k) => vars[k]);
}

const CLUSTER: Attachment = { name: 'k8s-pod-network', ifName: 'eth0', cluster: true, network: single('k8s-pod-network') };
const SECONDARY: Attachment = { name: 'default/green', nad: 'default/green', ifName: GREEN_DEV, cluster: false, network: single('green') };

const ARGS: Array<[string, string, Attachment, string]> = [
  [
    'cluster: the runtime\'s args as given',
    `IgnoreUnknown=1;${POD_ARGS};IP=10.244.1.5;MAC=02:00:00:00:00:09`,
    CLUSTER,
    `IgnoreUnknown=1;${POD_ARGS};IP=10.244.1.5;MAC=02:00:00:00:00:09`,
  ],
  [
    'cluster with a MAC: the attachment\'s MAC replaces the runtime\'s in place',
    `${POD_ARGS};MAC=02:00:00:00:00:09;IP=10.244.1.5`,
    { ...CLUSTER, mac: MAC },
    `IgnoreUnknown=1;${POD_ARGS};MAC=${MAC};IP=10.244.1.5`,
  ],
  [
    'cluster: IgnoreUnknown moved first and forced to 1',
    `K8S_POD_NAME=web;IgnoreUnknown=true;IP=10.244.1.5`,
    CLUSTER,
    'IgnoreUnknown=1;K8S_POD_NAME=web;IP=10.244.1.5',
  ],
  [
    'secondary: only the pod identity, no runtime IP= or MAC=',
    `IgnoreUnknown=1;IP=10.244.1.5;${POD_ARGS};MAC=02:00:00:00:00:09;K8S_POD_NETWORK=green;FOO=bar`,
    SECONDARY,
    `IgnoreUnknown=1;${POD_ARGS}`,
  ],
  [
    'secondary with a MAC: its own MAC last',
    `MAC=02:00:00:00:00:09;${POD_ARGS};IP=10.244.1.5`,
    { ...SECONDARY, mac: MAC },
    `IgnoreUnknown=1;${POD_ARGS};MAC=${MAC}`,
  ],
  [
    'secondary: a key repeated with the same value appears once',
    `K8S_POD_NAME=web;${POD_ARGS};K8S_POD_NAME=web`,
    SECONDARY,
    'IgnoreUnknown=1;K8S_POD_NAME=web;K8S_POD_NAMESPACE=default;K8S_POD_INFRA_CONTAINER_ID=abc123;K8S_POD_UID=uid-1',
  ],
  ['secondary without CNI_ARGS', '', SECONDARY, 'IgnoreUnknown=1'],
  ['secondary without CNI_ARGS, with a MAC', '', { ...SECONDARY, mac: MAC }, `IgnoreUnknown=1;MAC=${MAC}`],
  ['cluster without CNI_ARGS, with a MAC', '', { ...CLUSTER, mac: MAC }, `IgnoreUnknown=1;MAC=${MAC}`],
];
for (const [label, cniArgs, attachment, want] of ARGS) {
  test(`delegateArgs: ${label}`, () => {
    const got = delegateArgs(env(cniArgs), attachment);
    assert.equal(got, want);
    const keys = parseCniArgs(got).map(([k]) => k);
    assert.equal(new Set(keys).size, keys.length, `every key once: ${got}`);
    assert.deepEqual(parseCniArgs(got)[0], ['IgnoreUnknown', '1']);
  });
}

test('delegateArgs fills in the pod identity the runtime left out, once the pod is known, and never overrides it', () => {
  const pod = { namespace: 'default', name: 'web', uid: 'uid-from-api' };
  assert.equal(
    delegateArgs(env('K8S_POD_NAMESPACE=default;K8S_POD_NAME=web'), SECONDARY, pod),
    'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=abc123;K8S_POD_UID=uid-from-api',
  );
  assert.equal(delegateArgs(env(POD_ARGS), SECONDARY, pod), `IgnoreUnknown=1;${POD_ARGS}`, 'the runtime\'s own values win');
  assert.equal(delegateArgs(env('K8S_POD_NAME=web'), SECONDARY), 'IgnoreUnknown=1;K8S_POD_NAME=web', 'nothing invented without the pod');
});

test("decorate: a MAC in the NAD's own config is a requested MAC; the pod's mac wins over it; a bad one is code 7 naming the NAD", () => {
  const pod = { namespace: 'default', name: 'web' };
  const network = { name: 'green', cniVersion: '1.0.0', plugins: [{ type: 'macvlan', name: 'green', cniVersion: '1.0.0', mac: '02:AA:00:00:00:01' }] };
  const sel = { index: 0, name: 'green', namespace: 'default' };
  assert.equal(decorate({ selection: sel, network }, pod, {}).mac, '02:aa:00:00:00:01');
  assert.equal(decorate({ selection: { ...sel, mac: '02:bb:00:00:00:02' }, network }, pod, {}).mac, '02:bb:00:00:00:02');
  const bad = { ...network, plugins: [{ ...network.plugins[0]!, mac: '01:00:5e:00:00:01' }] };
  const e = thrown(() => decorate({ selection: sel, network: bad }, pod, {}));
  assert.equal(e.code, 7);
  assert.match(e.message, /NetworkAttachmentDefinition default\/green: mac: 01:00:5e:00:00:01 is a multicast address/);
});
