// The home rule: every MAC has exactly one home ConfigMap, and every write about it is a compare-and-swap there (pure).
import { createHash } from 'node:crypto';
import { blockOf, type PoolSpec } from './range';

export const POOL_CM = 'macmux-pool';
export const LEDGER_LABEL = 'macmux.io/ledger';

/** `macmux-ledger-<lease value>`: the home of a leased block's MACs, whatever release leased it. */
export const ledgerCm = (leaseValue: string) => `macmux-ledger-${leaseValue}`;
/** 256 claims shards, by the first byte of sha256(mac). */
export const claimsCm = (mac: string) => `macmux-claims-${createHash('sha256').update(mac).digest('hex').slice(0, 2)}`;

/** Block index (as a string) → lease value: `<node>.b<block>` (one ConfigMap per block), or a bare `<node>` as releases before 15 leased. */
export type Leases = Record<string, string>;

/**
 * The lease value this release writes for `block`: its home is then `macmux-ledger-<node>.b<block>`, a
 * ConfigMap of that block alone. Releases before 15 wrote the bare node name, and compute every home as
 * `macmux-ledger-<lease value>` too, so old and new binaries agree on every MAC's home during an upgrade.
 */
export const leaseValue = (node: string, block: number | string) => `${node}.b${block}`;

/** Whether the lease of `block` is one a release before 15 wrote (its home is the node's whole ledger). */
export const isLegacyLease = (value: string, block: number | string) => !value.endsWith(`.b${block}`) || value.length === `.b${block}`.length;

/** The node that leases `block` (`value` its lease). */
export const leaseNode = (value: string, block: number | string) => (isLegacyLease(value, block) ? value : value.slice(0, -`.b${block}`.length));

/** The home of `mac` (as an integer and in canonical form): its block's ConfigMap, else the pool (its block unleased), else its claims shard. */
export function homeOf(mac: string, n: number, spec: PoolSpec, leases: Leases): string {
  const block = blockOf(spec, n);
  if (block === undefined) return claimsCm(mac);
  const value = leases[String(block)];
  return value ? ledgerCm(value) : POOL_CM;
}

/**
 * The blocks `node` leases, in either style. A legacy lease of a node named like another's new-style
 * lease (`a.b3` leasing block 3) reads as both nodes': harmless, since every write is a compare-and-swap on the home.
 */
export const blocksOf = (leases: Leases, node: string) =>
  Object.keys(leases)
    .filter((b) => leaseNode(leases[b]!, b) === node || leases[b] === node)
    .map(Number)
    .sort((a, b) => a - b);

/** The home ConfigMaps of `node`'s blocks: one per block of this release's leases, its legacy ledger once for all legacy ones. */
export const homesOf = (leases: Leases, node: string) => [...new Set(blocksOf(leases, node).map((b) => ledgerCm(leases[String(b)]!)))].sort();

/** The blocks `node` leases with one ConfigMap each (this release's leases): the only ones it allocates from. */
export const ownBlocks = (leases: Leases, node: string) => blocksOf(leases, node).filter((b) => leases[String(b)] === leaseValue(node, b));

/** The ledger kind of a ConfigMap name, for its label. */
export function kindOf(name: string): 'pool' | 'claims' | 'block' | 'node' {
  if (name === POOL_CM) return 'pool';
  if (name.startsWith('macmux-claims-')) return 'claims';
  return /\.b\d+$/.test(name) ? 'block' : 'node';
}

/** The labels of ledger ConfigMap `name`: its kind under `macmux.io/ledger`. */
export const ledgerLabels = (name: string): Record<string, string> => ({ [LEDGER_LABEL]: kindOf(name) });
