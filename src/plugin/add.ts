// ADD: plan, cache the plan, add the cluster network then each secondary, publish network-status; roll back on failure.
import { argValue } from '../cni/env';
import { CniError, Code } from '../cni/errors';
import { macOf, type Result } from '../cni/result';
import { addNetwork } from '../delegate/network';
import { locatePlugin, requireDirs, searchDirs } from '../delegate/find';
import { refuseSelf } from '../delegate/self';
import type { KubeApi } from '../k8s/api';
import { readCache, writeCache, type CacheEntry, type PodInfo } from '../state/cache';
import { invocationFor, k8sPod, staticPlan, withContainerLock, type VerbContext } from './context';
import { ledgerOn } from './ledger-on';
import { blockingFailures, clearDamaged, delAll, rollback } from './del';
import type { Attachment } from './plan';

export async function cmdAdd(ctx: VerbContext): Promise<Result> {
  const pod = k8sPod(ctx);
  const hotplug = argValue(ctx.env.args, 'K8S_POD_NETWORK');
  if (hotplug !== undefined) {
    // Never fall through to a whole-pod ADD, which would first delete the running pod's interfaces.
    if (!pod) throw new CniError(Code.InvalidConfig, `hot-plug of "${hotplug}" needs the pod (K8S_POD_NAMESPACE and K8S_POD_NAME in CNI_ARGS) and the Kubernetes API (kubeconfig)`);
    return (await import('./hotplug')).hotplugAdd(ctx, pod, hotplug);
  }
  const id = ctx.env.containerID;
  if (!pod) {
    const plan = staticPlan(ctx);
    refuseSelfDelegation(ctx, plan);
    return withContainerLock(ctx, id, () => addPlan(ctx, plan));
  }

  const k8s = await import('./k8s');
  const api = await k8s.openApi(ctx, ctx.conf.timeBudget.add);
  try {
    const podObj = await k8s.readPod(api, pod);
    ctx.pod = { ...pod, ...(podObj.metadata.uid ? { uid: podObj.metadata.uid } : {}) };
    const attachments = await k8s.podPlan(ctx, api, podObj);
    requireInstalled(ctx, attachments);
    return await withContainerLock(ctx, id, async () => {
      if (!ledgerOn(ctx)) return addPlan(ctx, attachments, { api, pod: ctx.pod! });
      const macs = await import('./macs');
      try {
        await macs.assignMacs(ctx, api, ctx.pod!, attachments); // undo: releaseMacs below
      } catch (e) {
        // MACs already assigned to the attachments before the one that failed (a requested MAC refused, say) are not kept.
        await macs.releaseMacs(ctx, attachments, api).catch((r: Error) => ctx.log.error(`MAC release after the failed assignment: ${r.message}`));
        throw e;
      }
      let result: Result;
      try {
        result = await addPlan(ctx, attachments, { api, pod: ctx.pod! });
      } catch (e) {
        // A rollback that could not delete everything kept the cache entry: its DEL releases the MACs, once their links are gone.
        if (readCache(ctx.conf.cacheDir, id).kind === 'missing') {
          await macs.releaseMacs(ctx, attachments, api).catch((r: Error) => ctx.log.error(`MAC release after the failed ADD: ${r.message}`));
        }
        throw e;
      }
      await macs.confirmMacs(ctx, attachments).catch((r: Error) => ctx.log.error(`MAC ledger not confirmed: ${r.message}`));
      return result;
    });
  } finally {
    api.close();
  }
}

/**
 * A pod's network whose plugin is not installed (a NAD naming one, say), or is macmux itself, is a
 * config error, found before any MAC is taken or delegate run: code 7 naming the network and the plugin.
 */
export function requireInstalled(ctx: VerbContext, attachments: Attachment[]): void {
  const dirs = searchDirs(ctx.conf.binDir, ctx.env.path);
  refuseSelfDelegation(ctx, attachments);
  for (const att of attachments) {
    const network = networkLabel(ctx, att);
    for (const { type } of att.network.plugins) {
      requireDirs(dirs, type);
      if (!locatePlugin(type, dirs)) {
        throw new CniError(Code.InvalidConfig, `${network}: plugin "${type}" not found`, `searched: ${dirs.join(', ')}`);
      }
    }
  }
}

/** Code 7 when a network's plugin (or IPAM plugin) is macmux itself: by type, or by device and inode. */
export function refuseSelfDelegation(ctx: VerbContext, attachments: Attachment[]): void {
  const dirs = searchDirs(ctx.conf.binDir, ctx.env.path);
  for (const att of attachments) refuseSelf(att.network, networkLabel(ctx, att), dirs);
}

