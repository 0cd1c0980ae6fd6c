// Unit tests for src/plugin/readiness.ts: STATUS's code and message from its findings, and the host devices a plugin relies on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostDevices, listed, verdict, type Problem } from '../../src/plugin/readiness';

const degraded: Problem = { kind: 'degraded', msg: 'container c1: attachment "green" (net9f27410725ab): host device "br0" (bridge of bridge) is gone' };
const noApi: Problem = { kind: 'unavailable', msg: 'Kubernetes API at https://10.0.0.1 unreachable: get namespaces kube-system: ETIMEDOUT' };
const noPlugin: Problem = { kind: 'unavailable', msg: 'delegate "green": plugin "macvtap" not found', details: 'searched: /opt/cni/bin' };
const delegate50: Problem = { kind: 'delegate', code: 50, msg: 'calico (k8s) STATUS: felix not ready' };
const delegate51: Problem = { kind: 'delegate', code: 51, msg: 'ovs (blue) STATUS: ovsdb down' };
const delegate7: Problem = { kind: 'delegate', code: 7, msg: 'probe (x) STATUS: bad config' };

test('ready when nothing was found', () => {
  assert.equal(verdict([]), undefined);
});

test('50 when macmux cannot serve an ADD, every cause named after one prefix, details kept', () => {
  const e = verdict([noApi, noPlugin])!;
  assert.equal(e.code, 50);
  assert.equal(e.message, `macmux cannot serve ADD: ${noApi.msg}; ${noPlugin.msg}`);
  assert.equal(e.details, 'searched: /opt/cni/bin');
});

test("51 whenever pods are degraded, by macmux's scan or by a delegate; degraded pods are named first", () => {
  const e = verdict([noPlugin, degraded])!;
  assert.equal(e.code, 51);
  assert.equal(e.message, `existing pods are degraded: ${degraded.msg}; macmux cannot serve ADD: ${noPlugin.msg}`);
  assert.equal(verdict([noApi, delegate51])!.code, 51);
  assert.equal(verdict([delegate50, delegate51])!.code, 51);
});

test("a delegate's error alone keeps its code and message; macmux's own 50 comes before a delegate's other code", () => {
  const e = verdict([delegate7])!;
  assert.equal(e.code, 7);
  assert.equal(e.message, delegate7.msg);
  const both = verdict([delegate7, noApi])!;
  assert.equal(both.code, 50);
  assert.equal(both.message, `macmux cannot serve ADD: ${noApi.msg}; ${delegate7.msg}`);
});

test('listed keeps five and counts the rest', () => {
  assert.deepEqual(listed(['a', 'b']), ['a', 'b']);
  assert.deepEqual(listed(['1', '2', '3', '4', '5', '6', '7']), ['1', '2', '3', '4', '5', 'and 2 more']);
});

test('hostDevices: master (needed beforehand) and bridge (not: the bridge plugin creates it); host-device and odd names are not', () => {
  assert.deepEqual(hostDevices({ type: 'macvlan', master: 'eth1' }), [{ name: 'eth1', field: 'master', needed: true }]);
  assert.deepEqual(hostDevices({ type: 'bridge', bridge: 'cni0' }), [{ name: 'cni0', field: 'bridge', needed: false }]);
  assert.deepEqual(hostDevices({ type: 'macvlan' }), [], 'no master: the default route interface, not named');
  assert.deepEqual(hostDevices({ type: 'host-device', device: 'eth2' }), []);
  for (const bad of ['', 'a/b', 'x:y', 'has space', '0123456789abcdef', '..', 7]) assert.deepEqual(hostDevices({ type: 'macvlan', master: bad }), [], String(bad));
});
