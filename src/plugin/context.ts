// What every verb script receives, and the delegate invocation for one attachment.
import type { CniEnv } from '../cni/env';
import { argValue, formatCniArgs } from '../cni/env';
import type { PodInfo } from './cache';
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
}

/** The delegate invocation for `att`: its device, CNI_ARGS and, for the cluster network, runtimeConfig. */
export function invocationFor(ctx: VerbContext, att: Attachment, netns = ctx.env.netns): Invocation {
  return {
    containerID: ctx.env.containerID,
    netns,
    ifName: att.ifName,
    args: formatCniArgs(ctx.env.args),
    dirs: searchDirs(ctx.conf.binDir, ctx.env.path),
    timeoutMs: ctx.conf.delegateTimeout * 1000,
    baseEnv: ctx.baseEnv,
    warn: (msg) => ctx.log.error(msg),
    ...(att.cluster ? { runtimeConfig: ctx.conf.runtimeConfig } : {}),
  };
}

/** The pod named by K8S_POD_NAMESPACE and K8S_POD_NAME in CNI_ARGS, if both are there. */
export function podOf(env: CniEnv): PodInfo | undefined {
  const namespace = argValue(env.args, 'K8S_POD_NAMESPACE');
  const name = argValue(env.args, 'K8S_POD_NAME');
  if (!namespace || !name) return undefined;
  const uid = argValue(env.args, 'K8S_POD_UID');
  return { namespace, name, ...(uid ? { uid } : {}) };
}

/** The attachments the config asks for on this invocation's CNI_IFNAME. */
export function staticPlan(ctx: VerbContext): Attachment[] {
  const cluster: NetworkList | undefined = ctx.conf.clusterNetwork
    ? loadNetworkFile(ctx.conf.clusterNetwork, 'clusterNetwork', ctx.conf.cniVersion)
    : undefined;
  return planStatic(ctx.conf, ctx.env.ifName, cluster);
}
