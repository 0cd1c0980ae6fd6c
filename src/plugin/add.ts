// ADD: plan, take the pod's MACs, cache the plan, add the cluster network then each secondary, publish network-status; each step deferring its undo.
import { CniError, Code } from '../cni/errors';
import type { Result } from '../cni/result';
import { searchDirs } from '../delegate/find';
import type { KubeApi } from '../k8s/api';
import { buildNetworkStatus } from '../annotations/status';
import type { Attachment } from '../state/attachment';
import { readCache, removeCache, writeCache, type CacheEntry } from '../state/cache';
import { addChain, blockingFailures, delAll, refuseSelfDelegation, requireInstalled, script, type Script, type Tally } from './chain';
import { k8sPod, ledgerOn, lockContainer, staticPlan, targetOf, type Target, type VerbContext } from './context';
import { openPod, podPlan, publishStatus, readEarly, type Early } from './k8s';
import { assignMacs, confirmMacs, releaseMacs } from './macs';
import { statusEntries } from './plan';
import { clearDamaged } from './recover';

export async function cmdAdd(ctx: VerbContext, tally: Tally): Promise<Result> {
  const { conf, env, log } = ctx;
  const info = k8sPod(ctx);
  if (!info) {
    const plan = staticPlan(ctx);
    refuseSelfDelegation(ctx, plan);
    return script(log, async (s) => {
      s.defer('container unlock', await lockContainer(ctx, env.containerID));
      return addPlan(ctx, s, targetOf(ctx), plan);
    });
  }
  return script(log, async (s) => {
    const { api, podObj, pod } = await openPod(ctx, s, info);
    const t = targetOf(ctx, pod);
    // The ledger's reads (namespace labels, owner index) start beside the NADs': they need only the pod.
    let early: Early | undefined;
    const plan = await podPlan(ctx, api, podObj, env.ifName, () => {
      if (ledgerOn(ctx)) early = readEarly(ctx, api, pod);
    });
    requireInstalled(ctx, plan);
    s.defer('container unlock', await lockContainer(ctx, env.containerID));
    if (!ledgerOn(ctx)) return addPlan(ctx, s, t, plan, api);

    const assigned = await assignMacs(ctx, api, pod, plan, plan, early);
    tally.add(assigned.counts);
    let cached = false;
    // The MACs go back, unless the ADD got as far as the cache and a rollback that could not delete everything kept
    // an entry: its DEL releases them, once their links are gone.
    s.defer('MAC release', async (failed) => {
      if (!failed || (cached && readCache(conf.cacheDir, env.containerID).kind !== 'missing')) return;
      tally.add(await releaseMacs(ctx, t, plan, api));
    });
    if (assigned.error) throw assigned.error;
    cached = true;
    const result = await addPlan(ctx, s, t, plan, api);
    await confirmMacs(ctx, plan).catch((r: Error) => log.error(`MAC ledger not confirmed: ${r.message}`));
    return result;
  });
}

/** Caches and adds `plan` on `s`; with an API, publishes network-status before success counts. */
async function addPlan(ctx: VerbContext, s: Script, t: Target, plan: Attachment[], api?: KubeApi): Promise<Result> {
  const { env, conf, log } = ctx;
  await clearLeftover(ctx, t, plan);
  const entry: CacheEntry = {
    format: 1,
    containerID: env.containerID,
    netns: env.netns,
    ifName: env.ifName,
    args: env.rawArgs,
    cniVersion: conf.cniVersion,
    dirs: searchDirs(conf.binDir, env.path),
    ...(api && t.pod ? { pod: t.pod } : {}),
    state: 'adding',
    attachments: plan,
  };
  writeCache(conf.cacheDir, entry); // durable: what a DEL must delete, before any delegate runs
  s.defer('cache entry removal', (failed) => {
    if (!failed) return;
    if (s.kept) log.error("rollback incomplete; cache entry kept for the runtime's DEL");
    else removeCache(conf.cacheDir, entry.containerID);
  });
  await addChain(ctx, s, t, entry, plan);
  entry.state = 'added';
  // Ordered, as each result was: the attachments are durable already, and a power loss ends every container of the node.
  writeCache(conf.cacheDir, entry, 'ordered');
  if (api && t.pod) await publishStatus(ctx, api, t.pod, buildNetworkStatus(statusEntries(plan)));
  const cluster = plan.find((a) => a.cluster)?.result;
  if (!cluster) throw new CniError(Code.Internal, 'cluster network produced no result');
  return cluster;
}

/**
 * A cache entry already there for this container: the same ifname means an earlier ADD that died or
 * was never DELed, so its attachments are deleted first; another ifname is refused (one macmux network per container).
 * A damaged one is set aside, and this ADD's own attachments are deleted first instead.
 */
async function clearLeftover(ctx: VerbContext, t: Target, plan: Attachment[]): Promise<void> {
  const { env, conf, log } = ctx;
  const cached = readCache(conf.cacheDir, env.containerID);
  if (cached.kind === 'corrupt') return clearDamaged(ctx, t, cached, plan);
  if (cached.kind !== 'ok') return;
  if (cached.entry.ifName !== env.ifName) {
    throw new CniError(Code.InvalidConfig, `container ${env.containerID} already has macmux attachments on ${cached.entry.ifName}; DEL them before adding on ${env.ifName}`);
  }
  log.info(`container ${env.containerID} has a leftover cache entry (${cached.entry.state}); deleting its attachments first`);
  const blocking = blockingFailures(await delAll(ctx, t, cached.entry.attachments, cached.entry));
  if (blocking.length > 0) throw blocking[0]!.error;
}
