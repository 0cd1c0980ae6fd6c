// Unit tests for src/mac/owners.ts: the owner index's objects and keys, lookups within grace or retention, pruning and an object's byte cap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { dropOwner, indexKey, lookupOwner, OWNERS_OBJECT_BYTES, putOwners, type OwnerEntry } from '../../src/mac/owners';

const T = 1_700_000_000;
const GRACE = 600;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
/** The ConfigMap key of a lookup key, as the index computes it: 32 hex characters of its sha256. */
const dataKey = (key: string) => sha(key).slice(0, 32);
const entry = (key: string, mac: string, since: number, retained = false): OwnerEntry => ({ key, mac, since, retained });
const bytes = (data: Record<string, string>) => Buffer.byteLength(JSON.stringify(data));

test('indexKey: one object per pod (all its attachments), keyed by the owner; a retained owner by its anchor, whatever the pod', () => {
  const k = indexKey('ns/web-0/net1');
  assert.deepEqual(k, { name: `macmux-owners-${sha('ns/web-0').slice(0, 32)}`, key: 'ns/web-0/net1', retained: false });
  assert.equal(indexKey('ns/web-0/ns.other@eth1').name, k.name, "another attachment of the pod: the same object");
  assert.equal(indexKey('ns/web-0/a/b').key, 'ns/web-0/a/b', 'an attachment with a slash is kept whole');
  const r = indexKey('ns/virt-launcher-vm1-abcde/net1', 'VirtualMachine/vm1');
  assert.deepEqual(r, { name: `macmux-owners-${sha('ns/VirtualMachine/vm1').slice(0, 32)}`, key: 'ns/VirtualMachine/vm1/net1', retained: true });
  const again = indexKey('ns/virt-launcher-vm1-fghij/net1', 'VirtualMachine/vm1');
  assert.deepEqual(again, r, "the owner's next pod (another name) has the same key");
  assert.equal(indexKey('ns/virt-launcher-vm1-fghij/net2', 'VirtualMachine/vm1').name, r.name);
  // A StatefulSet's pod keeps its own key and object (each pod of the set is an identity), marked retained.
  assert.deepEqual(indexKey('ns/web-0/net1', 'StatefulSet/web'), { ...k, retained: true });
  assert.notEqual(indexKey('ns/web-1/net1', 'StatefulSet/web').key, k.key);
  assert.notEqual(indexKey('other/virt-launcher-vm1-abcde/net1', 'VirtualMachine/vm1').key, r.key, 'the anchor is in its namespace');
  // One object per pod: what a lookup reads does not grow with the number of pods.
  const names = new Set(Array.from({ length: 1000 }, (_, i) => indexKey(`ns/pod-${i}/net1`).name));
  assert.equal(names.size, 1000);
  for (const s of names) assert.match(s, /^macmux-owners-[0-9a-f]{32}$/);
});

test('lookupOwner: the entry during its grace period only; a retained one whatever its age; none for another key', () => {
  const data: Record<string, string> = {};
  const k = indexKey('ns/web-0/net1');
  const r = indexKey('ns/virt-launcher-vm1-abcde/net1', 'VirtualMachineInstance/vm1');
  assert.equal(putOwners(data, [entry(k.key, '02:00:00:00:00:01', T), entry(r.key, '02:00:00:00:00:02', T, true)], T, GRACE), true);
  assert.deepEqual(lookupOwner(data, k, T + GRACE - 1, GRACE), entry(k.key, '02:00:00:00:00:01', T));
  assert.equal(lookupOwner(data, k, T + GRACE, GRACE), undefined);
  assert.deepEqual(lookupOwner(data, r, T + 100 * GRACE, GRACE), entry(r.key, '02:00:00:00:00:02', T, true));
  assert.equal(lookupOwner(data, indexKey('ns/virt-launcher-vm1-abcde/net1'), T, GRACE), undefined, 'the pod itself, without its anchor, has no entry');
  assert.equal(lookupOwner(data, indexKey('ns/web-0/net2'), T, GRACE), undefined);
  assert.equal(lookupOwner({}, k, T, GRACE), undefined);
});

test('lookupOwner: a value under the key of another lookup key (a hash collision) or malformed is ignored', () => {
  const k = indexKey('ns/web-0/net1');
  assert.equal(lookupOwner({ [dataKey(k.key)]: `02:00:00:00:00:01|${T}|ns/other/net1` }, k, T, GRACE), undefined);
  for (const v of ['', 'garbage', `02:00:00:00:00:01|soon|${k.key}`, `|${T}|${k.key}`, `02:00:00:00:00:01|${T}|`]) {
    assert.equal(lookupOwner({ [dataKey(k.key)]: v }, k, T, GRACE), undefined, JSON.stringify(v));
  }
  assert.deepEqual(lookupOwner({ [dataKey(k.key)]: `02:00:00:00:00:01|${T}|${k.key}` }, k, T, GRACE), entry(k.key, '02:00:00:00:00:01', T));
});

