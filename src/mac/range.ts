// MAC arithmetic: a MAC as a 48-bit integer, pool ranges and blocks, and the addresses a pool may hand out (pure).
import { CniError, Code } from '../cni/errors';
import { parseMac } from './address';

export const MAC_MAX = 2 ** 48 - 1;

export function macToInt(mac: string): number {
  return parseInt(mac.replace(/[:-]/g, ''), 16);
}

export function intToMac(n: number): string {
  return n.toString(16).padStart(12, '0').replace(/(..)(?!$)/g, '$1:');
}

const firstOctet = (n: number) => Math.floor(n / 2 ** 40);
export const isMulticastInt = (n: number) => (firstOctet(n) & 0x01) !== 0;
export const isLocalInt = (n: number) => (firstOctet(n) & 0x02) !== 0;

/** A pool MAC is unicast and locally administered. */
export const assignable = (n: number) => !isMulticastInt(n) && isLocalInt(n);

export interface PoolSpec {
  start: number;
  end: number;
  blockSize: number;
}

export const DEFAULT_BLOCK_SIZE = 256;

/** Parses RANGE_START/RANGE_END: whole 48-bit values compared, so 02:00:00:00:01:00 > 02:00:00:00:00:ff. */
export function parseRange(startMac: string, endMac: string, blockSize = DEFAULT_BLOCK_SIZE, where = 'macPool'): PoolSpec {
  const s = parseMac(startMac);
  const e = parseMac(endMac);
  if (!s) throw new CniError(Code.InvalidConfig, `${where}: RANGE_START "${startMac}" is not a MAC address`);
  if (!e) throw new CniError(Code.InvalidConfig, `${where}: RANGE_END "${endMac}" is not a MAC address`);
  const start = macToInt(s);
  const end = macToInt(e);
  if (start > end) throw new CniError(Code.InvalidConfig, `${where}: RANGE_START ${s} is above RANGE_END ${e}`);
  if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > 65536) throw new CniError(Code.InvalidConfig, `${where}: BLOCK_SIZE ${blockSize} must be an integer from 1 to 65536`);
  return { start, end, blockSize };
}

export const inRange = (spec: PoolSpec, n: number) => n >= spec.start && n <= spec.end;
export const blockCount = (spec: PoolSpec) => Math.floor((spec.end - spec.start) / spec.blockSize) + 1;

/** The block holding `n`, or undefined outside the range. */
export function blockOf(spec: PoolSpec, n: number): number | undefined {
  return inRange(spec, n) ? Math.floor((n - spec.start) / spec.blockSize) : undefined;
}

/** First and last address of block `i`. */
export function blockBounds(spec: PoolSpec, i: number): [number, number] {
  const lo = spec.start + i * spec.blockSize;
  return [lo, Math.min(lo + spec.blockSize - 1, spec.end)];
}

/** The first assignable address from `n` up to `hi`, skipping multicast and globally administered ones. */
export function nextAssignable(n: number, hi: number): number | undefined {
  let x = n;
  while (x <= hi) {
    if (assignable(x)) return x;
    // Jump to the next first octet, the smallest step that can change either bit.
    x = (firstOctet(x) + 1) * 2 ** 40;
  }
  return undefined;
}

/** How many addresses of the range can be handed out. */
export function poolSize(spec: PoolSpec): number {
  let total = 0;
  for (let o = firstOctet(spec.start); o <= firstOctet(spec.end); o++) {
    if ((o & 0x01) !== 0 || (o & 0x02) === 0) continue;
    const lo = Math.max(spec.start, o * 2 ** 40);
    const hi = Math.min(spec.end, (o + 1) * 2 ** 40 - 1);
    total += hi - lo + 1;
  }
  return total;
}

/** The lowest free assignable address in block `i`, where `taken` says which are held. */
export function freeInBlock(spec: PoolSpec, i: number, taken: (n: number) => boolean): number | undefined {
  const [lo, hi] = blockBounds(spec, i);
  for (let x = nextAssignable(lo, hi); x !== undefined; x = nextAssignable(x + 1, hi)) {
    if (!taken(x)) return x;
  }
  return undefined;
}

export function rangeText(spec: PoolSpec): string {
  return `${intToMac(spec.start)}-${intToMac(spec.end)}`;
}
