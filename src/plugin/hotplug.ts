// Hot-plug (K8S_POD_NETWORK=<network>): add or delete one attachment of a running pod, as kactus's pod agent does.
import { CniError, Code } from '../cni/errors';
import type { Result } from '../cni/result';
import { NETWORKS_ANNOTATION, parseNetworks } from '../annotations/networks';
import { mergeNetworkStatus, NETWORK_STATUS_ANNOTATION } from '../annotations/status';
import { deviceName } from '../util/names';
import { readCache, writeCache, type CacheEntry, type PodInfo } from './cache';
import type { VerbContext } from './context';
import { addAll } from './add';
import { blockingFailures, delAll } from './del';
import { openApi, publishStatus, readPod, resolve } from './k8s';
import { decorate, nadKey, statusEntries } from './podplan';
import type { Attachment } from './plan';

/** `ns/name` or `name` (in the pod's namespace). */
function target(network: string, pod: PodInfo): string {
  return network.includes('/') ? network : `${pod.namespace}/${network}`;
}

function runningEntry(ctx: VerbContext): CacheEntry | undefined {
  const cached = readCache(ctx.conf.cacheDir, ctx.env.containerID);
  return cached.kind === 'ok' && cached.entry.state === 'added' ? cached.entry : undefined;
}

/** Adds the one network the pod's annotation names, on its device; the others are untouched. */
export async function hotplugAdd(ctx: VerbContext, pod: PodInfo, network: string): Promise<Result> {
  const key = target(network, pod);
  const entry = runningEntry(ctx);
  if (!entry) throw new CniError(Code.UnknownContainer, `hot-plug of ${key}: container ${ctx.env.containerID} has no running macmux attachments`);
  const existing = entry.attachments.find((a) => a.nad === key && a.result);
  if (existing) return existing.result!;

  const api = await openApi(ctx, ctx.conf.timeBudget.add);
  try {
    const podObj = await readPod(api, pod);
    const ref = { namespace: pod.namespace, name: pod.name };
    const annotation = podObj.metadata.annotations?.[NETWORKS_ANNOTATION] ?? '';
    const sel = (annotation ? parseNetworks(annotation, ref) : []).find((s) => nadKey(s) === key);
    if (!sel) throw new CniError(Code.InvalidConfig, `hot-plug: network ${key} is not in the ${NETWORKS_ANNOTATION} annotation of pod ${pod.namespace}/${pod.name}`);
    const taken = entry.attachments.flatMap((a) => (a.deviceID ? [a.deviceID] : []));
    const [resolved] = await resolve(ctx, api, podObj, [sel], taken);
    const ifName = sel.interface ?? deviceName(sel.name);
    const clash = entry.attachments.find((a) => a.ifName === ifName);
    if (clash) throw new CniError(Code.InvalidConfig, `hot-plug: attachments "${clash.name}" and "${key}" would both use device "${ifName}"`);
    const att: Attachment = { ...decorate(resolved!, ref, {}), ifName, cluster: false };

    entry.attachments.push(att);
    writeCache(ctx.conf.cacheDir, entry); // undo: drop() below
    const drop = async (started: Attachment[]) => {
      const blocking = blockingFailures(await delAll(ctx, started, entry, true));
      if (blocking.length > 0) return ctx.log.error(`hot-plug rollback of ${key} incomplete; kept in the cache for DEL`);
      entry.attachments = entry.attachments.filter((a) => a !== att);
      writeCache(ctx.conf.cacheDir, entry);
    };
    await addAll(ctx, entry, [att], drop, async () => {
      const status = mergeNetworkStatus(podObj.metadata.annotations?.[NETWORK_STATUS_ANNOTATION], { add: statusEntries([att]) });
      await publishStatus(ctx, api, pod, status);
    });
    return att.result!;
  } finally {
    api.close();
  }
}

/** Deletes the one attachment from the cache's record; network-status is updated when the API answers. */
export async function hotplugDel(ctx: VerbContext, pod: PodInfo, network: string): Promise<void> {
  const key = target(network, pod);
  const cached = readCache(ctx.conf.cacheDir, ctx.env.containerID);
  const entry = cached.kind === 'ok' ? cached.entry : undefined;
  const att = entry?.attachments.find((a) => a.nad === key && !a.cluster);
  if (!entry || !att) {
    ctx.log.info(`hot-plug DEL of ${key}: not attached; nothing to do`);
    return;
  }
  const blocking = blockingFailures(await delAll(ctx, [att], entry));
  if (blocking.length > 0) throw blocking[0]!.error;
  entry.attachments = entry.attachments.filter((a) => a !== att);
  writeCache(ctx.conf.cacheDir, entry);

  try {
    const api = await openApi(ctx, ctx.conf.timeBudget.del);
    try {
      const podObj = await api.getPod(pod.namespace, pod.name);
      if (podObj && (!pod.uid || podObj.metadata.uid === pod.uid)) {
        const status = mergeNetworkStatus(podObj.metadata.annotations?.[NETWORK_STATUS_ANNOTATION], { remove: [{ name: key, interface: att.ifName }] });
        await publishStatus(ctx, api, pod, status);
      }
    } finally {
      api.close();
    }
  } catch (e) {
    ctx.log.error(`hot-plug DEL of ${key}: network-status not updated: ${(e as Error).message}`);
  }
}
