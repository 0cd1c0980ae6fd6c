// What every verb script receives, and the delegate invocation for one attachment.
import type { CniArgs, CniEnv } from '../cni/env';
import { join } from 'node:path';
import { withLock } from '../util/lock';
import { cacheDirOf } from '../state/cache';
import { formatCniArgs } from '../cni/env';
import type { PodInfo } from '../state/cache';
import { podOf } from '../cni/pod';
export { podOf };
import type { Conf, NetworkList } from '../config/load';
import { loadNetworkFile } from '../config/netfile';
import { searchDirs } from '../delegate/find';
import type { Invocation } from '../delegate/network';
import type { Logger } from '../log';
import type { Attachment } from './plan';
import { planStatic } from './plan';

export interface VerbContext {
  env: CniEnv;
  conf: Conf;
  /** The config exactly as received, for keys macmux does not model (GC's valid-attachments). */
  raw: Record<string, unknown>;
  log: Logger;
  /** Variables delegates inherit, such as PATH. */
  baseEnv: Record<string, string>;
  getenv: (name: string) => string | undefined;
  /** When the verb started (epoch ms); API time budgets count from here. */
  started: number;
  /** The pod, once known (from the API or the cache), for the K8S_* args delegates get. */
  pod?: PodInfo;
  /** What this invocation did to the ledger, added to the node's stats file at the end (metrics). */
  counts: MacCounts;
}

export interface MacCounts {
  /** MACs taken for an owner: from the pool, or requested and recorded. */
  allocations: number;
  /** MACs released in the cluster, or deferred to the next sync. */
  releases: number;
  /** Requested MACs refused because another owner holds them (code 100). */
  conflicts: number;
}

export const noCounts = (): MacCounts => ({ allocations: 0, releases: 0, conflicts: 0 });

/** Runs `fn` holding this container's lock, so that no two invocations change its cache entry at once. */
export async function withContainerLock<T>(ctx: VerbContext, containerID: string, fn: () => Promise<T>, timeoutMs = ctx.conf.lockTimeout * 1000): Promise<T> {
  return withLock(
    { path: join(cacheDirOf(ctx.conf.cacheDir), `.${containerID}.lock`), what: `container ${containerID}`, timeoutMs, onCompromised: (e) => ctx.log.error(`lock on ${containerID} compromised: ${e.message}`) },
    fn,
  );
}

/** Keys of the runtime's CNI_ARGS that secondary delegates get; the rest (IP=, MAC=, ...) are for eth0. */
const POD_ARGS = ['K8S_POD_NAMESPACE', 'K8S_POD_NAME', 'K8S_POD_INFRA_CONTAINER_ID', 'K8S_POD_UID'];

/**
 * CNI_ARGS for `att`'s delegate: the cluster network gets the runtime's args, a secondary only the
 * pod's identity; both get IgnoreUnknown=1 and, when a MAC is assigned, MAC=<mac>; each key once.
 * When the pod is known, identity keys the runtime left out are filled in, as multus does.
 */
export function delegateArgs(env: CniEnv, att: Attachment, pod?: PodInfo): string {
  const base = att.cluster ? env.args : env.args.filter(([k]) => POD_ARGS.includes(k));
  const have = new Set(base.map(([k]) => k));
  const fill: CniArgs = [];
  if (pod) {
    const identity: CniArgs = [['K8S_POD_NAMESPACE', pod.namespace], ['K8S_POD_NAME', pod.name], ['K8S_POD_INFRA_CONTAINER_ID', env.containerID], ['K8S_POD_UID', pod.uid ?? '']];
    for (const [k, v] of identity) if (!have.has(k) && v) fill.push([k, v]);
  }
  return formatCniArgs([...base, ...fill], att.mac ? [['MAC', att.mac]] : []);
}

/** The delegate invocation for `att`: its device, CNI_ARGS and runtimeConfig. */
export function invocationFor(ctx: VerbContext, att: Attachment, netns = ctx.env.netns): Invocation {
  return {
    containerID: ctx.env.containerID,
    netns,
    ifName: att.ifName,
    args: delegateArgs(ctx.env, att, ctx.pod),
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

/** The attachments the config asks for on this invocation's CNI_IFNAME. */
export function staticPlan(ctx: VerbContext): Attachment[] {
  const cluster: NetworkList | undefined = ctx.conf.clusterNetwork
    ? loadNetworkFile(ctx.conf.clusterNetwork, 'clusterNetwork', ctx.conf.cniVersion)
    : undefined;
  return planStatic(ctx.conf, ctx.env.ifName, cluster);
}
