// The well-formed starting points the generators break: a ledger-on macmux config, good NAD configs, a runtime's CNI env.
import type { Frame } from './types';
import { NS, OTHER_NS } from './types';

/** The MAC pool every worker's config names. */
export const RANGE = { rangeStart: '02:fa:00:00:00:00', rangeEnd: '02:fa:00:00:0f:ff', blockSize: 64 };
/** The CNI versions the delegate plugins here (Debian's, up to 1.0.0) speak. */
export const VERSIONS = ['0.3.1', '0.4.0', '1.0.0'] as const;

/** The cluster network: macvlan on the worker's host bridge, as eth0. */
export function clusterDelegate(f: Frame, cniVersion = '1.0.0'): Record<string, unknown> {
  return { name: 'cluster', cniVersion, type: 'macvlan', master: f.master, mode: 'bridge', capabilities: { mac: true } };
}

/** A valid macmux config with the ledger on: ADD with it and the base pod succeeds. */
export function baseConf(f: Frame, cniVersion = '1.0.0'): Record<string, unknown> {
  return {
    cniVersion,
    name: 'macmux',
    type: 'macmux',
    cacheDir: f.cacheDir,
    confDir: f.confDir,
    kubeconfig: f.kubeconfig,
    nodeName: f.nodeName,
    macPool: { ...RANGE },
    // The corpus names NADs of OTHER_NS on purpose; namespace isolation (on by default) is fuzzed with FOREIGN_NS.
    globalNamespaces: [OTHER_NS],
    delegates: [clusterDelegate(f, cniVersion)],
  };
}

/** A valid NAD config: macvlan on `master`. */
export function goodNadConfig(master: string, name: string, cniVersion = '1.0.0'): Record<string, unknown> {
  return { cniVersion, name, type: 'macvlan', master, mode: 'bridge', capabilities: { mac: true } };
}

/** CNI_ARGS as kubelet's runtimes send them. */
export function podArgs(name: string, uid: string, containerID: string, namespace = NS): string {
  return `IgnoreUnknown=1;K8S_POD_NAMESPACE=${namespace};K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=${containerID};K8S_POD_UID=${uid}`;
}

/** The CNI variables of an ADD for the base pod; a case's container ID is unique to it. */
export function cniEnv(f: Frame, containerID: string, args = podArgs(f.basePod.name, f.basePod.uid, containerID)): Record<string, string | undefined> {
  return { CNI_CONTAINERID: containerID, CNI_NETNS: f.netnsPath, CNI_IFNAME: 'eth0', CNI_PATH: f.cniPath, CNI_ARGS: args };
}

export const containerIdOf = (index: number) => `fz${index}`;

/** The budget of ADD: the config's timeBudget.add when it is a sane number, else the default 10 s. */
export function addBudget(conf: unknown): number {
  const b = (conf as { timeBudget?: { add?: unknown } } | null)?.timeBudget?.add;
  return typeof b === 'number' && b > 0 && b <= 3600 ? b : 10;
}
