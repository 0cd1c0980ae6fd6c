// What a pod asks for, read from the API (pod, NADs in parallel, device IDs), and the network-status written back.
import { readFileSync } from 'node:fs';
import { CniError, Code } from '../cni/errors';
import { connect, type KubeApi, type Nad, type Pod } from '../k8s/api';
import type { TransportOptions } from '../k8s/http';
import { DEFAULT_NETWORK_ANNOTATION, NETWORKS_ANNOTATION, parseDefaultNetwork, parseNetworks, selectClusterNetwork, type NetworkSelection } from '../annotations/networks';
import { assignDeviceIDs, deviceIDsFor } from '../annotations/checkpoint';
import { NETWORK_STATUS_ANNOTATION } from '../annotations/status';
import { nadNetwork } from '../config/nad';
import { findConfFile } from '../config/confdir';
import type { PodInfo } from '../cni/env';
import type { Attachment } from '../state/attachment';
import { buildPodPlan, nadKey, type ResolvedSelection } from './plan';
import type { Script } from './chain';
import { staticPlan, type Budget, type VerbContext } from './context';
import { checkFileNetwork, checkIsolation } from './isolation';
import { retentionOf } from '../mac/retention';
import { kubeStore } from '../k8s/cmstore';
import type { IndexReads } from '../mac/cluster';
import { ownerOf } from '../mac/holding';
import { indexKey } from '../mac/owners';
import { indexed, isGenerated } from '../mac/generated';

export const RESOURCE_ANNOTATION = 'k8s.v1.cni.cncf.io/resourceName';

/**
 * The API for this verb: its first phase of requests ends `budget.sec` after `budget.from` (the verb's start); later phases get the whole budget.
 * `opts.refusedIsDown` (DEL) gives up at the first refused connection instead of retrying until the budget ends.
 */
export async function openApi(ctx: VerbContext, budget: Budget, opts: TransportOptions = {}): Promise<KubeApi> {
  const budgetMs = budget.sec * 1000;
  return connect(ctx.conf.kubeconfig, ctx.getenv, budgetMs, Math.max(budget.from + budgetMs, Date.now() + 1), (m) => ctx.log.debug(m), opts);
}

/** An API opened ahead of its first request: its credentials read and its connection opened in the background. */
export interface EarlyApi {
  /** The API, its first phase of requests ending as openApi's would if it were called now; rejects as openApi would. */
  take(): Promise<KubeApi>;
  /**
   * Why the API is down, when its server has refused the connection opened ahead already (with
   * refusedIsDown): no request need try it. Never waits: a connection still being made is left to the
   * first request, which its deadline bounds.
   */
  down(): string | undefined;
  /**
   * After down(): opens a fresh connection, as the server may be back (a control-plane restart), and
   * answers why the API is still down when that one is refused too; undefined once it connects (the
   * next request takes it), or when it is still being made as the budget ends (the request judges).
   */
  recheck(): Promise<string | undefined>;
  /** Closes it, whether it opened or not, was taken or not. */
  close(): void;
}

/**
 * openApi, started a turn of the event loop from now (after the caller's next process is spawned), with
 * its first connection opened at once (a DEL's release, while the delegates run). Nothing of it can fail
 * the caller before take(), which reports its failure.
 */
export function openEarly(ctx: VerbContext, budget: Budget, opts: TransportOptions = {}): EarlyApi {
  let closed = false;
  let down: string | undefined;
  const opened = new Promise<void>((r) => setImmediate(r))
    .then(() => openApi(ctx, budget, opts))
    .then((api) => {
      if (closed) api.close();
      else void api.preconnect().then((why) => (down = why), () => undefined);
      return api;
    });
  opened.catch(() => undefined); // take() reports it
  return {
    down: () => down,
    recheck: async () => {
      const api = await opened;
      let timer: NodeJS.Timeout | undefined;
      // A refusal comes within a round trip: at least a little time for it, even with the budget spent.
      const left = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), Math.max(budget.from + budget.sec * 1000 - Date.now(), 50))));
      down = await Promise.race([api.preconnect(), left]);
      clearTimeout(timer);
      return down;
    },
    take: async () => {
      const api = await opened;
      api.renewBudget(Math.max(budget.from + budget.sec * 1000, Date.now() + 1));
      return api;
    },
    close: () => {
      closed = true;
      opened.then((api) => api.close(), () => undefined);
    },
  };
}

