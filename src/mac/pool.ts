// The pool ConfigMap read as a view: its range, its leases, and the requested MACs an earlier release left in it (pure).
import { CniError, Code } from '../cni/errors';
import { decodeHolding, keyMac, type Holding } from './holding';
import { POOL_CM, type Leases } from './home';
import { parseRange, type PoolSpec } from './range';
import type { Cm } from './store';

export interface PoolView {
  spec: PoolSpec;
  leases: Leases;
  /** Requested MACs recorded in the pool: in unleased blocks, or left over from before their block was leased. */
  claims: Record<string, Holding>;
}

/** The pool's own keys; any other is a holding an earlier release left there. */
export const RESERVED_KEYS = new Set(['RANGE_START', 'RANGE_END', 'BLOCK_SIZE', 'LEASES']);

export function poolView(cm: Cm): PoolView {
  const d = cm.data;
  const spec = parseRange(d.RANGE_START ?? '', d.RANGE_END ?? '', Number(d.BLOCK_SIZE ?? 256), `ConfigMap ${POOL_CM}`);
  let leases: Leases = {};
  try {
    leases = JSON.parse(d.LEASES ?? '{}') as Leases;
  } catch {
    throw new CniError(Code.InvalidConfig, `ConfigMap ${POOL_CM}: LEASES is not JSON`);
  }
  const claims: Record<string, Holding> = {};
  for (const [k, v] of Object.entries(d)) {
    if (RESERVED_KEYS.has(k)) continue;
    const h = decodeHolding(v);
    if (h) claims[keyMac(k)] = h;
  }
  return { spec, leases, claims };
}

/** The pool ConfigMap was deleted while this node leased a block from it. */
export function poolGone(): CniError {
  return new CniError(Code.UnknownContainer, `ConfigMap ${POOL_CM} does not exist`);
}
