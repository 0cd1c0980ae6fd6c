// Moving a legacy block (its holdings in its node's whole ledger) into a ConfigMap of its own: the marker, the keys that move, the plan (pure).
import { keyMac } from './holding';
import { isLegacyLease, leaseNode, leaseValue, ledgerCm, type Leases } from './home';
import { blockOf, macToInt, type PoolSpec } from './range';
import type { Cm } from './store';

/**
 * The key `macmux ledger migrate` sets in a legacy ledger before it copies block `block` out: from then
 * on no writer of this release writes that block's MACs there (it re-reads the pool and follows the lease
 * to the block's own ConfigMap). Its value is that ConfigMap's name. Releases before 15 do not know it.
 */
export const movedKey = (block: number | string) => `moved.b${block}`;

/** Whether `key` of a ledger ConfigMap is a migration marker (not a holding, not damage). */
export const isMovedKey = (key: string) => /^moved\.b\d+$/.test(key);

/** Whether the ConfigMap data `data` turns away writes of `block`'s MACs: the block moved out of it. */
export const movedAway = (data: Record<string, string>, block: number | undefined) => block !== undefined && data[movedKey(block)] !== undefined;

/** The holdings of block `block` among `data`: [key, encoded holding] (keys that are MACs of that block). */
export function blockEntries(data: Record<string, string>, spec: PoolSpec, block: number): Array<[string, string]> {
  return Object.entries(data).filter(([key]) => /^[0-9a-f]{12}$/.test(key) && blockOf(spec, macToInt(keyMac(key))) === block);
}

/** One block `macmux ledger migrate` has work on. */
export interface MigrationItem {
  block: number;
  node: string;
  /** The node's legacy ledger, `macmux-ledger-<node>`. */
  from: string;
  /** The block's own ConfigMap, `macmux-ledger-<node>.b<block>`. */
  to: string;
  /** migrate: still leased the legacy way (all four steps); finish: leased new-style, its copies still in the legacy ledger (the last step). */
  todo: 'migrate' | 'finish';
  /** Holdings of the block in the legacy ledger. */
  holdings: number;
}

/**
 * What `macmux ledger migrate` would do, from the pool's range and leases and the ledger ConfigMaps
 * (`cms`): every block leased the legacy way, and every block a run interrupted after its lease moved
 * (its legacy ledger marks it moved to the lease's ConfigMap and still holds some of its MACs).
 */
export function migrationPlan(spec: PoolSpec, leases: Leases, cms: Cm[]): MigrationItem[] {
  const byName = new Map(cms.map((c) => [c.name, c]));
  const out: MigrationItem[] = [];
  for (const k of Object.keys(leases).filter((b) => /^\d+$/.test(b)).sort((a, b) => Number(a) - Number(b))) {
    const value = leases[k]!;
    const node = leaseNode(value, k);
    const from = ledgerCm(node);
    const to = ledgerCm(leaseValue(node, k));
    const data = byName.get(from)?.data ?? {};
    const holdings = blockEntries(data, spec, Number(k)).length;
    if (isLegacyLease(value, k)) out.push({ block: Number(k), node, from, to, todo: 'migrate', holdings });
    else if (data[movedKey(k)] === to && holdings > 0) out.push({ block: Number(k), node, from, to, todo: 'finish', holdings });
  }
  return out;
}