/**
 * What ADD reads beside the NADs (the ledger on, and the pod asking for networks; most pods ask only for the
 * cluster network and make no read for the ledger): the namespace's labels and the pod's owner-index object. Each is awaited only where the ledger needs it, so it fails the ADD only there,
 * as the read it replaces would have; one never awaited is never reported.
 */
export interface Early {
  labels: Promise<Record<string, string> | undefined>;
  index: IndexReads;
}

/** ADD's and hot-plug's first steps: the API agent, its close deferred on `s`, and the pod read through it (checked against K8S_POD_UID), with its uid. */
export async function openPod(ctx: VerbContext, s: Script, info: PodInfo): Promise<{ api: KubeApi; podObj: Pod; pod: PodInfo }> {
  const api = await openApi(ctx, { sec: ctx.conf.timeBudget.add, from: ctx.started });
  s.defer('API agent close', () => api.close());
  const podObj = await readPod(api, info);
  const retain = retentionOf(info, podObj.metadata); // a bad macmux.io/mac-retention is code 7, before any MAC is taken
  const generated = isGenerated(podObj.metadata);
  return { api, podObj, pod: { ...info, ...(podObj.metadata.uid ? { uid: podObj.metadata.uid } : {}), ...(retain !== undefined ? { retain } : {}), ...(generated ? { generated } : {}) } };
}

/** A promise whose rejection is reported only to whoever awaits it. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/** Early's reads, started: the namespace's labels, and the pod's owner-index object unless the pod skips the index (see mac/generated.ts). */
export function readEarly(ctx: VerbContext, api: KubeApi, pod: PodInfo): Early {
  const index: IndexReads = new Map();
  readIndex(ctx, api, pod, index);
  return { labels: quiet(api.namespaceLabels(pod.namespace)), index };
}

/**
 * Starts the read of `pod`'s owner-index object unless it is in `reads` already (the anchor's for a pod retained
 * for a VirtualMachineInstance); none for a generated name (never asked for again).
 */
function readIndex(ctx: VerbContext, api: KubeApi, pod: PodInfo, reads: IndexReads): void {
  if (!indexed(pod)) return;
  const { name } = indexKey(ownerOf(pod.namespace, pod.name, ''), pod.retain);
  if (!reads.has(name)) reads.set(name, quiet(kubeStore(api, ctx.conf.macNamespace).get(name)));
}

/** The pod, checked against K8S_POD_UID: a missing or re-created pod is code 3. */
export async function readPod(api: KubeApi, info: PodInfo): Promise<Pod> {
  const pod = await api.getPod(info.namespace, info.name);
  if (!pod) throw new CniError(Code.UnknownContainer, `pod ${info.namespace}/${info.name} not found`);
  if (info.uid && pod.metadata.uid && pod.metadata.uid !== info.uid) {
    throw new CniError(Code.UnknownContainer, `pod ${info.namespace}/${info.name} was re-created: its uid is ${pod.metadata.uid}, this sandbox is for ${info.uid}`);
  }
  return pod;
}

/**
 * The attachments the pod asks for, on top of the config's static plan (the cluster network on `ifName`).
 * `beside` is called when the pod asks for networks, once isolation allows them, as their NADs are fetched.
 */
