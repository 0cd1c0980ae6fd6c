// Hot-plug (K8S_POD_NETWORK=<network>): add or delete one attachment of a running pod, as kactus's pod agent does.
import { CniError, Code } from '../cni/errors';
import type { Result } from '../cni/result';
import { NETWORKS_ANNOTATION, parseNetworks } from '../annotations/networks';
import { mergeNetworkStatus, NETWORK_STATUS_ANNOTATION, type StatusUpdate } from '../annotations/status';
import type { KubeApi } from '../k8s/api';
import { deviceName } from '../util/names';
import { readCache, setAside, writeCache, type CacheEntry } from '../state/cache';
import { podOf, type PodInfo } from '../cni/env';
import { addChain, blockingFailures, delAll, requireInstalled, script, type Tally } from './chain';
import { k8sPod, ledgerOn, lockContainer, targetOf, withContainerLock, type VerbContext } from './context';
import { assignMacs, releaseHeld } from './macs';
import { openApi, openPod, resolve } from './k8s';
import { decorate, nadKey, statusEntries } from './plan';
import { checkIsolation } from './isolation';
import type { Attachment } from '../state/attachment';

/** `ns/name`, or `name` in the pod's namespace. */
function target(network: string, namespace: string | undefined): string {
  if (network.includes('/') || !namespace) return network;
  return `${namespace}/${network}`;
}

/** Adds the one network the pod's annotation names, on its device; the others are untouched. */
export async function hotplugAdd(ctx: VerbContext, tally: Tally, network: string): Promise<Result> {
  const { conf, env, log } = ctx;
  const info = k8sPod(ctx);
  // Never fall through to a whole-pod ADD, which would first delete the running pod's interfaces.
  if (!info) throw new CniError(Code.InvalidConfig, `hot-plug of "${network}" needs the pod (K8S_POD_NAMESPACE and K8S_POD_NAME in CNI_ARGS) and the Kubernetes API (kubeconfig)`);
  const key = target(network, info.namespace);
  return script(log, async (s) => {
    const { api, podObj, pod } = await openPod(ctx, s, info);
    const t = targetOf(ctx, pod);
    const ref = { namespace: info.namespace, name: info.name };
    const annotation = podObj.metadata.annotations?.[NETWORKS_ANNOTATION] ?? '';
    const sel = (annotation ? parseNetworks(annotation, ref) : []).find((x) => nadKey(x) === key);
    if (!sel) throw new CniError(Code.InvalidConfig, `hot-plug: network ${key} is not in the ${NETWORKS_ANNOTATION} annotation of pod ${info.namespace}/${info.name}`);
    if (sel.isPrimary) throw new CniError(Code.InvalidConfig, `hot-plug: network ${key} is the pod's primary network (isPrimary), which cannot be plugged into a running pod`);
    checkIsolation(conf, ref, [sel]); // before the NAD is fetched

    s.defer('container unlock', await lockContainer(ctx, env.containerID));
    const cached = readCache(conf.cacheDir, env.containerID);
    const entry = cached.kind === 'ok' && cached.entry.state === 'added' ? cached.entry : undefined;
    if (!entry) throw new CniError(Code.UnknownContainer, `hot-plug of ${key}: container ${env.containerID} has no running macmux attachments`);
    const existing = entry.attachments.find((a) => a.nad === key && a.result);
    if (existing) return existing.result!;

    const taken = entry.attachments.flatMap((a) => (a.deviceID ? [a.deviceID] : []));
    const [resolved] = await resolve(ctx, api, podObj, [sel], taken);
    const ifName = sel.interface ?? deviceName(sel.name);
    const clash = entry.attachments.find((a) => a.ifName === ifName);
    if (clash) throw new CniError(Code.InvalidConfig, `hot-plug: attachments "${clash.name}" and "${key}" would both use device "${ifName}"`);
    const att: Attachment = { ...decorate(resolved!, ref, {}), ifName, cluster: false };
    requireInstalled(ctx, [att]); // before any MAC is taken: not installed, or macmux itself

    const ledger = ledgerOn(ctx);
    let inCache = false;
    if (ledger) {
      const assigned = await assignMacs(ctx, api, pod, [...entry.attachments, att], [att]);
      tally.add(assigned.counts);
      if (assigned.error) throw assigned.error;
      // Until the attachment is in the cache entry; from then on, the entry's undo releases the MAC.
      s.defer('MAC release', async (failed) => {
        if (failed && !inCache) tally.add(await releaseHeld(ctx, t, [att]));
      });
    }
    entry.attachments.push(att);
    writeCache(conf.cacheDir, entry);
    inCache = true;
    s.defer('cache entry update', async (failed) => {
      if (!failed) return;
      if (s.kept) return log.error(`hot-plug rollback of ${key} incomplete; kept in the cache for DEL`);
      // The MAC first: a release that fails leaves the attachment in the entry, so that the pod's DEL releases it.
      if (ledger) tally.add(await releaseHeld(ctx, t, [att]));
      entry.attachments = entry.attachments.filter((a) => a !== att);
      writeCache(conf.cacheDir, entry);
    });
    await addChain(ctx, s, t, entry, [att]);
    await updateStatus(ctx, api, pod, { add: statusEntries([att]) });
    return att.result!;
  });
}

