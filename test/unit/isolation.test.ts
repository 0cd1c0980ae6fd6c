// Unit tests for src/plugin/isolation.ts: which namespaces' NADs a pod may use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkFileNetwork, checkIsolation, mayUse, type IsolationPolicy } from '../../src/plugin/isolation';
import { CniError } from '../../src/cni/errors';
import { thrown } from './helpers';

const POD = { namespace: 'team-a', name: 'web-0' };
const ON: IsolationPolicy = { namespaceIsolation: true, globalNamespaces: [] };
const GLOBAL: IsolationPolicy = { namespaceIsolation: true, globalNamespaces: ['infra', 'shared'] };
const OFF: IsolationPolicy = { namespaceIsolation: false, globalNamespaces: [] };

const CASES: Array<[string, IsolationPolicy, string, boolean]> = [
  ['its own namespace, isolation on', ON, 'team-a', true],
  ['another namespace, isolation on', ON, 'team-b', false],
  ['a global namespace', GLOBAL, 'infra', true],
  ['another global namespace', GLOBAL, 'shared', true],
  ['a namespace not listed as global', GLOBAL, 'team-b', false],
  ['a namespace whose name starts like a global one', GLOBAL, 'infra2', false],
  ['its own namespace with globals', GLOBAL, 'team-a', true],
  ['any namespace, isolation off', OFF, 'team-b', true],
  ['globals ignored with isolation off', { namespaceIsolation: false, globalNamespaces: ['infra'] }, 'kube-system', true],
];
for (const [what, policy, ns, want] of CASES) {
  test(`mayUse: ${what}`, () => assert.equal(mayUse(policy, POD.namespace, ns), want));
}

test('checkIsolation passes when every selection is allowed, and for none', () => {
  checkIsolation(GLOBAL, POD, [{ namespace: 'team-a', name: 'green' }, { namespace: 'infra', name: 'vlan100' }]);
  checkIsolation(ON, POD, []);
});

test('checkIsolation refuses with code 7 naming the pod, the first NAD refused and both settings', () => {
  const e = thrown(() => checkIsolation(ON, POD, [{ namespace: 'team-a', name: 'green' }, { namespace: 'infra', name: 'vlan100' }, { namespace: 'team-b', name: 'x' }]));
  assert.equal(e.code, 7);
  assert.match(e.message, /^pod team-a\/web-0 may not use NetworkAttachmentDefinition infra\/vlan100: /);
  assert.match(e.message, /globalNamespaces \(none\)/);
  assert.match(e.message, /add "infra" to globalNamespaces, or set namespaceIsolation: false/);
});

test('the refusal lists the global namespaces there are', () => {
  const e = thrown(() => checkIsolation(GLOBAL, POD, [{ namespace: 'team-b', name: 'x' }]));
  assert.match(e.message, /NetworkAttachmentDefinition team-b\/x: .*globalNamespaces \("infra", "shared"\)/);
});

test('a NAD with an empty spec.config may use the node\'s network files only from globalNamespaces, under isolation', () => {
  const on = { namespaceIsolation: true, globalNamespaces: ['infra'] };
  assert.doesNotThrow(() => checkFileNetwork(on, { namespace: 'infra', name: 'priv' }, '/etc/cni/net.d'));
  assert.throws(() => checkFileNetwork(on, { namespace: 'tenant', name: 'priv' }, '/etc/cni/net.d'), (e: unknown) => e instanceof CniError && e.code === 7 && /tenant\/priv: spec\.config is empty/.test(e.message) && /globalNamespaces/.test(e.message));
  assert.doesNotThrow(() => checkFileNetwork({ namespaceIsolation: false, globalNamespaces: [] }, { namespace: 'tenant', name: 'priv' }, '/etc/cni/net.d'));
});
