// Who holds a MAC and in which state, the rules for changing it, and its compact encoding in ConfigMaps (pure).
import { CniError, Code } from '../cni/errors';
import { isAnchor } from './retention';

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
  /**
   * The owner it is retained for (`macmux.io/mac-retention: owner`), `Kind/name` in the owner's namespace,
   * e.g. `StatefulSet/web`: released, it stays held until gc finds that object gone (see retention.ts).
   */
  retain?: string;
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
  /** The anchor its pod retains its MACs for (retention.ts), when the pod opts in. */
  retain?: string;
}

export const ownerOf = (namespace: string, pod: string, attachment: string): Owner => `${namespace}/${pod}/${attachment}`;

/**
 * A released MAC is kept for its owner until the grace period ends; then it is free again. A retained
 * one is kept whatever its age, until gc drops the retention; but a release dated 0 (an operator's
 * forced release) is free under any grace period, retained or not.
 */
export function isFree(h: Holding | undefined, now: number, graceSec: number): boolean {
  if (!h) return true;
  if (h.state !== 'released') return false;
  return h.retain === undefined ? now - h.since >= graceSec : h.since === 0;
}

/** `ns` and `att` of an owner `ns/pod/att` (its pod left out), or undefined when it is not one. */
function nsAndAttachment(owner: Owner): string | undefined {
  const i = owner.indexOf('/');
  const j = owner.indexOf('/', i + 1);
  return i > 0 && j > i + 1 ? `${owner.slice(0, i)}/${owner.slice(j + 1)}` : undefined;
}

/**
 * Whether a released retained holding passes to `c` by its anchor: the same anchor, and an owner of the
 * same namespace and attachment (the pod name may differ: a new virt-launcher pod has another).
 */
function sameAnchor(h: Holding, c: Claimant): boolean {
  if (h.retain === undefined || c.retain !== h.retain) return false;
  const mine = nsAndAttachment(h.owner);
  return mine !== undefined && mine === nsAndAttachment(c.owner);
}

/**
 * Whether `c` may take the MAC now: it is free; or released and still in its owner's grace period, by
 * that owner name (whatever the UID: a re-created pod gets its MAC back); or released and retained, by
 * that owner name or by a claimant of the same anchor, namespace and attachment; or reserved or active
 * for the same pod (same owner and UID: a retried ADD, a new sandbox). A uid-less live holding (an earlier
 * release's) is taken only by its owner name, on the node that wrote it, when that node's cache shows
 * its sandbox gone or of this pod. Anything else belongs to another pod, which may still use it.
 */
export function mayTake(h: Holding | undefined, c: Claimant, now: number, graceSec: number): boolean {
  if (isFree(h, now, graceSec)) return true;
  if (h!.state === 'released' && sameAnchor(h!, c)) return true;
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
    const why =
      h!.state !== 'released' ? ''
      : h!.retain !== undefined ? ` (released ${now - h!.since}s ago, retained for as long as its owner ${h!.retain} exists)`
      : ` (released ${now - h!.since}s ago, held for its owner for ${graceSec}s)`;
    throw new CniError(Code.MacConflict, `MAC ${mac} is already held by ${holderText(h!)}${why}`);
  }
  if (h && h.owner === c.owner && h.state === 'active' && h.uid === c.uid) return h;
  return { owner: c.owner, state: 'reserved', node: c.node, since: now, ...(c.uid !== undefined ? { uid: c.uid } : {}), ...(c.retain !== undefined ? { retain: c.retain } : {}) };
}

export function activate(h: Holding, now: number): Holding {
  return h.state === 'active' ? h : { ...h, state: 'active', since: now };
}

/**
 * Released by the DEL of `by`'s sandbox, but still the owner's until the grace period ends, or while its
 * anchor exists when retained: `by.retain`, else the anchor the holding recorded at its ADD (a DEL that
 * could not read the pod keeps it). Only the holding of `by`'s pod: one with another UID (the pod
 * re-created, its MAC taken back after the old holding was released) stays; a uid-less one only by the
 * node that wrote it. Otherwise it does nothing.
 */
export function release(h: Holding | undefined, by: { owner: Owner; uid?: string; node: string; retain?: string }, now: number): Holding | undefined {
  if (!h || h.owner !== by.owner || h.state === 'released') return h;
  if (h.uid !== undefined ? h.uid !== by.uid : h.node !== by.node) return h;
  return { ...h, state: 'released', since: now, ...(by.retain !== undefined ? { retain: by.retain } : {}) };
}

/** The holding without its retention: released, it is then kept for the grace period only. */
export function withoutRetention(h: Holding): Holding {
  const { retain: _, ...rest } = h;
  return rest;
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

/** The sixth field's prefix: the anchor a retained holding is kept for. */
const RETAIN = 'o:';

/**
 * `a|ns/pod/att|node|since|uid`, the UID compacted (encodeUid): about 85 bytes, so a 1 MiB ConfigMap
 * holds some 11,000 MACs. Releases before 12 wrote no `|uid`, and read one as an unknown trailing field.
 * A retained holding adds `|o:Kind/name` (the uid field then empty when there is none): releases before
 * this one ignore it, and so read a released retained holding as released, kept for the grace period.
 */
export function encodeHolding(h: Holding): string {
  const uid = h.uid !== undefined ? `|${encodeUid(h.uid)}` : h.retain !== undefined ? '|' : '';
  return `${STATE_CODE[h.state]}|${h.owner}|${h.node}|${h.since}${uid}${h.retain !== undefined ? `|${RETAIN}${h.retain}` : ''}`;
}

/**
 * Fields after the known ones are ignored, as releases before 12 ignored the UID: a holding a later release
 * writes must still read as held. A UID this release cannot expand is kept as written (it matches no pod);
 * a retention whose anchor is not valid is ignored (the holding keeps the grace period only).
 */
export function decodeHolding(s: string): Holding | undefined {
  const [code, owner, node, since, uid, retain] = s.split('|');
  const state = CODE_STATE[code ?? ''];
  if (!state || !owner || node === undefined || !/^\d+$/.test(since ?? '')) return undefined;
  const h: Holding = { state, owner, node, since: Number(since) };
  if (uid) h.uid = decodeUid(uid) ?? uid;
  if (retain?.startsWith(RETAIN) && isAnchor(retain.slice(RETAIN.length))) h.retain = retain.slice(RETAIN.length);
  return h;
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
