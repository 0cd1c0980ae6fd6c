// `macmux ledger gc [--dry-run]`: releases every reserved or active MAC whose pod no longer exists and whose node is gone,
// and frees every retained MAC whose owner (StatefulSet, VirtualMachineInstance) is gone.
import { historyRecord, type HistoryRecord } from '../../mac/history';
import type { Entry } from '../../mac/census';
import type { Who } from '../../mac/cluster';
import { anchorState, sweepRetained } from '../../mac/retention-sweep';
import { print, table, type CliIo } from '../io';
import { clusterOf, nowSec, operatorHistory, podOfOwner, takeCensus, withSession, type LedgerOpts } from './common';
import { kubeStore } from '../../k8s/cmstore';
import { indexExpired, OWNERS_LABEL } from '../../mac/owners';
import { nodeKeeps, podState } from './release';

export interface Collected {
  mac: string;
  owner: string;
  state: string;
  node: string;
  configMap: string;
  /**
   * released (kept for its owner for the grace period), would-release (--dry-run), skipped (it changed
   * hands meanwhile), or kept (the pod is gone but its node still exists: see `reason`). A retained
   * released MAC whose owner is gone is freed (no grace period), would-free (--dry-run), skipped or kept
   * (whether its owner exists could not be told).
   */
  action: 'released' | 'would-release' | 'skipped' | 'kept' | 'freed' | 'would-free';
  reason?: string;
  /** A retained MAC's owner, `ns/Kind/name`. */
  retainedFor?: string;
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
    const indexed: Array<{ mac: string; who: Who }> = [];
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
          indexed.push({ mac: e.mac, who: { owner: e.owner, ...(e.uid !== undefined ? { uid: e.uid } : {}), ...(e.retain !== undefined ? { retain: e.retain } : {}) } });
        }
      }
      out.push(row);
    }
    // Released into their grace period: a re-created pod of the owner finds them through the owner index.
    await cluster.recordReleased(indexed);
    // Retained released MACs (the copy at home, each owner asked once): freed once their owner is gone.
    const retained = new Map<string, Entry>();
    for (const e of c.entries) if (e.retain !== undefined && (!retained.has(`${e.mac} ${e.owner}`) || e.atHome)) retained.set(`${e.mac} ${e.owner}`, e);
    const cmOf = new Map([...retained.values()].map((e) => [`${e.mac} ${e.owner}`, e.cm]));
    const swept = await sweepRetained(retained.values(), (ns, anchor) => anchorState(x.api, ns, anchor), opts.dryRun ? undefined : async (e) => {
      const done = await cluster.operatorRelease(e.mac, e.owner, true, { node: e.node, since: e.since, ...(e.uid !== undefined ? { uid: e.uid } : {}) });
      if (done.held) records.push(historyRecord(e.mac, e.owner, 'operator-release', e.node, { force: true }));
      return done.held;
    });
    for (const r of swept) {
      const reason = r.action === 'kept' ? `whether its owner ${r.anchor} exists could not be checked (the API refused or failed; see doctor's rbac check)` : undefined;
      out.push({ mac: r.mac, owner: r.owner, state: 'released', node: r.node, configMap: cmOf.get(`${r.mac} ${r.owner}`) ?? '', action: r.action, retainedFor: r.anchor, ...(reason ? { reason } : {}) });
    }
    // Owner-index objects nobody else will delete: every entry expired, or retained for a MAC just freed.
    const retainedNow = new Set(c.entries.filter((e) => e.atHome && e.retain !== undefined && e.state === 'released').map((e) => e.mac));
    for (const r of swept) if (r.action === 'freed') retainedNow.delete(r.mac);
    const store = kubeStore(x.api, x.s.namespace);
    const stale = (await store.list(OWNERS_LABEL)).filter((cm) => indexExpired(cm.data, nowSec(), x.s.graceSec, (m) => retainedNow.has(m)));
    let dropped = 0;
    for (const cm of opts.dryRun ? [] : stale) if ((await store.delete!(cm.name, cm.resourceVersion ?? '')) === 'deleted') dropped++;
    await operatorHistory(x, records);
    print(io, opts.output, out, () => {
      if (out.length === 0 && stale.length === 0) return `nothing to collect: every reserved or active MAC in namespace ${x.s.namespace} belongs to an existing pod, and every retained MAC to an existing owner\n`;
      const n = out.filter((r) => r.action === 'released' || r.action === 'would-release').length;
      const f = out.filter((r) => r.action === 'freed' || r.action === 'would-free').length;
      const summary = opts.dryRun ? `${n} MAC(s) would be released (run without --dry-run to release them)` : `${n} MAC(s) released; they stay their owners' for the grace period`;
      const freed = f === 0 ? '' : opts.dryRun ? `; ${f} retained MAC(s) would be freed: their owners are gone` : `; ${f} retained MAC(s) freed: their owners are gone`;
      const keptLines = out.filter((r) => r.reason).map((r) =>
        r.retainedFor
          ? `kept ${r.mac} of ${r.owner}: ${r.reason}; gc asks again next time\n`
          : `kept ${r.mac} of ${r.owner}: ${r.reason}; \`macmux ledger release ${r.mac} --force\` frees it if you know the node runs nothing\n`,
      );
      const index = stale.length === 0 ? '' : opts.dryRun ? `; ${stale.length} expired owner-index object(s) would be deleted` : `; ${dropped} expired owner-index object(s) deleted`;
      return table(['MAC', 'OWNER', 'STATE', 'NODE', 'CONFIGMAP', 'ACTION'], out.map((r) => [r.mac, r.owner, r.state, r.node, r.configMap, r.action])) + keptLines.join('') + `${summary}${freed}${index}\n`;
    });
  });
}
