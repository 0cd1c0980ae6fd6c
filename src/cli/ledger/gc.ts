// `macmux ledger gc [--dry-run]`: releases every reserved or active MAC whose pod no longer exists.
import { historyRecord, type HistoryRecord } from '../../mac/history';
import type { Entry } from '../../mac/census';
import { print, table, type CliIo } from '../io';
import { clusterOf, operatorHistory, podOfOwner, takeCensus, withSession, type LedgerOpts } from './common';
import { podState } from './release';

export interface Collected {
  mac: string;
  owner: string;
  state: string;
  node: string;
  configMap: string;
  /** released (kept for its owner for the grace period), would-release (--dry-run), or skipped (it changed hands meanwhile). */
  action: 'released' | 'would-release' | 'skipped';
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
    const podGone = async (owner: string) => {
      const p = podOfOwner(owner)!;
      const k = `${p.namespace}/${p.name}`;
      if (!pods.has(k)) pods.set(k, podState(x, owner));
      return (await pods.get(k)) === 'gone';
    };
    const out: Collected[] = [];
    const records: HistoryRecord[] = [];
    const cluster = clusterOf(x);
    for (const e of held.values()) {
      if (!(await podGone(e.owner))) continue;
      const row: Collected = { mac: e.mac, owner: e.owner, state: e.state, node: e.node, configMap: e.cm, action: 'would-release' };
      if (!opts.dryRun) {
        const done = await cluster.operatorRelease(e.mac, e.owner, false, { node: e.node, since: e.since });
        row.action = done.held ? 'released' : 'skipped';
        if (done.held) records.push(historyRecord(e.mac, e.owner, 'operator-release', e.node));
      }
      out.push(row);
    }
    await operatorHistory(x, records);
    print(io, opts.output, out, () => {
      if (out.length === 0) return `nothing to collect: every reserved or active MAC in namespace ${x.s.namespace} belongs to an existing pod\n`;
      const n = out.filter((r) => r.action !== 'skipped').length;
      const summary = opts.dryRun ? `${n} MAC(s) would be released (run without --dry-run to release them)` : `${n} MAC(s) released; they stay their owners' for the grace period`;
      return table(['MAC', 'OWNER', 'STATE', 'NODE', 'CONFIGMAP', 'ACTION'], out.map((r) => [r.mac, r.owner, r.state, r.node, r.configMap, r.action])) + `${summary}\n`;
    });
  });
}
