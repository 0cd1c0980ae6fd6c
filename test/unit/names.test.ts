// Unit tests for src/util/names.ts and src/plugin/plan.ts: device names and the static attachment plan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deviceName } from '../../src/util/names';
import { checkUnique, planStatic } from '../../src/plugin/plan';
import type { Attachment } from '../../src/state/attachment';
import { loadConf, toNetworkList } from '../../src/config/load';
import { CniError } from '../../src/cni/errors';

const NAMES: Array<[string, string]> = [
  ['green', 'net9f27410725ab'],
  ['blue', 'net48d6215903df'],
];
for (const [name, dev] of NAMES) {
  test(`deviceName(${name}) is ${dev}`, () => assert.equal(deviceName(name), dev));
}

test('deviceName is always 15 characters of "net" + lowercase hex', () => {
  for (const name of ['', 'a', 'green', 'x'.repeat(300), 'ünïcødé', 'ns/net-attach-def']) {
    const dev = deviceName(name);
    assert.equal(dev.length, 15);
    assert.match(dev, /^net[0-9a-f]{12}$/);
  }
  assert.notEqual(deviceName('green'), deviceName('Green'));
});

const conf = (extra: Record<string, unknown>) => loadConf({ cniVersion: '1.0.0', name: 'macmux', type: 'macmux', ...extra });
const summary = (atts: Attachment[]) => atts.map((a) => [a.name, a.ifName, a.cluster]);

test('without clusterNetwork or masterPlugin the first delegate is the cluster network', () => {
  const atts = planStatic(conf({ delegates: [{ name: 'flannel', type: 'flannel' }, { name: 'green', type: 'macvlan' }, { name: 'blue', type: 'ipvlan' }] }), 'eth0');
  assert.deepEqual(summary(atts), [
    ['flannel', 'eth0', true],
    ['green', 'net9f27410725ab', false],
    ['blue', 'net48d6215903df', false],
  ]);
  assert.deepEqual(atts[1]!.network.plugins, [{ name: 'green', type: 'macvlan', cniVersion: '1.0.0' }]);
});

test('the masterPlugin delegate is the cluster network wherever it is listed', () => {
  const atts = planStatic(conf({ delegates: [{ name: 'green', type: 'macvlan' }, { name: 'calico', type: 'calico', masterPlugin: true }, { name: 'blue', type: 'ipvlan' }] }), 'eth0');
  assert.deepEqual(summary(atts), [
    ['calico', 'eth0', true],
    ['green', 'net9f27410725ab', false],
    ['blue', 'net48d6215903df', false],
  ]);
  assert.ok(!('masterPlugin' in atts[0]!.network.plugins[0]!));
});

test('a given clusterNetwork is the cluster network and every delegate is a secondary', () => {
  const cluster = toNetworkList({ name: 'k8s-pod-network', plugins: [{ type: 'calico' }, { type: 'portmap' }] }, 'clusterNetwork', '1.0.0');
  const atts = planStatic(conf({ clusterNetwork: '/etc/cni/net.d/10-calico.conflist', delegates: [{ name: 'green', type: 'macvlan' }, { name: 'blue', type: 'ipvlan' }] }), 'eth0', cluster);
  assert.deepEqual(summary(atts), [
    ['k8s-pod-network', 'eth0', true],
    ['green', 'net9f27410725ab', false],
    ['blue', 'net48d6215903df', false],
  ]);
  assert.equal(atts[0]!.network, cluster);
  assert.deepEqual(summary(planStatic(conf({ clusterNetwork: '/x' }), 'eth1', cluster)), [['k8s-pod-network', 'eth1', true]]);
});

test('no cluster network at all gives code 7', () => {
  assert.throws(() => planStatic(conf({ clusterNetwork: '/x' }), 'eth0'), { code: 7, message: /no cluster network/ });
});

test('two attachments with the same device name are rejected with code 7 naming both', () => {
  // A secondary whose device name is CNI_IFNAME collides with the cluster network.
  assert.throws(
    () => planStatic(conf({ delegates: [{ name: 'blue', type: 'bridge' }, { name: 'green', type: 'macvlan' }] }), 'net9f27410725ab'),
    { code: 7, message: 'attachments "blue" and "green" would both use device "net9f27410725ab"' },
  );
  // Two secondaries of the same name share a device.
  assert.throws(
    () => planStatic(conf({ delegates: [{ name: 'flannel', type: 'flannel' }, { name: 'green', type: 'macvlan' }, { name: 'green', type: 'ipvlan' }] }), 'eth0'),
    { code: 7, message: /"green" and "green" would both use device "net9f27410725ab"/ },
  );
});

test('checkUnique accepts distinct devices and names both attachments of a clash', () => {
  const net = toNetworkList({ name: 'n', type: 'bridge' }, 'n', '1.0.0');
  const att = (name: string, ifName: string): Attachment => ({ name, ifName, cluster: false, network: net });
  assert.doesNotThrow(() => checkUnique([att('a', 'eth0'), att('b', 'net1'), att('c', 'net2')]));
  assert.throws(() => checkUnique([att('a', 'eth0'), att('b', 'net1'), att('c', 'net1')]), (e: unknown) => {
    assert.ok(e instanceof CniError);
    assert.equal(e.code, 7);
    assert.equal(e.message, 'attachments "b" and "c" would both use device "net1"');
    return true;
  });
});