/** Deletes the one attachment; network-status follows when the API answers (best effort: DEL succeeds without it). */
export async function hotplugDel(ctx: VerbContext, tally: Tally, network: string): Promise<void> {
  const { conf, env, log } = ctx;
  const removed = await withContainerLock(ctx, env.containerID, async () => {
    const cached = readCache(conf.cacheDir, env.containerID);
    if (cached.kind === 'corrupt') {
      // Never "not attached" for an entry that cannot be read: its attachment may well be there.
      const aside = setAside(conf.cacheDir, env.containerID, cached, (m) => log.error(m));
      throw new CniError(Code.IO, `hot-plug DEL of ${network}: the cache entry of container ${env.containerID} was damaged (moved aside to ${aside}), so its attachment is unknown; the pod's DEL rebuilds and deletes every attachment`);
    }
    const entry: CacheEntry | undefined = cached.kind === 'ok' ? cached.entry : undefined;
    const pod = entry?.pod ?? podOf(env);
    const key = target(network, pod?.namespace);
    const att = entry?.attachments.find((a) => a.nad === key && !a.cluster);
    if (!entry || !att) {
      log.info(`hot-plug DEL of ${key}: not attached; nothing to do`);
      return undefined;
    }
    const t = targetOf(ctx, pod);
    const blocking = blockingFailures(await delAll(ctx, t, [att], entry));
    if (blocking.length > 0) throw blocking[0]!.error;
    tally.add(await releaseHeld(ctx, t, [att]));
    entry.attachments = entry.attachments.filter((a) => a !== att);
    writeCache(conf.cacheDir, entry);
    return { key, att, pod };
  });
  if (!removed?.pod) return;
  try {
    const api = await openApi(ctx, { sec: conf.timeBudget.del, from: ctx.started });
    try {
      await updateStatus(ctx, api, removed.pod, { remove: [{ name: removed.key, interface: removed.att.ifName }] });
    } finally {
      api.close();
    }
  } catch (e) {
    log.error(`hot-plug DEL of ${removed.key}: network-status not updated: ${(e as Error).message}`);
  }
}

/**
 * Merges `update` into the pod's network-status: read, merge, patch with the pod's uid and
 * resourceVersion as preconditions, and on a conflict read again; a pod gone or re-created is only logged.
 */
async function updateStatus(ctx: VerbContext, api: KubeApi, pod: PodInfo, update: StatusUpdate): Promise<void> {
  api.renewBudget();
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await api.getPod(pod.namespace, pod.name);
    if (!current || (pod.uid && current.metadata.uid !== pod.uid)) {
      ctx.log.error(`pod ${pod.namespace}/${pod.name} is gone or re-created; network-status not updated`);
      return;
    }
    const value = mergeNetworkStatus(current.metadata.annotations?.[NETWORK_STATUS_ANNOTATION], update);
    const pre = { ...(current.metadata.uid ? { uid: current.metadata.uid } : {}), ...(current.metadata.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {}) };
    const outcome = await api.patchPodAnnotations(pod.namespace, pod.name, { [NETWORK_STATUS_ANNOTATION]: value }, pre);
    if (outcome !== 'conflict') return;
    ctx.log.debug(`network-status of ${pod.namespace}/${pod.name} changed meanwhile; merging again`);
  }
  throw new CniError(Code.TryAgainLater, `network-status of pod ${pod.namespace}/${pod.name} kept changing; gave up after 5 attempts`);
}