/** A NAD as ns/name; the node's clusterNetwork file or a delegate of its config by name. */
function networkLabel(ctx: VerbContext, att: Attachment): string {
  if (att.nad) return `NetworkAttachmentDefinition ${att.nad}`;
  if (att.cluster && ctx.conf.clusterNetwork) return `network config: clusterNetwork ${ctx.conf.clusterNetwork}`;
  return `network config: delegate "${att.name}"`;
}

/** Caches and adds `attachments`; with an API, publishes network-status before success counts. */
async function addPlan(ctx: VerbContext, attachments: Attachment[], k8s?: { api: KubeApi; pod: PodInfo }): Promise<Result> {
  const { env, conf } = ctx;
  await clearLeftover(ctx, attachments);
  const entry: CacheEntry = {
    format: 1,
    containerID: env.containerID,
    netns: env.netns,
    ifName: env.ifName,
    args: env.rawArgs,
    cniVersion: conf.cniVersion,
    dirs: searchDirs(conf.binDir, env.path),
    ...(k8s ? { pod: k8s.pod } : {}),
    state: 'adding',
    attachments,
  };
  writeCache(conf.cacheDir, entry); // undo: rollback() removes it
  await addAll(ctx, entry, attachments, async (started) => rollback(ctx, entry, started), async () => {
    entry.state = 'added';
    writeCache(conf.cacheDir, entry);
    if (k8s) {
      const { publishStatus } = await import('./k8s');
      const { buildNetworkStatus } = await import('../annotations/status');
      const { statusEntries } = await import('./podplan');
      await publishStatus(ctx, k8s.api, k8s.pod, buildNetworkStatus(statusEntries(attachments)));
    }
  });
  const cluster = attachments.find((a) => a.cluster)?.result;
  if (!cluster) throw new CniError(Code.Internal, 'cluster network produced no result');
  return cluster;
}

/**
 * Adds `atts` in order, saving each result in `entry` as it completes, then runs `commit`. If a
 * delegate or `commit` fails, `undo` gets every attachment started so far, and the error is rethrown.
 */
export async function addAll(ctx: VerbContext, entry: CacheEntry, atts: Attachment[], undo: (started: Attachment[]) => Promise<void>, commit: () => Promise<void>): Promise<void> {
  const started: Attachment[] = [];
  try {
    for (const att of atts) {
      started.push(att);
      ctx.log.info(`adding ${att.name} on ${att.ifName}`);
      att.result = await addNetwork(att.network, invocationFor(ctx, att));
      writeCache(ctx.conf.cacheDir, entry); // progress: this attachment completed
      verifyMac(att);
    }
    await commit();
  } catch (e) {
    ctx.log.error(`ADD failed, rolling back ${started.length} attachment(s): ${(e as Error).message}`);
    await undo(started);
    throw e;
  }
}

/** The delegate must have set the assigned MAC: when its result reports the device's MAC, they must agree. */
export function verifyMac(att: Attachment): void {
  if (!att.mac || !att.result) return;
  const reported = macOf(att.result, att.ifName);
  if (reported && reported.toLowerCase() !== att.mac) {
    throw new CniError(Code.MacNotApplied, `${att.name}: the delegate set MAC ${reported.toLowerCase()} on ${att.ifName}, not the assigned ${att.mac}; does its plugin honour MAC= or the mac capability?`);
  }
}

/**
 * A cache entry already there for this container: the same ifname means an earlier ADD that died or
 * was never DELed, so its attachments are deleted first; another ifname is refused (one macmux network per container).
 * A damaged one is set aside, and this ADD's own attachments are deleted first instead.
 */
async function clearLeftover(ctx: VerbContext, attachments: Attachment[]): Promise<void> {
  const { env, conf, log } = ctx;
  const cached = readCache(conf.cacheDir, env.containerID);
  if (cached.kind === 'corrupt') return clearDamaged(ctx, cached, attachments);
  if (cached.kind !== 'ok') return;
  if (cached.entry.ifName !== env.ifName) {
    throw new CniError(Code.InvalidConfig, `container ${env.containerID} already has macmux attachments on ${cached.entry.ifName}; DEL them before adding on ${env.ifName}`);
  }
  log.info(`container ${env.containerID} has a leftover cache entry (${cached.entry.state}); deleting its attachments first`);
  const blocking = blockingFailures(await delAll(ctx, cached.entry.attachments, cached.entry));
  if (blocking.length > 0) throw blocking[0]!.error;
}
