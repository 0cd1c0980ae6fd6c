// Plans a pod's attachments: the cluster network on CNI_IFNAME, then each secondary on its own device (pure).
import { CniError, Code } from '../cni/errors';
import type { Conf, NetworkList } from '../config/load';
import { toNetworkList } from '../config/load';
import { deviceName } from '../util/names';
import type { Result } from '../cni/result';

export interface Attachment {
  /** The attachment's name: its network's name. */
  name: string;
  /** The device inside the pod. */
  ifName: string;
  /** True for the cluster network on CNI_IFNAME, whose result goes to the runtime. */
  cluster: boolean;
  network: NetworkList;
  /** The NetworkAttachmentDefinition as ns/name, for attachments a pod asked for. */
  nad?: string;
  /** The device ID injected into the delegate (from the kubelet device-plugin checkpoint). */
  deviceID?: string;
  /** The MAC the delegate is asked to set, as MAC= in CNI_ARGS, runtimeConfig.mac and args.cni.mac. */
  mac?: string;
  /** The ledger owner (ns/pod/attachment) the MAC is recorded for; set when the ledger assigned or recorded it. */
  macOwner?: string;
  /** Runtime arguments offered to the delegate's plugins, each taking those it declares as capabilities. */
  runtimeConfig?: Record<string, unknown>;
  /** The delegate's result, once ADD succeeded. */
  result?: Result;
}

/**
 * The attachments of the static config. The cluster network is `clusterNetwork` when given, else the
 * delegate with masterPlugin: true, else the first delegate; every other delegate is a secondary.
 */
export function planStatic(conf: Conf, ifName: string, clusterNetwork?: NetworkList): Attachment[] {
  const lists = conf.delegates.map((d, i) => toNetworkList(d, `delegates[${i}]`, conf.cniVersion));
  let clusterIndex = conf.delegates.findIndex((d) => d.masterPlugin === true);
  if (!clusterNetwork && clusterIndex < 0) clusterIndex = 0;
  const cluster = clusterNetwork ?? lists[clusterIndex];
  if (!cluster) throw new CniError(Code.InvalidConfig, 'network config: no cluster network: set clusterNetwork or give a delegate');
  const out: Attachment[] = [{ name: cluster.name, ifName, cluster: true, network: cluster, runtimeConfig: conf.runtimeConfig }];
  lists.forEach((network, i) => {
    if (i !== clusterIndex || clusterNetwork) out.push({ name: network.name, ifName: deviceName(network.name), cluster: false, network });
  });
  checkUnique(out);
  const names = new Set<string>();
  for (const a of out) {
    if (names.has(a.name)) throw new CniError(Code.InvalidConfig, `network config: two networks are named "${a.name}"; each delegate needs its own name`);
    names.add(a.name);
  }
  return out;
}

/** Rejects two attachments that would share a device name, before any delegate runs. */
export function checkUnique(atts: Attachment[]): void {
  const seen = new Map<string, string>();
  for (const a of atts) {
    const other = seen.get(a.ifName);
    if (other !== undefined) {
      throw new CniError(Code.InvalidConfig, `attachments "${other}" and "${a.name}" would both use device "${a.ifName}"`);
    }
    seen.set(a.ifName, a.name);
  }
}
