// Unit tests for src/annotations/checkpoint.ts: both DeviceIDs shapes, pod and resource matching, and successive assignment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignDeviceIDs, CHECKPOINT_PATH, deviceIDsFor } from '../../src/annotations/checkpoint';
import { thrown } from './helpers';

const POD = '7d3c1f2e-0000-4000-8000-000000000001';
const OTHER = '7d3c1f2e-0000-4000-8000-000000000002';
const MACVTAP = 'macvtap.network.kubevirt.io/dataplane';
const SRIOV = 'intel.com/sriov';

interface E {
  PodUID: string;
  ContainerName: string;
  ResourceName: string;
  DeviceIDs: unknown;
  AllocResp?: string;
}
const checkpoint = (entries: E[] | null, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ Data: { PodDeviceEntries: entries, RegisteredDevices: { [MACVTAP]: ['dataplane0', 'dataplane1'] }, ...extra }, Checksum: 1234567890 });

// Older kubelets: DeviceIDs is a list.
const OLD = checkpoint([
  { PodUID: POD, ContainerName: 'app', ResourceName: MACVTAP, DeviceIDs: ['dataplane3', 'dataplane1'], AllocResp: 'CgA=' },
  { PodUID: POD, ContainerName: 'sidecar', ResourceName: MACVTAP, DeviceIDs: ['dataplane2', 'dataplane1'] },
  { PodUID: POD, ContainerName: 'app', ResourceName: SRIOV, DeviceIDs: ['0000:3b:02.1'] },
  { PodUID: OTHER, ContainerName: 'app', ResourceName: MACVTAP, DeviceIDs: ['dataplane0'] },
]);
// Newer kubelets: DeviceIDs maps NUMA node to a list.
const NEW = checkpoint([
  { PodUID: OTHER, ContainerName: 'app', ResourceName: SRIOV, DeviceIDs: { '0': ['0000:3b:02.0'] } },
  { PodUID: POD, ContainerName: 'app', ResourceName: SRIOV, DeviceIDs: { '1': ['0000:af:02.3', '0000:af:02.1'], '0': ['0000:3b:02.4'] } },
  { PodUID: POD, ContainerName: 'init', ResourceName: SRIOV, DeviceIDs: { '-1': ['0000:af:02.1'] } },
  { PodUID: POD, ContainerName: 'app', ResourceName: MACVTAP, DeviceIDs: { '0': ['dataplane5'], '1': null } },
]);

const LOOKUPS: Array<[string, string, string, string, string[]]> = [
  ['list shape: containers merged, de-duplicated, sorted', OLD, POD, MACVTAP, ['dataplane1', 'dataplane2', 'dataplane3']],
  ['list shape: other resource of the pod', OLD, POD, SRIOV, ['0000:3b:02.1']],
  ['list shape: another pod is ignored', OLD, OTHER, MACVTAP, ['dataplane0']],
  ['list shape: a resource the pod does not hold', OLD, OTHER, SRIOV, []],
  ['list shape: an unknown pod', OLD, 'nope', MACVTAP, []],
  ['NUMA map: nodes and containers merged, de-duplicated, sorted', NEW, POD, SRIOV, ['0000:3b:02.4', '0000:af:02.1', '0000:af:02.3']],
  ['NUMA map: a null node list is empty', NEW, POD, MACVTAP, ['dataplane5']],
  ['NUMA map: another pod is ignored', NEW, OTHER, SRIOV, ['0000:3b:02.0']],
  [
    'both shapes in one file',
    checkpoint([
      { PodUID: POD, ContainerName: 'a', ResourceName: MACVTAP, DeviceIDs: ['dataplane9'] },
      { PodUID: POD, ContainerName: 'b', ResourceName: MACVTAP, DeviceIDs: { '0': ['dataplane4'] } },
    ]),
    POD,
    MACVTAP,
    ['dataplane4', 'dataplane9'],
  ],
  ['null PodDeviceEntries', checkpoint(null), POD, MACVTAP, []],
  ['no PodDeviceEntries', JSON.stringify({ Data: {}, Checksum: 0 }), POD, MACVTAP, []],
  ['null DeviceIDs', checkpoint([{ PodUID: POD, ContainerName: 'a', ResourceName: MACVTAP, DeviceIDs: null }]), POD, MACVTAP, []],
  ['resource names are exact', OLD, POD, 'macvtap.network.kubevirt.io/Dataplane', []],
];
for (const [what, text, uid, resource, want] of LOOKUPS) {
  test(`deviceIDsFor: ${what}`, () => assert.deepEqual(deviceIDsFor(text, uid, resource), want));
}

