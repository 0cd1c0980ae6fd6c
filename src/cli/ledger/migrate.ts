// `macmux ledger migrate [--dry-run]`: moves every block an earlier release leased (all of a node's blocks in one ConfigMap) into a ConfigMap of its own.
import { poolView } from '../../mac/pool';
import { POOL_CM } from '../../mac/home';
import { migrationPlan } from '../../mac/migrate';
import { VERSION } from '../../version';
import { CliFailure, Exit, print, table, type CliIo } from '../io';
import { clusterOf, ledgerCms, withSession, type LedgerOpts } from './common';

export interface MigratedBlock {
  block: number;
  node: string;
  /** The node's legacy ledger. */
  from: string;
  /** The block's own ConfigMap. */
  to: string;
  /** Holdings of the block in the legacy ledger when the run began. */
  holdings: number;
  /**
   * migrated: moved (all four steps); finished: a run stopped after the lease moved, its last step done
   * now; would-migrate, would-finish: --dry-run; none: nothing left (another run did it meanwhile);
   * skipped: its lease changed while it was moved (see reason).
   */
  action: 'migrated' | 'finished' | 'would-migrate' | 'would-finish' | 'none' | 'skipped';
  reason?: string;
}

const ORDER = `run it once every node runs macmux ${VERSION} or later: older releases do not know the marker it leaves in the legacy ledgers`;

export async function migrate(io: CliIo, opts: LedgerOpts & { dryRun?: boolean }): Promise<void> {
  await withSession(io, opts, async (x) => {
    const cms = await ledgerCms(x);
    const pool = cms.find((c) => c.name === POOL_CM);
    if (!pool) throw new CliFailure(Exit.NotFound, `no ${POOL_CM} ConfigMap in namespace ${x.s.namespace}: no ledger to migrate (check --namespace)`);
    const view = poolView(pool);
    const plan = migrationPlan(view.spec, view.leases, cms);
    const out: MigratedBlock[] = [];
    const cluster = clusterOf(x);
    for (const p of plan) {
      const row: MigratedBlock = { block: p.block, node: p.node, from: p.from, to: p.to, holdings: p.holdings, action: p.todo === 'migrate' ? 'would-migrate' : 'would-finish' };
      if (!opts.dryRun) {
        const done = await cluster.migrateBlock(p.block);
        row.action = done.result;
        if (done.reason) row.reason = done.reason;
      }
      out.push(row);
    }
    print(io, opts.output, out, () => {
      if (out.length === 0) return `nothing to migrate: every leased block of ${POOL_CM} in namespace ${x.s.namespace} has a ConfigMap of its own\n`;
      const rows = table(['BLOCK', 'NODE', 'FROM', 'TO', 'HOLDINGS', 'ACTION'], out.map((r) => [String(r.block), r.node, r.from, r.to, String(r.holdings), r.action]));
      const skipped = out.filter((r) => r.reason).map((r) => `skipped block ${r.block}: ${r.reason}\n`);
      const summary = opts.dryRun
        ? `${out.length} block(s) would be moved into ConfigMaps of their own (run without --dry-run to move them; ${ORDER})\n`
        : `${out.filter((r) => r.action === 'migrated' || r.action === 'finished').length} block(s) moved into ConfigMaps of their own; the legacy ledgers keep only their markers\n`;
      return rows + skipped.join('') + summary;
    });
    const skipped = out.filter((r) => r.action === 'skipped');
    if (skipped.length) {
      throw new CliFailure(Exit.Failed, `${skipped.length} block(s) not migrated: their leases changed while they were moved (${skipped.map((r) => r.block).join(', ')}); look with \`macmux ledger list\`, then run it again`);
    }
  });
}
