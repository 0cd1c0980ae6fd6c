// What every verb script receives (read-only), the container it works on, and the delegate invocation for one attachment.
import { formatCniArgs, podOf, type CniArgs, type CniEnv, type PodInfo } from '../cni/env';
import { join } from 'node:path';
import { takeLock, withLock } from '../util/lock';
import { cacheDirOf } from '../state/cache';
import type { Conf, NetworkList } from '../config/load';
import { loadNetworkFile } from '../config/netfile';
import { searchDirs } from '../delegate/find';
import type { Invocation } from '../delegate/network';
import type { Logger } from '../log';
import type { Attachment } from '../state/attachment';
import { planStatic } from './plan';

/** What every verb script receives: read-only. The pod, the plan and the counts are values the verbs pass and return. */
export interface VerbContext {
  readonly env: Readonly<CniEnv>;
  readonly conf: Readonly<Conf>;
  /** The config exactly as received, for keys macmux does not model (GC's valid-attachments). */
  readonly raw: Readonly<Record<string, unknown>>;
  readonly log: Logger;
  /** Variables delegates inherit, such as PATH. */
  readonly baseEnv: Readonly<Record<string, string>>;
  readonly getenv: (name: string) => string | undefined;
  /** When the verb started (epoch ms); API time budgets count from here. */
  readonly started: number;
}

/** Whether the MAC ledger is on: the config gives a macPool. */
export const ledgerOn = (ctx: VerbContext) => ctx.conf.macPool !== undefined;

/** An API time budget: the first phase of requests ends `sec` seconds after `from` (epoch ms). */
export interface Budget {
  sec: number;
  from: number;
}

/**
 * The container a verb works on: the runtime's (CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME), or a stale
 * one GC deletes; its pod once known (from the API or the cache), for the K8S_* args delegates get;
 * and the API budget of its DEL-side work (MAC releases, a rebuilt plan).
 */
export interface Target {
  readonly containerID: string;
  readonly netns: string;
  readonly ifName: string;
  readonly pod?: PodInfo;
  readonly budget: Budget;
}

/** The runtime's container, with `pod` when known. */
export function targetOf(ctx: VerbContext, pod?: PodInfo): Target {
  return { containerID: ctx.env.containerID, netns: ctx.env.netns, ifName: ctx.env.ifName, ...(pod ? { pod } : {}), budget: { sec: ctx.conf.timeBudget.del, from: ctx.started } };
}

/** `t` with its pod known. */
export const withPod = (t: Target, pod: PodInfo | undefined): Target => (pod ? { ...t, pod } : t);

/** The container's lock, taken: no two invocations change its cache entry at once. Returns the release. */
export function lockContainer(ctx: VerbContext, containerID: string, timeoutMs = ctx.conf.lockTimeout * 1000): Promise<() => Promise<void>> {
  return takeLock(lockOptions(ctx, containerID, timeoutMs));
}

/** Runs `fn` holding this container's lock, so that no two invocations change its cache entry at once. */
export async function withContainerLock<T>(ctx: VerbContext, containerID: string, fn: () => Promise<T>, timeoutMs = ctx.conf.lockTimeout * 1000): Promise<T> {
  return withLock(lockOptions(ctx, containerID, timeoutMs), fn);
}

function lockOptions(ctx: VerbContext, containerID: string, timeoutMs: number) {
  return { path: join(cacheDirOf(ctx.conf.cacheDir), `.${containerID}.lock`), what: `container ${containerID}`, phase: 'container', timeoutMs, onCompromised: (e: Error) => ctx.log.error(`lock on ${containerID} compromised: ${e.message}`) };
}

/** Keys of the runtime's CNI_ARGS that secondary delegates get; the rest (IP=, MAC=, ...) are for eth0. */
const POD_ARGS = ['K8S_POD_NAMESPACE', 'K8S_POD_NAME', 'K8S_POD_INFRA_CONTAINER_ID', 'K8S_POD_UID'];

/**
 * CNI_ARGS for `att`'s delegate: the cluster network gets the runtime's args, a secondary only the
 * pod's identity; both get IgnoreUnknown=1 and, when a MAC is assigned, MAC=<mac>; each key once.
 * When the pod is known, identity keys the runtime left out are filled in, as multus does.
 */
export function delegateArgs(env: Pick<CniEnv, 'args' | 'containerID'>, att: Attachment, pod?: PodInfo): string {
  const base = att.cluster ? env.args : env.args.filter(([k]) => POD_ARGS.includes(k));
  const have = new Set(base.map(([k]) => k));
  const fill: CniArgs = [];
  if (pod) {
    const identity: CniArgs = [['K8S_POD_NAMESPACE', pod.namespace], ['K8S_POD_NAME', pod.name], ['K8S_POD_INFRA_CONTAINER_ID', env.containerID], ['K8S_POD_UID', pod.uid ?? '']];
    for (const [k, v] of identity) if (!have.has(k) && v) fill.push([k, v]);
  }
  return formatCniArgs([...base, ...fill], att.mac ? [['MAC', att.mac]] : []);
}

/** The delegate invocation for `att` of container `t`: its device, CNI_ARGS and runtimeConfig. */
export function invocationFor(ctx: VerbContext, t: Target, att: Attachment): Invocation {
  return {
    containerID: t.containerID,
    netns: t.netns,
    ifName: att.ifName,
    args: delegateArgs({ args: ctx.env.args, containerID: t.containerID }, att, t.pod),
    dirs: searchDirs(ctx.conf.binDir, ctx.env.path),
    timeoutMs: ctx.conf.delegateTimeout * 1000,
    baseEnv: ctx.baseEnv,
    warn: (msg) => ctx.log.error(msg),
    ...(att.runtimeConfig ? { runtimeConfig: att.runtimeConfig } : {}),
  };
}

/** The pod, when this invocation is for a Kubernetes pod and the API is configured (a kubeconfig or in-cluster env). */
export function k8sPod(ctx: VerbContext): PodInfo | undefined {
  const pod = podOf(ctx.env);
  if (!pod) return undefined;
  if (!ctx.conf.kubeconfig && !ctx.getenv('KUBERNETES_SERVICE_HOST')) {
    ctx.log.debug('no kubeconfig and not in a cluster: pod annotations are not read');
    return undefined;
  }
  return pod;
}

/** The attachments the config asks for on `ifName` (this invocation's CNI_IFNAME unless given). */
export function staticPlan(ctx: VerbContext, ifName = ctx.env.ifName): Attachment[] {
  const cluster: NetworkList | undefined = ctx.conf.clusterNetwork
    ? loadNetworkFile(ctx.conf.clusterNetwork, 'clusterNetwork', ctx.conf.cniVersion)
    : undefined;
  return planStatic(ctx.conf, ifName, cluster);
}