const MALFORMED: Array<[string, string, string]> = [
  ['not JSON', '{"Data":', 'is not valid JSON: '],
  ['empty', '', 'is not valid JSON: '],
  ['not an object', '[]', 'is not a JSON object'],
  ['no Data', '{"Checksum":1}', '"Data" is not an object'],
  ['Data a list', '{"Data":[]}', '"Data" is not an object'],
  ['entries not a list', '{"Data":{"PodDeviceEntries":{}}}', '"Data.PodDeviceEntries" is not a list'],
  ['entry not an object', '{"Data":{"PodDeviceEntries":[5]}}', '"Data.PodDeviceEntries[0]" is not an object'],
  ['PodUID missing', checkpoint([{ ContainerName: 'a', ResourceName: MACVTAP, DeviceIDs: [] } as unknown as E]), '"Data.PodDeviceEntries[0]".PodUID is not a string'],
  ['ResourceName a number', checkpoint([{ PodUID: POD, ContainerName: 'a', ResourceName: 3 as unknown as string, DeviceIDs: [] }]), '"Data.PodDeviceEntries[0]".ResourceName is not a string'],
  [
    'DeviceIDs a string',
    checkpoint([
      { PodUID: POD, ContainerName: 'a', ResourceName: MACVTAP, DeviceIDs: [] },
      { PodUID: OTHER, ContainerName: 'a', ResourceName: MACVTAP, DeviceIDs: 'dataplane0' },
    ]),
    '"Data.PodDeviceEntries[1]".DeviceIDs is neither a list of strings nor a map of NUMA node to list',
  ],
  ['DeviceIDs a list of numbers', checkpoint([{ PodUID: POD, ContainerName: 'a', ResourceName: MACVTAP, DeviceIDs: [1] }]), '"Data.PodDeviceEntries[0]".DeviceIDs is neither'],
  ['NUMA node not a list', checkpoint([{ PodUID: POD, ContainerName: 'a', ResourceName: MACVTAP, DeviceIDs: { '0': 'x' } }]), '"Data.PodDeviceEntries[0]".DeviceIDs["0"] is not a list of strings'],
];
for (const [what, text, msg] of MALFORMED) {
  test(`deviceIDsFor: malformed checkpoint (${what}) is code 7 naming the checkpoint`, () => {
    const e = thrown(() => deviceIDsFor(text, POD, MACVTAP));
    assert.equal(e.code, 7);
    assert.ok(e.message.startsWith(`kubelet checkpoint ${CHECKPOINT_PATH}: ${msg}`), e.message);
  });
}

test('deviceIDsFor names the given source in errors', () => {
  const e = thrown(() => deviceIDsFor('nope', POD, MACVTAP, '/tmp/ckpt'));
  assert.match(e.message, /^kubelet checkpoint \/tmp\/ckpt: is not valid JSON/);
});

// ---- assignment ----

const POOL: Record<string, string[]> = { [MACVTAP]: ['dataplane1', 'dataplane2', 'dataplane3'], [SRIOV]: ['0000:3b:02.1'], empty: [] };

test('NADs sharing a resource take successive IDs in request order; others are independent', () => {
  const calls: string[] = [];
  const got = assignDeviceIDs(
    [
      { key: 'default/dp-a', resourceName: MACVTAP },
      { key: 'default/vf', resourceName: SRIOV },
      { key: 'default/dp-b', resourceName: MACVTAP },
      { key: 'infra/dp-c', resourceName: MACVTAP },
    ],
    (r) => {
      calls.push(r);
      return POOL[r] ?? [];
    },
  );
  assert.deepEqual([...got], [
    ['default/dp-a', 'dataplane1'],
    ['default/vf', '0000:3b:02.1'],
    ['default/dp-b', 'dataplane2'],
    ['infra/dp-c', 'dataplane3'],
  ]);
  assert.deepEqual(calls, [MACVTAP, SRIOV], 'lookup runs once per resource');
});

test('the order of requests decides which attachment gets which ID', () => {
  const reqs = [
    { key: 'b', resourceName: MACVTAP },
    { key: 'a', resourceName: MACVTAP },
  ];
  assert.deepEqual([...assignDeviceIDs(reqs, (r) => POOL[r]!)], [['b', 'dataplane1'], ['a', 'dataplane2']]);
  assert.deepEqual(assignDeviceIDs([], () => assert.fail('no lookup without requests')).size, 0);
});

const RUN_OUT: Array<[string, Array<{ key: string; resourceName: string }>, string]> = [
  [
    'more attachments than IDs',
    [
      { key: 'default/vf-a', resourceName: SRIOV },
      { key: 'default/vf-b', resourceName: SRIOV },
    ],
    'resource "intel.com/sriov": no device ID left for attachment "default/vf-b": 1 available to the pod, all taken by earlier attachments',
  ],
  ['a resource the pod holds none of', [{ key: 'default/x', resourceName: 'empty' }], 'resource "empty": no device ID left for attachment "default/x": 0 available to the pod'],
];
for (const [what, reqs, msg] of RUN_OUT) {
  test(`assignDeviceIDs: ${what} is code 7 naming resource, attachment and count`, () => {
    const e = thrown(() => assignDeviceIDs(reqs, (r) => POOL[r] ?? []));
    assert.equal(e.code, 7);
    assert.equal(e.message, msg);
    assert.match(e.details, /resource request/);
  });
}

test('assignDeviceIDs rejects one attachment key asked twice', () => {
  const e = thrown(() => assignDeviceIDs([{ key: 'k', resourceName: MACVTAP }, { key: 'k', resourceName: SRIOV }], (r) => POOL[r]!));
  assert.equal(e.code, 7);
  assert.equal(e.message, 'attachment "k" asks for a device ID twice');
});

test('deviceIDsFor and assignDeviceIDs together', () => {
  const got = assignDeviceIDs(
    [
      { key: 'default/vf-0', resourceName: SRIOV },
      { key: 'default/vf-1', resourceName: SRIOV },
      { key: 'default/vf-2', resourceName: SRIOV },
    ],
    (r) => deviceIDsFor(NEW, POD, r),
  );
  assert.deepEqual(Object.fromEntries(got), { 'default/vf-0': '0000:3b:02.4', 'default/vf-1': '0000:af:02.1', 'default/vf-2': '0000:af:02.3' });
});
