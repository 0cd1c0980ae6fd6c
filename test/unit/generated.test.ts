// Unit tests for src/mac/generated: which pod names the API server generated (no owner index for them), and which it did not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { indexed, isGenerated } from '../../src/mac/generated';

const sts = { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: 'u1', controller: true };

test('a name made of generateName and 5 characters of the generator alphabet is generated', () => {
  assert.equal(isGenerated({ name: 'web-7d9f-x2b4k', generateName: 'web-7d9f-' }), true);
  // a long generateName is cut at 58 characters before the suffix, as the API server cuts it
  const long = 'a'.repeat(70);
  assert.equal(isGenerated({ name: `${long.slice(0, 58)}bcdfg`, generateName: long }), true);
});

test('a name of its own is not generated, with or without generateName', () => {
  assert.equal(isGenerated({ name: 'web-0' }), false);
  assert.equal(isGenerated({ name: 'web-x2b4k' }), false, 'no generateName');
  assert.equal(isGenerated({ name: 'web-x2b4k', generateName: 'api-' }), false, 'another prefix');
  assert.equal(isGenerated({ name: 'web-x2b4', generateName: 'web-' }), false, '4 characters');
  assert.equal(isGenerated({ name: 'web-x2b4a', generateName: 'web-' }), false, 'a vowel is not in the alphabet');
  assert.equal(isGenerated({ name: 'web-x2b4k', generateName: '' }), false);
});

test("a StatefulSet's pod is never generated, though its controller sets generateName and its ordinal may look like a suffix", () => {
  // spec.ordinals.start 22222, or more than 10,000 replicas: db-22222 is 5 characters of the alphabet
  assert.equal(isGenerated({ name: 'db-22222', generateName: 'db-', ownerReferences: [sts] }), false);
  assert.equal(isGenerated({ name: 'db-22222', generateName: 'db-', labels: { 'apps.kubernetes.io/pod-index': '22222' } }), false);
  // an ownerReference that is not the controller does not count
  assert.equal(isGenerated({ name: 'db-22222', generateName: 'db-', ownerReferences: [{ ...sts, controller: false }] }), true);
});

test('indexed: every pod but a generated one, unless retained for a VirtualMachineInstance', () => {
  assert.equal(indexed({}), true);
  assert.equal(indexed({ generated: true }), false);
  assert.equal(indexed({ generated: true, retain: 'VirtualMachineInstance/vm1' }), true);
  assert.equal(indexed({ generated: true, retain: 'StatefulSet/db' }), false);
});