test('putOwners: the newest entry of a key replaces the older; entries past their grace and malformed ones are pruned, retained ones kept; false when nothing changes', () => {
  const data: Record<string, string> = {};
  const old = indexKey('ns/old/net1');
  const kept = indexKey('ns/web-0/net1', 'StatefulSet/web');
  const k = indexKey('ns/p/net1');
  assert.equal(putOwners(data, [entry(old.key, '02:00:00:00:00:01', T), entry(kept.key, '02:00:00:00:00:02', T, true)], T, GRACE), true);
  assert.equal(putOwners(data, [entry(old.key, '02:00:00:00:00:01', T)], T + 1, GRACE), false, 'the same entry again');
  data.junk = 'not an entry';
  assert.equal(putOwners(data, [entry(k.key, '02:00:00:00:00:03', T + 10)], T + 10, GRACE), true);
  assert.equal(data.junk, undefined);
  assert.equal(putOwners(data, [entry(k.key, '02:00:00:00:00:04', T + 20)], T + 20, GRACE), true);
  assert.equal(lookupOwner(data, k, T + 20, GRACE)?.mac, '02:00:00:00:00:04', 'the newest wins');
  assert.equal(Object.keys(data).length, 3);
  // At T + GRACE, old's grace is over: pruned by any write, even one with no entry.
  assert.equal(putOwners(data, [], T + GRACE, GRACE), true);
  assert.deepEqual(Object.keys(data).sort(), [dataKey(kept.key), dataKey(k.key)].sort());
  assert.equal(putOwners(data, [], T + GRACE, GRACE), false);
  assert.equal(putOwners(data, [], T + 100 * GRACE, GRACE), true);
  assert.deepEqual(Object.keys(data), [dataKey(kept.key)], 'the retained entry outlives any grace period');
});

test('putOwners: past the byte cap, the oldest entries go first, retained ones last; the object ends within the cap', () => {
  const data: Record<string, string> = {};
  const keys = Array.from({ length: 20 }, (_, i) => indexKey(`ns/pod-${i}/net1`).key);
  // Ten retained entries, the oldest of all, then twenty others, each a second newer than the last.
  const retained = Array.from({ length: 10 }, (_, i) => indexKey(`ns/pod-${i}/net1`, `VirtualMachineInstance/vm${i}`).key);
  putOwners(data, retained.map((key, i) => entry(key, '02:00:00:00:01:00', T - 100 + i, true)), T, GRACE);
  putOwners(data, keys.map((key, i) => entry(key, '02:00:00:00:00:00', T + i)), T + 20, GRACE);
  const full = bytes(data);
  const one = bytes({ [dataKey(keys[0]!)]: data[dataKey(keys[0]!)]! }) - 1; // an entry and its comma
  // A cap that holds all but five entries: the five oldest non-retained go.
  const cap = full - 5 * one + 10;
  const newest = indexKey('ns/new/net1').key;
  assert.equal(putOwners(data, [entry(newest, '02:00:00:00:00:ff', T + 30)], T + 30, GRACE, cap), true);
  assert.ok(bytes(data) <= cap, `${bytes(data)} > ${cap}`);
  const left = new Set(Object.keys(data));
  assert.deepEqual(
    keys.map((key) => left.has(dataKey(key))),
    keys.map((_, i) => i >= 6),
    'the six oldest non-retained gone (five, and one more for the new entry)',
  );
  for (const key of [...retained, newest]) assert.ok(left.has(dataKey(key)), key);
  // A cap below the retained entries alone: then those go too, oldest first.
  const small = bytes(Object.fromEntries(retained.slice(7).map((key) => [dataKey(key), data[dataKey(key)]!])));
  putOwners(data, [], T + 31, GRACE, small);
  assert.ok(bytes(data) <= small);
  assert.deepEqual(Object.keys(data).sort(), retained.slice(7).map(dataKey).sort());
  assert.equal(OWNERS_OBJECT_BYTES, 192 * 1024);
});

test('dropOwner: drops the key only while it names that MAC; false otherwise', () => {
  const data: Record<string, string> = {};
  const r = indexKey('ns/vm-pod/net1', 'VirtualMachine/vm1');
  putOwners(data, [entry(r.key, '02:00:00:00:00:07', T, true)], T, GRACE);
  const before = { ...data };
  assert.equal(dropOwner(data, r.key, '02:00:00:00:00:08'), false, 'another MAC: the owner has a newer one');
  assert.equal(dropOwner(data, 'ns/VirtualMachine/vm2/net1', '02:00:00:00:00:07'), false);
  assert.deepEqual(data, before);
  assert.equal(dropOwner(data, r.key, '02:00:00:00:00:07'), true);
  assert.deepEqual(data, {});
  assert.equal(dropOwner(data, r.key, '02:00:00:00:00:07'), false);
  // A colliding value under the key: not ours to drop.
  const collide = { [dataKey(r.key)]: `02:00:00:00:00:07|${T}|ns/VirtualMachine/other/net1|r` };
  assert.equal(dropOwner(collide, r.key, '02:00:00:00:00:07'), false);
  assert.equal(Object.keys(collide).length, 1);
});