export async function podPlan(ctx: VerbContext, api: KubeApi, pod: Pod, ifName = ctx.env.ifName, beside?: () => void): Promise<Attachment[]> {
  const ref = { namespace: pod.metadata.namespace ?? ctx.env.args.find(([k]) => k === 'K8S_POD_NAMESPACE')?.[1] ?? 'default', name: pod.metadata.name };
  const annotations = pod.metadata.annotations ?? {};
  const selections = annotations[NETWORKS_ANNOTATION] ? parseNetworks(annotations[NETWORKS_ANNOTATION], ref) : [];
  const dflt = annotations[DEFAULT_NETWORK_ANNOTATION] ? parseDefaultNetwork(annotations[DEFAULT_NETWORK_ANNOTATION], ref) : undefined;
  const { primary, secondaries } = selectClusterNetwork(selections, dflt, ref);
  const wanted = primary ? [primary, ...secondaries] : secondaries;
  checkIsolation(ctx.conf, ref, wanted); // before any NAD is fetched
  if (wanted.length > 0) beside?.();
  const resolved = await resolve(ctx, api, pod, wanted);
  return buildPodPlan(ref, staticPlan(ctx, ifName), primary ? resolved[0] : undefined, primary ? resolved.slice(1) : resolved);
}

/** Fetches every selection's NAD in parallel, loads its network, and assigns device IDs. */
export async function resolve(ctx: VerbContext, api: KubeApi, pod: Pod, wanted: NetworkSelection[], taken: string[] = []): Promise<ResolvedSelection[]> {
  const keys = [...new Set(wanted.map(nadKey))];
  const nads = new Map<string, Nad>();
  await Promise.all(keys.map(async (k) => nads.set(k, await api.getNad(k.split('/')[0]!, k.split('/')[1]!))));

  let checkpoint: string | undefined;
  const requests = wanted.flatMap((s, i) => {
    const resourceName = nads.get(nadKey(s))!.metadata.annotations?.[RESOURCE_ANNOTATION];
    return resourceName ? [{ key: String(i), resourceName }] : [];
  });
  const ids = assignDeviceIDs(requests, (resource) => {
    checkpoint ??= readCheckpoint(ctx.conf.deviceCheckpoint);
    return deviceIDsFor(checkpoint, pod.metadata.uid ?? '', resource, ctx.conf.deviceCheckpoint).filter((id) => !taken.includes(id));
  });
  return wanted.map((selection, i) => {
    const network = nadConfig(ctx, nads.get(nadKey(selection))!, selection);
    const deviceID = ids.get(String(i));
    return { selection, network, ...(deviceID ? { deviceID } : {}) };
  });
}

function nadConfig(ctx: VerbContext, nad: Nad, sel: NetworkSelection) {
  const ref = { namespace: sel.namespace, name: sel.name };
  const raw = nad.spec?.config;
  if (raw !== undefined && raw !== null && typeof raw !== 'string') {
    throw new CniError(Code.InvalidConfig, `NetworkAttachmentDefinition ${nadKey(sel)}: spec.config must be a string holding JSON, not ${Array.isArray(raw) ? 'a list' : typeof raw}`);
  }
  const config = raw?.trim() ?? '';
  if (config) return nadNetwork(ref, config, ctx.conf.cniVersion);
  checkFileNetwork(ctx.conf, ref, ctx.conf.confDir);
  const file = findConfFile(ctx.conf.confDir, sel.name);
  if (!file) {
    throw new CniError(Code.InvalidConfig, `NetworkAttachmentDefinition ${nadKey(sel)}: spec.config is empty and no file in ${ctx.conf.confDir} names network "${sel.name}"`);
  }
  return nadNetwork(ref, file.text, ctx.conf.cniVersion, file.path);
}

function readCheckpoint(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new CniError(Code.InvalidConfig, `device-plugin checkpoint ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * Writes network-status with one merge patch of metadata.annotations, guarded by the pod's uid so
 * that a pod re-created under the same name never gets this sandbox's status. A pod that is gone
 * or re-created is only logged. The patch starts a new API phase: delegate time is not API time.
 */
export async function publishStatus(ctx: VerbContext, api: KubeApi, pod: PodInfo, value: string): Promise<void> {
  api.renewBudget();
  const outcome = await api.patchPodAnnotations(pod.namespace, pod.name, { [NETWORK_STATUS_ANNOTATION]: value }, pod.uid ? { uid: pod.uid } : {});
  if (outcome === 'gone') ctx.log.error(`pod ${pod.namespace}/${pod.name} is gone; network-status not written`);
  if (outcome === 'conflict') ctx.log.error(`pod ${pod.namespace}/${pod.name} was re-created (uid is no longer ${pod.uid}); network-status not written`);
}
