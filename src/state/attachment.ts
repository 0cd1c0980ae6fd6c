// One attachment of a container: its network, device, MAC and, once added, the delegate's result; what the cache keeps.
import type { NetworkList } from '../config/load';
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
