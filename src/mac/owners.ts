// The owner index: the MACs one pod (or one retention anchor) released last, in a small ConfigMap of its own, so a sticky lookup reads one object of a size that does not grow with the cluster (pure).
import { createHash } from 'node:crypto';
import type { Owner } from './holding';
import { retentionKey, retentionScope } from './retention';

/** Its own label key: lists of `macmux.io/ledger` (the census, releases before 15) never see the index. */
export const OWNERS_LABEL = 'macmux.io/ledger-index';
/** An index object is kept below this many bytes of data (it holds one pod's attachments: a bound never reached in practice); the oldest entries go first, retained ones last. */
export const OWNERS_OBJECT_BYTES = 192 * 1024;
/** The index objects' name prefix: `macmux-owners-<32 hex>`. */
export const OWNERS_PREFIX = 'macmux-owners-';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const objectOf = (scope: string) => `${OWNERS_PREFIX}${sha(scope).slice(0, 32)}`;

/** Where an owner's MAC is looked up: the index object (all of one pod's, or one retention anchor's, attachments share it) and the key in it. */
export interface IndexKey {
  /** The ConfigMap's name. */
  name: string;
  /** The lookup key in full: the owner, or `ns/<Kind>/<name>/<attachment>` for a retained owner. */
  key: string;
  retained: boolean;
}

/**
 * The index key of `owner` (`ns/pod/attachment`); with a retention anchor (`Kind/name`), the anchor's, so that
 * another pod of that owner (a new virt-launcher pod of the VM) finds it. A StatefulSet's pods keep their own
 * key (retained): each pod of the set is an identity of its own, and one key for the set would hand web-0
 * the MAC web-1 released last, and leave web-0's retained for nobody while the set exists.
 */
export function indexKey(owner: Owner, retain?: string): IndexKey {
  const [ns = '', pod, ...rest] = owner.split('/');
  if (retain === undefined || retain.startsWith('StatefulSet/')) return { name: objectOf(`${ns}/${pod}`), key: owner, retained: retain !== undefined };
  return { name: objectOf(retentionScope(ns, retain)), key: retentionKey(ns, retain, rest.join('/')), retained: true };
}

export interface OwnerEntry {
  mac: string;
  /** Epoch seconds of the release. */
  since: number;
  key: string;
  retained: boolean;
}

/** The ConfigMap key of a lookup key: 32 hex characters of its sha256 (the full key is in the value, so a collision is seen). */
const dataKey = (key: string) => sha(key).slice(0, 32);

const encode = (e: OwnerEntry) => `${e.mac}|${e.since}|${e.key}${e.retained ? '|r' : ''}`;

function decode(v: string): OwnerEntry | undefined {
  const [mac, since, key, flag] = v.split('|');
  if (!mac || !key || !/^\d+$/.test(since ?? '')) return undefined;
  return { mac, since: Number(since), key, retained: flag === 'r' };
}

/** The MAC `k` released last, while its grace period lasts (a retained one until gc drops it). */
export function lookupOwner(data: Record<string, string>, k: IndexKey, now: number, graceSec: number): OwnerEntry | undefined {
  const v = data[dataKey(k.key)];
  const e = v === undefined ? undefined : decode(v);
  if (!e || e.key !== k.key) return undefined;
  return e.retained || now - e.since < graceSec ? e : undefined;
}

/**
 * Records `entries` in an index object's data: entries past their grace period are dropped, and past
 * OWNERS_OBJECT_BYTES the oldest (retained ones last). False when nothing changes.
 */
export function putOwners(data: Record<string, string>, entries: OwnerEntry[], now: number, graceSec: number, maxBytes = OWNERS_OBJECT_BYTES): boolean {
  const before = JSON.stringify(data);
  for (const [k, v] of Object.entries(data)) {
    const e = decode(v);
    if (!e || (!e.retained && now - e.since >= graceSec)) delete data[k];
  }
  for (const e of entries) data[dataKey(e.key)] = encode(e);
  let size = Buffer.byteLength(JSON.stringify(data));
  if (size > maxBytes) {
    const byAge = Object.entries(data)
      .map(([k, v]) => ({ k, e: decode(v)! }))
      .sort((a, b) => Number(a.e.retained) - Number(b.e.retained) || a.e.since - b.e.since);
    for (const { k } of byAge) {
      if (size <= maxBytes) break;
      size -= Buffer.byteLength(JSON.stringify(k)) + Buffer.byteLength(JSON.stringify(data[k])) + 2;
      delete data[k];
    }
  }
  return JSON.stringify(data) !== before;
}

/** Drops `key`'s entry if it names `mac` (gc freed a retained MAC). False when nothing changes. */
export function dropOwner(data: Record<string, string>, key: string, mac: string): boolean {
  const k = dataKey(key);
  const e = data[k] === undefined ? undefined : decode(data[k]);
  if (!e || e.key !== key || e.mac !== mac) return false;
  delete data[k];
  return true;
}

/**
 * Whether an index object points at nothing any more: each entry past its grace period, or retained for
 * a MAC that is no longer retained (`stillRetained`: gc freed it). Such an object is `ledger gc`'s to
 * delete when the node that wrote it did not (its journal lost, or a retained owner's).
 */
export function indexExpired(data: Record<string, string>, now: number, graceSec: number, stillRetained: (mac: string) => boolean): boolean {
  return Object.values(data).every((v) => {
    const e = decode(v);
    return !e || (e.retained ? !stillRetained(e.mac) : now - e.since >= graceSec);
  });
}
