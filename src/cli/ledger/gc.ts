// `macmux ledger gc [--dry-run]`: releases every reserved or active MAC whose pod no longer exists and whose node is gone.
import { historyRecord, type HistoryRecord } from '../../mac/history';
import type { Entry } from '../../mac/census';
import { print, table, type CliIo } from '../io';
import { clusterOf, operatorHistory, podOfOwner, takeCensus, withSession, type LedgerOpts } from './common';
import { nodeKeeps, podState } from './release';

export interface Collected {
  mac: string;
  owner: string;
  state: string;
  node: string;
  configMap: string;
  /**
   * released (kept for its owner for the grace period), would-release (--dry-run), skipped (it changed
   * hands meanwhile), or kept (the pod is gone but its node still exists: see `reason`).
   */
  action: 'released' | 'would-release' | 'skipped' | 'kept';
  reason?: string;
}

export async function gc(io: CliIo, opts: LedgerOpts & { dryRun?: boolean }): Promise<void> {
  await withSession(io, opts, async (x) => {
    const { c } = await takeCensus(x);
    // One per MAC and owner: the copy at home when there is one (a leftover is released with it).
    const held = new Map<string, Entry>();
    for (const e of c.entries) {
      if (e.state === 'released' || !podOfOwner(e.owner)) continue;
      const k = `${e.mac} ${e.owner}`;
      if (!held.has(k) || e.atHome) held.set(k, e);
    }
    const pods = new Map<string, Promise<string>>();
    // Gone: no pod of that name, or one re-created under it (another UID than the holding records).
    const podGone = async (e: Entry) => {
      const p = podOfOwner(e.owner)!;
      const k = `${p.namespace}/${p.name} ${e.uid ?? ''}`;
      if (!pods.has(k)) pods.set(k, podState(x, e.owner, e.uid));
      return (await pods.get(k)) === 'gone';
    };
    const nodes = new Map<string, Promise<string | undefined>>();
    const kept = (e: Entry) => {
      if (!nodes.has(e.node)) nodes.set(e.node, nodeKeeps(x, e));
      return nodes.get(e.node)!;
    };
    const out: Collected[] = [];
    const records: HistoryRecord[] = [];
    const released: Array<{ mac: string; who: string }> = [];
    const cluster = clusterOf(x);
    for (const e of held.values()) {
      if (!(await podGone(e))) continue;
      const row: Collected = { mac: e.mac, owner: e.owner, state: e.state, node: e.node, configMap: e.cm, action: 'would-release' };
      // A partitioned node may still run the old sandbox: only the node's DEL, its removal or `release --force` frees the MAC.
      const reason = await kept(e);
      if (reason) {
        out.push({ ...row, action: 'kept', reason });
        continue;
      }
      if (!opts.dryRun) {
        const done = await cluster.operatorRelease(e.mac, e.owner, false, { node: e.node, since: e.since, ...(e.uid !== undefined ? { uid: e.uid } : {}) });
        row.action = done.held ? 'released' : 'skipped';
        if (done.held) {
          records.push(historyRecord(e.mac, e.owner, 'operator-release', e.node));
          released.push({ mac: e.mac, who: e.owner });
        }
      }
      out.push(row);
    }
    // Kept for their owners for the grace period: the owner index points a re-created pod at them, as a DEL's release does.
    await cluster.recordReleased(released);
    await operatorHistory(x, records);
    print(io, opts.output, out, () => {
      if (out.length === 0) return `nothing to collect: every reserved or active MAC in namespace ${x.s.namespace} belongs to an existing pod\n`;
      const n = out.filter((r) => r.action === 'released' || r.action === 'would-release').length;
      const summary = opts.dryRun ? `${n} MAC(s) would be released (run without --dry-run to release them)` : `${n} MAC(s) released; they stay their owners' for the grace period`;
      const keptLines = out.filter((r) => r.reason).map((r) => `kept ${r.mac} of ${r.owner}: ${r.reason}; \`macmux ledger release ${r.mac} --force\` frees it if you know the node runs nothing\n`);
      return table(['MAC', 'OWNER', 'STATE', 'NODE', 'CONFIGMAP', 'ACTION'], out.map((r) => [r.mac, r.owner, r.state, r.node, r.configMap, r.action])) + keptLines.join('') + `${summary}\n`;
    });
  });
}
