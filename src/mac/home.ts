// The home rule: every MAC has exactly one home ConfigMap, and every write about it is a compare-and-swap there (pure).
import { createHash } from 'node:crypto';
import { blockOf, type PoolSpec } from './range';

export const POOL_CM = 'macmux-pool';
export const LEDGER_LABEL = 'macmux.io/ledger';

export const ledgerCm = (node: string) => `macmux-ledger-${node}`;
/** 256 claims shards, by the first byte of sha256(mac). */
export const claimsCm = (mac: string) => `macmux-claims-${createHash('sha256').update(mac).digest('hex').slice(0, 2)}`;

/** Block index (as a string) → node that leases it. */
export type Leases = Record<string, string>;

/** The home of `mac` (as an integer and in canonical form): its block's node ledger, else the pool, else its claims shard. */
export function homeOf(mac: string, n: number, spec: PoolSpec, leases: Leases): string {
  const block = blockOf(spec, n);
  if (block === undefined) return claimsCm(mac);
  const node = leases[String(block)];
  return node ? ledgerCm(node) : POOL_CM;
}

/** The blocks `node` leases. */
export const blocksOf = (leases: Leases, node: string) => Object.keys(leases).filter((b) => leases[b] === node).map(Number).sort((a, b) => a - b);
