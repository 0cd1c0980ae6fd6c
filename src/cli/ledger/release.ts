// `macmux ledger release <mac> [--force]`: the operator releases a MAC for its owner, on its home; --force also skips the grace period.
import { macKey } from '../../mac/holding';
import { historyRecord } from '../../mac/history';
import { POOL_CM } from '../../mac/home';
import { CliFailure, Exit, print, type CliIo } from '../io';
import { clusterOf, macArg, operatorHistory, podOfOwner, takeCensus, withSession, type LedgerOpts, type Session } from './common';

export interface Released {
  mac: string;
  owner: string;
  /** Its state before. */
  state: string;
  node: string;
  /** Whether the owner's pod exists ('unknown' when the owner names no pod). */
  pod: 'exists' | 'gone' | 'unknown';
  force: boolean;
  /** released: kept for its owner for the grace period; freed: free now; already-released: nothing to do. */
  result: 'released' | 'freed' | 'already-released';
  /** The ConfigMaps written. */
  configMaps: string[];
}

/** Whether the pod of `owner` exists: the same pod, when the holding records its UID (one re-created under the name is another). */
export async function podState(x: Session, owner: string, uid?: string): Promise<Released['pod']> {
  const pod = podOfOwner(owner);
  if (!pod) return 'unknown';
  const obj = await x.api.getPod(pod.namespace, pod.name);
  return obj && (uid === undefined || obj.metadata?.uid === uid) ? 'exists' : 'gone';
}

/**
 * Why a reserved or active holding whose pod is gone must not be released yet, or undefined when it may
 * be: its node still exists, and may be partitioned and still running the old sandbox with the MAC on
 * the wire. That node's DEL releases it; once the node is deleted from the cluster, gc and release may.
 */
export async function nodeKeeps(x: Session, e: { state: string; node: string }): Promise<string | undefined> {
  if (e.state === 'released') return undefined;
  const n = await x.api.nodeState(e.node);
  if (n === 'gone') return undefined;
  return n === 'exists'
    ? `its node ${e.node} still exists and may still run the pod's old sandbox; that node's DEL releases it (delete the Node object once the node is gone for good)`
    : `node ${e.node} cannot be checked (these credentials may not get nodes), so it may still run the pod's old sandbox`;
}

export async function release(io: CliIo, macText: string, opts: LedgerOpts & { force?: boolean }): Promise<void> {
  const mac = macArg(macText);
  const force = opts.force === true;
  await withSession(io, opts, async (x) => {
    const { c } = await takeCensus(x);
    const entries = c.entries.filter((e) => e.mac === mac);
    const target = entries.find((e) => e.atHome) ?? entries[0];
    if (!c.spec || !target) {
      throw new CliFailure(Exit.NotFound, `MAC ${mac}: no ledger ConfigMap in namespace ${x.s.namespace} records it, so there is nothing to release; check --namespace, or \`macmux ledger list\``);
    }
    if (!target.atHome && target.cm !== POOL_CM) {
      throw new CliFailure(Exit.Failed, `MAC ${mac} is recorded only in ${target.cm}, which is not its home: a stray copy that allocation ignores; if it is wrong, remove key ${macKey(mac)} from that ConfigMap (kubectl -n ${x.s.namespace} edit configmap ${target.cm})`);
    }
    const base = { mac, owner: target.owner, state: target.state, node: target.node, force };
    if (target.state === 'released' && !force) {
      const out: Released = { ...base, pod: 'unknown', result: 'already-released', configMaps: [] };
      print(io, opts.output, out, () => `MAC ${mac} is already released by ${target.owner}${target.live ? ' (held for its owner during the grace period; --force frees it now)' : ' and free'}\n`);
      return;
    }
    const pod = await podState(x, target.owner, target.uid);
    const kept = pod === 'gone' && !force ? await nodeKeeps(x, target) : undefined;
    if ((pod !== 'gone' || kept) && !force) {
      const p = podOfOwner(target.owner);
      const why = kept ?? (pod === 'exists' ? `its pod ${p!.namespace}/${p!.name}${target.uid ? ` (uid ${target.uid})` : ''} still exists` : `its owner ${target.owner} names no pod to check`);
      throw new CliFailure(Exit.Failed, `not releasing MAC ${mac} (${target.state} for ${target.owner} on node ${target.node}): ${why}, so another pod could get a MAC in use; delete the pod first, or pass --force to release it anyway (it is then free at once)`);
    }
    const cluster = clusterOf(x);
    const done = await cluster.operatorRelease(mac, target.owner, force, target.atHome ? { node: target.node, since: target.since, ...(target.uid !== undefined ? { uid: target.uid } : {}) } : undefined);
    if (!done.held) {
      throw new CliFailure(Exit.Failed, `MAC ${mac} is no longer held by ${target.owner} (it changed while releasing); look again with \`macmux ledger show ${mac}\``);
    }
    // Kept for its owner for the grace period: the owner index points a re-created pod at it, as a DEL's release does.
    if (!force) await cluster.recordReleased([{ mac, who: { owner: target.owner, ...(target.uid !== undefined ? { uid: target.uid } : {}), ...(target.retain !== undefined ? { retain: target.retain } : {}) } }]);
    await operatorHistory(x, [historyRecord(mac, target.owner, 'operator-release', target.node, { force })]);
    const out: Released = { ...base, pod, result: force ? 'freed' : 'released', configMaps: done.written };
    print(io, opts.output, out, () =>
      force
        ? `MAC ${mac} of ${target.owner} freed (no grace period) in ${done.written.join(', ') || 'no ConfigMap (already free)'}\n`
        : `MAC ${mac} of ${target.owner} released in ${done.written.join(', ')}; it stays its owner's for the grace period\n`,
    );
  });
}
