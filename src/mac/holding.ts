// Who holds a MAC and in which state, the rules for changing it, and its compact encoding in ConfigMaps (pure).
import { CniError, Code } from '../cni/errors';

/** `namespace/pod/attachment`. */
export type Owner = string;
export type MacState = 'reserved' | 'active' | 'released';

export interface Holding {
  owner: Owner;
  state: MacState;
  /** The node whose invocation wrote it. */
  node: string;
  /** Epoch seconds of the last change. */
  since: number;
  /** The pod's UID; absent in holdings written by releases before 12 (or for a pod the API gave none). */
  uid?: string;
}

/** Who asks for a MAC: an owner, the UID of its pod, and the node of the invocation. */
export interface Claimant {
  owner: Owner;
  uid?: string;
  node: string;
  /**
   * Asked only for a uid-less reserved or active holding of the same owner written by this node: whether
   * this node knows the sandbox that took it is gone or is this pod's (its cache says so).
   */
  adoptLegacy?: () => boolean;
}

export const ownerOf = (namespace: string, pod: string, attachment: string): Owner => `${namespace}/${pod}/${attachment}`;

/** A released MAC is kept for its owner until the grace period ends; then it is free again. */
export function isFree(h: Holding | undefined, now: number, graceSec: number): boolean {
  return !h || (h.state === 'released' && now - h.since >= graceSec);
}

/**
 * Whether `c` may take the MAC now: it is free; or released and still in its owner's grace period, by
 * that owner name (whatever the UID: a re-created pod gets its MAC back); or reserved or active for
 * the same pod (same owner and UID: a retried ADD, a new sandbox). A uid-less live holding (an earlier
 * release's) is taken only by its owner name, on the node that wrote it, when that node's cache shows
 * its sandbox gone or of this pod. Anything else belongs to another pod, which may still use it.
 */
export function mayTake(h: Holding | undefined, c: Claimant, now: number, graceSec: number): boolean {
  if (isFree(h, now, graceSec)) return true;
  if (h!.owner !== c.owner) return false;
  if (h!.state === 'released') return true;
  if (h!.uid !== undefined) return h!.uid === c.uid;
  return h!.node === c.node && c.adoptLegacy?.() === true;
}

/** The holder as a refusal names it: owner, UID and node. */
export function holderText(h: Holding): string {
  return `${h.owner} (${h.uid !== undefined ? `uid ${h.uid}` : 'uid unknown: written by an earlier release'}, ${h.state} on node ${h.node || '?'})`;
}

/** Reserve for `c` (before the delegate runs); a holding `c` may not take is a conflict (code 100) naming its holder. */
export function reserve(h: Holding | undefined, c: Claimant, now: number, graceSec: number, mac: string): Holding {
  if (!mayTake(h, c, now, graceSec)) {
    const why = h!.state === 'released' ? ` (released ${now - h!.since}s ago, held for its owner for ${graceSec}s)` : '';
    throw new CniError(Code.MacConflict, `MAC ${mac} is already held by ${holderText(h!)}${why}`);
  }
  if (h && h.owner === c.owner && h.state === 'active' && h.uid === c.uid) return h;
  return { owner: c.owner, state: 'reserved', node: c.node, since: now, ...(c.uid !== undefined ? { uid: c.uid } : {}) };
}

export function activate(h: Holding, now: number): Holding {
  return h.state === 'active' ? h : { ...h, state: 'active', since: now };
}

/**
 * Released by the DEL of `by`'s sandbox, but still the owner's until the grace period ends. Only the
 * holding of `by`'s pod: one with another UID (the pod re-created, its MAC taken back after the old
 * holding was released) stays; a uid-less one only by the node that wrote it. Otherwise it does nothing.
 */
export function release(h: Holding | undefined, by: { owner: Owner; uid?: string; node: string }, now: number): Holding | undefined {
  if (!h || h.owner !== by.owner || h.state === 'released') return h;
  if (h.uid !== undefined ? h.uid !== by.uid : h.node !== by.node) return h;
  return { ...h, state: 'released', since: now };
}

const STATE_CODE: Record<MacState, string> = { reserved: 'r', active: 'a', released: 'x' };
const CODE_STATE: Record<string, MacState> = { r: 'reserved', a: 'active', x: 'released' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A UID that is not a UUID, kept as it is after `=`: characters base64url and UUIDs never use it with. */
const OTHER_UID = /^=[-.:\w]{1,128}$/;

/** A UUID in 22 base64url characters (its 16 bytes); any other UID as `=uid`. */
export function encodeUid(uid: string): string {
  if (UUID.test(uid)) return Buffer.from(uid.replace(/-/g, ''), 'hex').toString('base64url');
  return `=${uid}`;
}

export function decodeUid(s: string): string | undefined {
  if (OTHER_UID.test(s)) return s.slice(1);
  if (!/^[-\w]{22}$/.test(s)) return undefined;
  const hex = Buffer.from(s, 'base64url').toString('hex');
  return hex.length === 32 ? `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` : undefined;
}

/**
 * `a|ns/pod/att|node|since|uid`, the UID compacted (encodeUid): about 85 bytes, so a 1 MiB ConfigMap
 * holds some 11,000 MACs. Releases before 12 wrote no `|uid`, and read one as an unknown trailing field.
 */
export function encodeHolding(h: Holding): string {
  return `${STATE_CODE[h.state]}|${h.owner}|${h.node}|${h.since}${h.uid !== undefined ? `|${encodeUid(h.uid)}` : ''}`;
}

/**
 * Fields after the UID are ignored, as releases before 12 ignored the UID: a holding a later release
 * writes must still read as held. A UID this release cannot expand is kept as written (it matches no pod).
 */
export function decodeHolding(s: string): Holding | undefined {
  const [code, owner, node, since, uid] = s.split('|');
  const state = CODE_STATE[code ?? ''];
  if (!state || !owner || node === undefined || !/^\d+$/.test(since ?? '')) return undefined;
  const h: Holding = { state, owner, node, since: Number(since) };
  return uid ? { ...h, uid: decodeUid(uid) ?? uid } : h;
}

const LIVE = /^[ar]\|[^|]+\|[^|]*\|\d+(?:\||$)/;

/**
 * Whether `s` decodes to a reserved or active holding (never free), without decoding it: exactly
 * `['reserved', 'active'].includes(decodeHolding(s)?.state)`, for scans over thousands of entries.
 */
export const isLiveEncoded = (s: string): boolean => LIVE.test(s);

/** ConfigMap keys must match [-._a-zA-Z0-9]+: the MAC without separators. */
export const macKey = (mac: string) => mac.replace(/:/g, '');
export const keyMac = (key: string) => key.replace(/(..)(?!$)/g, '$1:');
