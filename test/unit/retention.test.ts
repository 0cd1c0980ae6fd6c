// Unit tests for MAC retention: the annotation and the anchor it names (src/mac/retention.ts), the sweep that frees retained MACs of gone owners (src/mac/retention-sweep.ts), and a node's own homes (src/install/retention.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Code } from '../../src/cni/errors';
import type { Existence, ObjectMeta, OwnerReference } from '../../src/k8s/api';
import { isAnchor, parseAnchor, retentionKey, retentionOf, retentionScope, RETENTION_ANNOTATION } from '../../src/mac/retention';
import { anchorState, sweepRetained, type Seen } from '../../src/mac/retention-sweep';
import { ownHomes } from '../../src/install/retention';
import { thrown } from './helpers';

const POD = { namespace: 'ns1', name: 'web-0' };
const VMI_UID = '0b4c1c7e-8d55-4f55-a1c9-5a3a1e0c9d11';
const sts = (name = 'web', over: Partial<OwnerReference> = {}): OwnerReference => ({ apiVersion: 'apps/v1', kind: 'StatefulSet', name, uid: 'u1', controller: true, ...over });
const vmi = (name = 'vm1', over: Partial<OwnerReference> = {}): OwnerReference => ({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', name, uid: VMI_UID, controller: true, ...over });
const meta = (value: string | undefined, refs?: OwnerReference[], labels?: Record<string, string>): Pick<ObjectMeta, 'annotations' | 'labels' | 'ownerReferences'> => ({
  ...(value !== undefined ? { annotations: { [RETENTION_ANNOTATION]: value } } : {}),
  ...(refs ? { ownerReferences: refs } : {}),
  ...(labels ? { labels } : {}),
});

test('retentionOf: no annotation, no retention (whatever the owners)', () => {
  assert.equal(retentionOf(POD, undefined), undefined);
  assert.equal(retentionOf(POD, meta(undefined, [sts()])), undefined);
});

const GOOD: Array<[string, ReturnType<typeof meta>, string]> = [
  ['a StatefulSet controller', meta('owner', [sts()]), 'StatefulSet/web'],
  ['a StatefulSet controller after a non-controlling owner', meta('owner', [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', controller: false }, sts('db.shard-1')]), 'StatefulSet/db.shard-1'],
  ['a VirtualMachineInstance controller (a virt-launcher pod)', meta('owner', [vmi()], { 'kubevirt.io/created-by': VMI_UID }), 'VirtualMachineInstance/vm1'],
  ['a VirtualMachineInstance controller without the created-by label', meta('owner', [vmi()]), 'VirtualMachineInstance/vm1'],
];
for (const [what, m, want] of GOOD) test(`retentionOf: owner with ${what} is ${want}`, () => assert.equal(retentionOf(POD, m), want));

const BAD: Array<[string, ReturnType<typeof meta>, RegExp]> = [
  ['another value', meta('always', [sts()]), /^pod ns1\/web-0: annotation macmux\.io\/mac-retention is "always": the only value is "owner" .*StatefulSet \(apps\/v1\).*VirtualMachineInstance \(kubevirt\.io\/v1\)/],
  ['an empty value', meta('', [sts()]), /is "": the only value is "owner"/],
  ['Owner capitalised', meta('Owner', [sts()]), /is "Owner"/],
  ['no owner at all', meta('owner'), /is "owner", but the pod has no controller; it needs a StatefulSet/],
  ['an owner that is not the controller', meta('owner', [sts('web', { controller: false })]), /has no controller/],
  ['only the kubevirt.io/created-by label', meta('owner', [], { 'kubevirt.io/created-by': VMI_UID }), /no controller \(its kubevirt\.io\/created-by label alone does not name the VirtualMachineInstance/],
  ['a ReplicaSet controller', meta('owner', [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d9', controller: true }]), /but its controller "apps\/v1 ReplicaSet" "web-5d9" is not supported; it needs a StatefulSet/],
  ['a StatefulSet of another API version', meta('owner', [sts('web', { apiVersion: 'apps/v1beta1' })]), /"apps\/v1beta1 StatefulSet" "web" is not supported/],
  ['a VirtualMachine controller (KubeVirt makes the VMI the controller)', meta('owner', [{ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', name: 'vm1', controller: true }]), /not supported/],
  ['a controller name with upper case', meta('owner', [sts('Web')]), /the name of its controller "apps\/v1 StatefulSet" "Web" is not a valid object name/],
  ['a controller name with a separator', meta('owner', [sts('web|o:x')]), /is not a valid object name/],
  ['a controller name with a slash', meta('owner', [sts('a/b')]), /is not a valid object name/],
  ['a controller name of 254 characters', meta('owner', [sts('a'.repeat(254))]), /is not a valid object name/],
  ['a controller without a name', meta('owner', [sts('', {})]), /is not a valid object name/],
  ['a VMI controller whose uid the created-by label contradicts', meta('owner', [vmi()], { 'kubevirt.io/created-by': 'other-uid' }), /has uid "0b4c1c7e-.*" while the pod's kubevirt\.io\/created-by label says "other-uid"/],
];
for (const [what, m, want] of BAD) {
  test(`retentionOf: ${what} is code 7 naming the annotation and the pod`, () => {
    const e = thrown(() => retentionOf(POD, m));
    assert.equal(e.code, Code.InvalidConfig);
    assert.match(e.message, want);
    assert.ok(e.message.startsWith(`pod ns1/web-0: annotation ${RETENTION_ANNOTATION} `), e.message);
  });
}

test('retentionOf: untrusted text reaches the message cut short and on one line', () => {
  const huge = `x\n${'y'.repeat(100_000)}`;
  for (const m of [meta(huge, [sts()]), meta('owner', [sts(huge)]), meta('owner', [{ apiVersion: huge, kind: huge, name: 'a', controller: true }]), meta('owner', [vmi()], { 'kubevirt.io/created-by': huge })]) {
    const e = thrown(() => retentionOf(POD, m));
    assert.equal(e.code, Code.InvalidConfig);
    assert.ok(e.message.length < 700, `${e.message.length} characters`);
    assert.ok(!e.message.includes('\n'), 'one line');
  }
});

test('retentionOf: owner references of the wrong shape are not trusted', () => {
  const odd = [{ controller: true, kind: 7, name: ['web'], apiVersion: null }] as unknown as OwnerReference[];
  assert.equal(thrown(() => retentionOf(POD, meta('owner', odd))).code, Code.InvalidConfig);
  assert.equal(thrown(() => retentionOf(POD, { annotations: { [RETENTION_ANNOTATION]: 'owner' }, ownerReferences: 'web' as unknown as OwnerReference[] })).code, Code.InvalidConfig);
});

test('isAnchor/parseAnchor: a kind of the fixed set and a DNS-1123 subdomain of at most 253 characters', () => {
  for (const s of ['StatefulSet/web', 'VirtualMachineInstance/vm1', 'VirtualMachine/vm-1.a', `StatefulSet/${'a'.repeat(253)}`]) assert.equal(isAnchor(s), true, s);
  for (const s of ['', 'StatefulSet', 'StatefulSet/', '/web', 'Pod/web', 'statefulset/web', 'StatefulSet/Web', 'StatefulSet/web/0', 'StatefulSet/-web', 'StatefulSet/web.', 'StatefulSet/we|b', `StatefulSet/${'a'.repeat(254)}`]) {
    assert.equal(isAnchor(s), false, s);
  }
  assert.deepEqual(parseAnchor('VirtualMachineInstance/vm1'), { kind: 'VirtualMachineInstance', name: 'vm1' });
});

test('owner index keys of a retention pod: lookup ns/Kind/name/att, shard ns/Kind/name', () => {
  assert.equal(retentionKey('ns1', 'StatefulSet/web', 'green'), 'ns1/StatefulSet/web/green');
  assert.equal(retentionScope('ns1', 'VirtualMachineInstance/vm1'), 'ns1/VirtualMachineInstance/vm1');
});

// ---- whether an anchor exists ----

/** A fake API: the objects that exist ("kind ns/name"), those it cannot tell about, and the calls it got. */
function fakeApi(exists: string[], unknown: string[] = []) {
  const calls: string[] = [];
  const state = (kind: string) => async (ns: string, name: string): Promise<Existence> => {
    const k = `${kind} ${ns}/${name}`;
    calls.push(k);
    return exists.includes(k) ? 'exists' : unknown.includes(k) ? 'unknown' : 'gone';
  };
  return { calls, api: { statefulSetState: state('sts'), virtualMachineInstanceState: state('vmi'), virtualMachineState: state('vm') } };
}

const ANCHORS: Array<[string, string, string[], string[], Existence]> = [
  ['a StatefulSet that exists', 'StatefulSet/web', ['sts ns1/web'], [], 'exists'],
  ['a StatefulSet that is gone', 'StatefulSet/web', ['sts ns2/web', 'vmi ns1/web'], [], 'gone'],
  ['a StatefulSet the API cannot tell about', 'StatefulSet/web', [], ['sts ns1/web'], 'unknown'],
  ['a running VM (its VMI exists)', 'VirtualMachineInstance/vm1', ['vmi ns1/vm1', 'vm ns1/vm1'], [], 'exists'],
  ['a stopped VM (no VMI, the VirtualMachine exists)', 'VirtualMachineInstance/vm1', ['vm ns1/vm1'], [], 'exists'],
  ['a VMI without a VirtualMachine', 'VirtualMachineInstance/vm1', ['vmi ns1/vm1'], [], 'exists'],
  ['a VMI and VM both gone', 'VirtualMachineInstance/vm1', [], [], 'gone'],
  ['a VMI gone, its VM unknown', 'VirtualMachineInstance/vm1', [], ['vm ns1/vm1'], 'unknown'],
  ['a VMI unknown, its VM gone', 'VirtualMachineInstance/vm1', [], ['vmi ns1/vm1'], 'unknown'],
  ['a VMI unknown, its VM there', 'VirtualMachineInstance/vm1', ['vm ns1/vm1'], ['vmi ns1/vm1'], 'exists'],
  ['a VirtualMachine anchor', 'VirtualMachine/vm1', ['vm ns1/vm1'], [], 'exists'],
  ['not an anchor', 'Pod/web', [], [], 'unknown'],
];
for (const [what, anchor, exists, unknown, want] of ANCHORS) {
  test(`anchorState: ${what}: ${want}`, async () => assert.equal(await anchorState(fakeApi(exists, unknown).api, 'ns1', anchor), want));
}

// ---- the sweep ----

const T = 1_700_000_000;
const seen = (mac: string, owner: string, retain: string | undefined, over: Partial<Seen> = {}): Seen => ({ mac, owner, state: 'released', node: 'node-a', since: T, ...(retain ? { retain } : {}), ...over });

test('sweepRetained frees the released retained holdings whose anchor is gone, asking each anchor once', async () => {
  const holdings = [
    seen('02:00:00:00:00:01', 'ns1/web-0/green', 'StatefulSet/web'),
    seen('02:00:00:00:00:02', 'ns1/web-0/blue', 'StatefulSet/web'),
    seen('02:00:00:00:00:03', 'ns1/db-0/green', 'StatefulSet/db'),
    seen('02:00:00:00:00:04', 'ns2/web-0/green', 'StatefulSet/web'),
    seen('02:00:00:00:00:05', 'ns1/virt-launcher-vm1-x/green', 'VirtualMachineInstance/vm1'),
    seen('02:00:00:00:00:06', 'ns1/web-1/green', 'StatefulSet/web', { state: 'active' }),
    seen('02:00:00:00:00:07', 'ns1/old-0/green', undefined),
    seen('02:00:00:00:00:08', 'ns1/web-2/green', 'StatefulSet/web', { since: 0 }),
  ];
  const { api, calls } = fakeApi(['sts ns1/db', 'vm ns1/vm1'], ['sts ns2/web']);
  const freed: string[] = [];
  const out = await sweepRetained(holdings, (ns, a) => anchorState(api, ns, a), async (h) => (freed.push(h.mac), h.mac !== '02:00:00:00:00:02'));
  assert.deepEqual(calls.sort(), ['sts ns1/db', 'sts ns1/web', 'sts ns2/web', 'vm ns1/vm1', 'vmi ns1/vm1']);
  assert.deepEqual(freed, ['02:00:00:00:00:01', '02:00:00:00:00:02']);
  assert.deepEqual(out.map((r) => [r.mac, r.anchor, r.action]), [
    ['02:00:00:00:00:01', 'ns1/StatefulSet/web', 'freed'],
    ['02:00:00:00:00:02', 'ns1/StatefulSet/web', 'skipped'],
    ['02:00:00:00:00:04', 'ns2/StatefulSet/web', 'kept'],
  ]);
});

test('sweepRetained without `free` (a dry run) writes nothing; an anchor check that throws keeps the holding', async () => {
  const out = await sweepRetained([seen('02:00:00:00:00:01', 'ns1/web-0/green', 'StatefulSet/web'), seen('02:00:00:00:00:02', 'ns1/db-0/green', 'StatefulSet/db')], async (_ns, a) => {
    if (a === 'StatefulSet/db') throw new Error('boom');
    return 'gone';
  });
  assert.deepEqual(out.map((r) => r.action), ['would-free', 'kept']);
});

test('ownHomes: the homes of the blocks a node leases, legacy (the node) and new-style (<node>.b<k>), no one else\'s', () => {
  const leases = JSON.stringify({ '0': 'node-a', '1': 'node-a.b1', '2': 'node-b.b2', '3': 'node-a.b3', '4': 'node-a.b9', '5': 'node-ab', '6': 'node-a' });
  assert.deepEqual(ownHomes(leases, 'node-a'), ['macmux-ledger-node-a', 'macmux-ledger-node-a.b1', 'macmux-ledger-node-a.b3']);
  assert.deepEqual(ownHomes(leases, 'node-b'), ['macmux-ledger-node-b.b2']);
  assert.deepEqual(ownHomes(undefined, 'node-a'), []);
  assert.deepEqual(ownHomes('not json', 'node-a'), []);
});
