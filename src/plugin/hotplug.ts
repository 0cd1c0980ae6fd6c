// Hot-plug (K8S_POD_NETWORK=<network>): add or delete one attachment of a running pod, as kactus's pod agent does.
import { CniError, Code } from '../cni/errors';
import type { Result } from '../cni/result';
import { NETWORKS_ANNOTATION, parseNetworks } from '../annotations/networks';
import { mergeNetworkStatus, NETWORK_STATUS_ANNOTATION, type StatusUpdate } from '../annotations/status';
import type { KubeApi } from '../k8s/api';
import { deviceName } from '../util/names';
import { readCache, setAside, writeCache, type CacheEntry, type PodInfo } from '../state/cache';
import { podOf, withContainerLock, type VerbContext } from './context';
import { addAll, requireInstalled } from './add';
import { blockingFailures, delAll, releaseHeld } from './del';
import { ledgerOn } from './ledger-on';
import { openApi, readPod, resolve } from './k8s';
import { decorate, nadKey, statusEntries } from './podplan';
import { checkIsolation } from './isolation';
import type { Attachment } from './plan';

/** `ns/name`, or `name` in the pod's namespace. */
function target(network: string, namespace: string | undefined): string {
  if (network.includes('/') || !namespace) return network;
  return `${namespace}/${network}`;
}

/** Adds the one network the pod's annotation names, on its device; the others are untouched. */
export async function hotplugAdd(ctx: VerbContext, pod: PodInfo, network: string): Promise<Result> {
  const key = target(network, pod.namespace);
  const api = await openApi(ctx, ctx.conf.timeBudget.add);
  try {
    const podObj = await readPod(api, pod);
    ctx.pod = { ...pod, ...(podObj.metadata.uid ? { uid: podObj.metadata.uid } : {}) };
    const ref = { namespace: pod.namespace, name: pod.name };
    const annotation = podObj.metadata.annotations?.[NETWORKS_ANNOTATION] ?? '';
    const sel = (annotation ? parseNetworks(annotation, ref) : []).find((s) => nadKey(s) === key);
    if (!sel) throw new CniError(Code.InvalidConfig, `hot-plug: network ${key} is not in the ${NETWORKS_ANNOTATION} annotation of pod ${pod.namespace}/${pod.name}`);
    if (sel.isPrimary) throw new CniError(Code.InvalidConfig, `hot-plug: network ${key} is the pod's primary network (isPrimary), which cannot be plugged into a running pod`);
    checkIsolation(ctx.conf, ref, [sel]); // before the NAD is fetched

    return await withContainerLock(ctx, ctx.env.containerID, async () => {
      const cached = readCache(ctx.conf.cacheDir, ctx.env.containerID);
      const entry = cached.kind === 'ok' && cached.entry.state === 'added' ? cached.entry : undefined;
      if (!entry) throw new CniError(Code.UnknownContainer, `hot-plug of ${key}: container ${ctx.env.containerID} has no running macmux attachments`);
      const existing = entry.attachments.find((a) => a.nad === key && a.result);
      if (existing) return existing.result!;

      const taken = entry.attachments.flatMap((a) => (a.deviceID ? [a.deviceID] : []));
      const [resolved] = await resolve(ctx, api, podObj, [sel], taken);
      const ifName = sel.interface ?? deviceName(sel.name);
      const clash = entry.attachments.find((a) => a.ifName === ifName);
      if (clash) throw new CniError(Code.InvalidConfig, `hot-plug: attachments "${clash.name}" and "${key}" would both use device "${ifName}"`);
      const att: Attachment = { ...decorate(resolved!, ref, {}), ifName, cluster: false };
      requireInstalled(ctx, [att]); // before any MAC is taken: not installed, or macmux itself

      if (ledgerOn(ctx)) await (await import('./macs')).assignMacs(ctx, api, ctx.pod!, [...entry.attachments, att], [att]); // undo: drop()
      entry.attachments.push(att);
      writeCache(ctx.conf.cacheDir, entry); // undo: drop()
      const drop = async (started: Attachment[]) => {
        const blocking = blockingFailures(await delAll(ctx, started, entry, true));
        if (blocking.length > 0) return ctx.log.error(`hot-plug rollback of ${key} incomplete; kept in the cache for DEL`);
        await releaseHeld(ctx, [att]);
        entry.attachments = entry.attachments.filter((a) => a !== att);
        writeCache(ctx.conf.cacheDir, entry);
      };
      await addAll(ctx, entry, [att], drop, () => updateStatus(ctx, api, ctx.pod!, { add: statusEntries([att]) }));
      return att.result!;
    });
  } finally {
    api.close();
  }
}

/** Deletes the one attachment; network-status follows when the API answers (best effort: DEL succeeds without it). */
export async function hotplugDel(ctx: VerbContext, network: string): Promise<void> {
  const removed = await withContainerLock(ctx, ctx.env.containerID, async () => {
    const cached = readCache(ctx.conf.cacheDir, ctx.env.containerID);
    if (cached.kind === 'corrupt') {
      // Never "not attached" for an entry that cannot be read: its attachment may well be there.
      const aside = setAside(ctx.conf.cacheDir, ctx.env.containerID, cached, (m) => ctx.log.error(m));
      throw new CniError(Code.IO, `hot-plug DEL of ${network}: the cache entry of container ${ctx.env.containerID} was damaged (moved aside to ${aside}), so its attachment is unknown; the pod's DEL rebuilds and deletes every attachment`);
    }
    const entry: CacheEntry | undefined = cached.kind === 'ok' ? cached.entry : undefined;
    const pod = entry?.pod ?? podOf(ctx.env);
    const key = target(network, pod?.namespace);
    const att = entry?.attachments.find((a) => a.nad === key && !a.cluster);
    if (!entry || !att) {
      ctx.log.info(`hot-plug DEL of ${key}: not attached; nothing to do`);
      return undefined;
    }
    if (pod) ctx.pod = pod;
    const blocking = blockingFailures(await delAll(ctx, [att], entry));
    if (blocking.length > 0) throw blocking[0]!.error;
    await releaseHeld(ctx, [att]);
    entry.attachments = entry.attachments.filter((a) => a !== att);
    writeCache(ctx.conf.cacheDir, entry);
    return { key, att, pod };
  });
  if (!removed?.pod) return;
  try {
    const api = await openApi(ctx, ctx.conf.timeBudget.del);
    try {
      await updateStatus(ctx, api, removed.pod, { remove: [{ name: removed.key, interface: removed.att.ifName }] });
    } finally {
      api.close();
    }
  } catch (e) {
    ctx.log.error(`hot-plug DEL of ${removed.key}: network-status not updated: ${(e as Error).message}`);
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
