// Keys that Go's JSON decoding reads as one macmux checks (mac, args, cni, ...) are refused unless spelled exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { foldedClash, goFold, PLUGIN_KEYS } from '../../src/config/gokeys';
import { nadNetwork } from '../../src/config/nad';
import { parseNetworks } from '../../src/annotations/networks';
import { CniError } from '../../src/cni/errors';

test('goFold folds as Go does: case, the Kelvin sign, long s and dotted capital I; not look-alikes', () => {
  assert.equal(goFold('MAC'), goFold('mac'));
  assert.equal(goFold('mAc'), goFold('mac'));
  assert.equal(goFold('\u212Aey'), goFold('key'));
  assert.equal(goFold('ma\u017Fk'), goFold('mask'));
  assert.equal(goFold('\u0130pam'), goFold('ipam'));
  assert.notEqual(goFold('ma\u0441'), goFold('mac')); // Cyrillic es: Go does not fold it to c
  assert.notEqual(goFold('macs'), goFold('mac'));
});

test('foldedClash finds a key spelled differently from a name, never the exact spelling', () => {
  assert.deepEqual(foldedClash({ mac: 'x', MAC: 'y' }, ['mac']), { key: 'MAC', name: 'mac' });
  assert.equal(foldedClash({ mac: 'x', master: 'br0' }, ['mac']), undefined);
  assert.deepEqual(foldedClash({ RuntimeConfig: {} }, PLUGIN_KEYS), { key: 'RuntimeConfig', name: 'runtimeConfig' });
  assert.deepEqual(foldedClash({ CNIVERSION: '1.0.0' }, PLUGIN_KEYS), { key: 'CNIVERSION', name: 'cniVersion' });
});

const ref = { namespace: 'ns', name: 'n' };
const refused = (config: Record<string, unknown>, path: RegExp) =>
  assert.throws(() => nadNetwork(ref, JSON.stringify(config), '1.0.0'), (e: unknown) => e instanceof CniError && e.code === 7 && path.test(e.message) && /NetworkAttachmentDefinition ns\/n/.test(e.message));

test('a NAD config with a folded mac, args, cni, ipam type or runtimeConfig key is code 7 naming the NAD and the path', () => {
  refused({ cniVersion: '1.0.0', type: 'tuning', Mac: '02:00:00:00:00:01' }, /\$\["Mac"\]: a key spelled differently from "mac"/);
  refused({ cniVersion: '1.0.0', plugins: [{ type: 'bridge' }, { type: 'tuning', ARGS: {} }] }, /\$\.plugins\[1\]\["ARGS"\]/);
  refused({ cniVersion: '1.0.0', type: 'tuning', args: { cni: {}, CNI: {} } }, /\$\.args\["CNI"\]/);
  refused({ cniVersion: '1.0.0', type: 'tuning', args: { cni: { mAc: '02:00:00:00:00:01' } } }, /\$\.args\.cni\["mAc"\]/);
  refused({ cniVersion: '1.0.0', type: 'bridge', ipam: { TYPE: 'host-local' } }, /\$\.ipam\["TYPE"\]/);
  refused({ cniVersion: '1.0.0', type: 'bridge', runtimeconfig: { mac: '02:00:00:00:00:01' } }, /\$\["runtimeconfig"\]/);
  // Exact spellings and unrelated keys pass.
  assert.equal(nadNetwork(ref, JSON.stringify({ cniVersion: '1.0.0', type: 'tuning', mac: '02:00:00:00:00:01', args: { cni: { mac: '02:00:00:00:00:01', IPs: [] } } }), '1.0.0').plugins.length, 1);
});

test('a cni-args key folded to "mac" is code 7 naming the pod and the element', () => {
  const pod = { namespace: 'default', name: 'p' };
  assert.throws(() => parseNetworks(JSON.stringify([{ name: 'tun', 'cni-args': { MAC: '02:00:00:00:00:01' } }]), pod), (e: unknown) => e instanceof CniError && e.code === 7 && /cni-args" key "MAC" is "mac" spelled differently/.test(e.message) && /default\/p/.test(e.message));
  assert.equal(parseNetworks(JSON.stringify([{ name: 'tun', 'cni-args': { mac: '02:00:00:00:00:01', vlan: 7 } }]), pod).length, 1);
});
