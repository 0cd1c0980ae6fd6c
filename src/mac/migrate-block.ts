// `macmux ledger migrate` for one block: a legacy block moved into a ConfigMap of its own, in four compare-and-swaps.
import type { CasCache } from './cas';
import { isLegacyLease, leaseNode, leaseValue, ledgerCm, ledgerLabels, LEDGER_LABEL, POOL_CM } from './home';
import { blockEntries, movedKey } from './migrate';
import { poolGone, poolView, type PoolView } from './pool';

/** What migrateBlock did with one block. */
export interface BlockMigration {
  block: number;
  node: string;
  /** The node's legacy ledger. */
  from: string;
  /** The block's own ConfigMap. */
  to: string;
  /** migrated: all four steps; finished: only the last was left; none: nothing to do; skipped: see reason. */
  result: 'migrated' | 'finished' | 'none' | 'skipped';
  /** Holdings copied into `to` (not there yet). */
  copied: number;
  /** Copies deleted from `from`. */
  removed: number;
  reason?: string;
}

/**
 * `macmux ledger migrate` for block `block`: moves a block leased the legacy way (its lease the bare
 * node name, its home the node's whole ledger) into a ConfigMap of its own, in four compare-and-swaps,
 * each safe to repeat, so an interrupted run is finished by running it again:
 * 1. the legacy ledger gets the marker `moved.b<k>`: from then on no writer of this release writes the
 *    block's MACs there (one that read it before gets a 409, re-reads and is turned away);
 * 2. the block's holdings, read fresh, are copied into `macmux-ledger-<node>.b<k>` (a key already there is kept);
 * 3. the pool's lease goes from `<node>` to `<node>.b<k>` (only while it is still `<node>`);
 * 4. the copies left in the legacy ledger are deleted; the ledger and its marker stay, for writers with
 *    an older view of the pool.
 * A block leased new-style whose legacy ledger still has copies (a run stopped after step 3) gets step 4 only.
 */
export async function migrateBlock(w: CasCache, pool: PoolView, block: number): Promise<BlockMigration> {
  const k = String(block);
  const value = pool.leases[k];
  if (value === undefined) return { block, node: '', from: '', to: '', result: 'skipped', copied: 0, removed: 0, reason: `block ${k} is not leased` };
  const node = leaseNode(value, block);
  const from = ledgerCm(node);
  const to = ledgerCm(leaseValue(node, block));
  const out: BlockMigration = { block, node, from, to, result: 'none', copied: 0, removed: 0 };
  const nodeLabels = { [LEDGER_LABEL]: 'node' };
  if (isLegacyLease(value, block)) {
    // 1. A missing legacy ledger is created holding the marker alone (only here: no other writer creates one).
    await w.cas(from, nodeLabels, true, (data) => (data[movedKey(block)] === to ? false : ((data[movedKey(block)] = to), true)), { cache: false });
    // 2. Frozen since step 1: nothing of this release writes the block there any more.
    const moving = blockEntries((await w.store.get(from))?.data ?? {}, pool.spec, block);
    await w.cas(to, { [LEDGER_LABEL]: 'block' }, true, (data) => {
      out.copied = 0;
      for (const [key, v] of moving) if (data[key] === undefined) (data[key] = v), out.copied++;
      return out.copied > 0;
    }, { cache: false });
    // 3.
    let now: string | undefined;
    const flipped = await w.cas(POOL_CM, ledgerLabels(POOL_CM), false, (data) => {
      const leases = poolView({ name: POOL_CM, data }).leases;
      now = leases[k];
      if (now === leaseValue(node, block)) return false;
      if (now !== node) return 'changed';
      data.LEASES = JSON.stringify({ ...leases, [k]: leaseValue(node, block) });
      return true;
    }, { cache: false });
    w.forget(POOL_CM);
    if (flipped === 'missing') throw poolGone();
    if (flipped === 'changed') {
      return { ...out, result: 'skipped', reason: `the lease of block ${k} changed to ${JSON.stringify(now ?? null)} while it was migrated: its holdings stay in ${from} (copied to ${to} too)` };
    }
    out.result = 'migrated';
  }
  // 4. Only where the marker says the block moved to its lease's ConfigMap.
  const cleaned = await w.cas(from, nodeLabels, false, (data) => {
    if (data[movedKey(block)] !== to) return 'unmarked';
    const stale = blockEntries(data, pool.spec, block);
    out.removed = stale.length;
    for (const [key] of stale) delete data[key];
    return stale.length > 0;
  }, { cache: false });
  if (cleaned === 'written' && out.result === 'none') out.result = 'finished';
  w.forget(from);
  return out;
}
