// Plans a container's attachments: the config's static plan, and a pod's from its annotations and NADs; describes them as network-status (pure).
import { CniError, Code } from '../cni/errors';
import { toNetworkList, type Conf, type NetworkList, type PluginConf } from '../config/load';
import { deviceName } from '../util/names';
import type { Attachment } from '../state/attachment';
import { deviceNames, type NetworkSelection, type PodRef } from '../annotations/networks';
import type { StatusEntry } from '../annotations/status';
import type { Result } from '../cni/result';
import { requestedMac } from '../mac/address';

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

/** A selection with its NAD's network and, if the NAD names a device-plugin resource, its device ID. */
export interface ResolvedSelection {
  selection: NetworkSelection;
  network: NetworkList;
  deviceID?: string;
}

export const nadKey = (s: { namespace: string; name: string }) => `${s.namespace}/${s.name}`;

/**
 * The pod's attachments: the cluster network on its ifname (the config's, or the NAD that replaces it),
 * the config's own secondaries, then every secondary the pod asked for on its device. `fixed` is the
 * static plan, cluster network first. Device clashes are rejected before any delegate runs.
 */
export function buildPodPlan(pod: PodRef, fixed: Attachment[], primary: ResolvedSelection | undefined, secondaries: ResolvedSelection[]): Attachment[] {
  const [cluster, ...staticSecondaries] = fixed as [Attachment, ...Attachment[]];
  const clusterAtt: Attachment = primary ? { ...decorate(primary, pod, cluster.runtimeConfig ?? {}), ifName: cluster.ifName, cluster: true } : cluster;
  const devices = deviceNames(secondaries.map((s) => s.selection), [cluster.ifName, ...staticSecondaries.map((a) => a.ifName)], pod);
  const out = [clusterAtt, ...staticSecondaries, ...secondaries.map((s, i) => ({ ...decorate(s, pod, {}), ifName: devices[i]!, cluster: false }))];
  checkUnique(out);
  return out;
}

/**
 * The attachment for one selection: deviceID injected into every plugin (and offered as the
 * deviceID capability), the element's cni-args merged into args.cni, its MAC in args.cni.mac and
 * offered as the mac capability, and its ips, portMappings and bandwidth offered as capabilities.
 */
export function decorate(r: ResolvedSelection, pod: PodRef, base: Record<string, unknown>): Omit<Attachment, 'ifName' | 'cluster'> {
  const sel = r.selection;
  // A requested MAC: the pod's (mac/ifMac, else a mac in its cni-args) wins over one the NAD's own config gives
  // (a plugin's mac, else its args.cni.mac). Each is a requested MAC the ledger checks, never one passed on unseen.
  const podWhere = `pod ${pod.namespace}/${pod.name}: network ${nadKey(sel)}`;
  const argsMac = macString(sel.cniArgs?.mac);
  const nadMac = r.network.plugins.map((p) => macString(p.mac) ?? macString(((p.args as { cni?: { mac?: unknown } } | undefined)?.cni)?.mac)).find((m) => m !== undefined);
  const mac =
    sel.mac !== undefined ? requestedMac(sel.mac, `${podWhere}: mac`)
    : argsMac !== undefined ? requestedMac(argsMac, `${podWhere}: cni-args.mac`)
    : nadMac !== undefined ? requestedMac(nadMac, `NetworkAttachmentDefinition ${nadKey(sel)}: mac`)
    : undefined;
  const cniArgs: Record<string, unknown> = { ...(sel.cniArgs ?? {}), ...(mac ? { mac } : {}) };
  const plugins = r.network.plugins.map((p): PluginConf => {
    const args = (p.args ?? {}) as Record<string, unknown>;
    const merged = Object.keys(cniArgs).length ? { ...p, args: { ...args, cni: { ...((args.cni ?? {}) as Record<string, unknown>), ...cniArgs } } } : { ...p };
    return r.deviceID ? { ...merged, deviceID: r.deviceID } : merged;
  });
  const runtimeConfig: Record<string, unknown> = {
    ...base,
    ...(mac ? { mac } : {}),
    ...(sel.ips ? { ips: sel.ips } : {}),
    ...(sel.portMappings ? { portMappings: sel.portMappings } : {}),
    ...(sel.bandwidth ? { bandwidth: sel.bandwidth } : {}),
    ...(r.deviceID ? { deviceID: r.deviceID } : {}),
  };
  return {
    name: nadKey(sel),
    nad: nadKey(sel),
    network: { ...r.network, plugins },
    ...(r.deviceID ? { deviceID: r.deviceID } : {}),
    ...(mac ? { mac } : {}),
    ...(Object.keys(runtimeConfig).length ? { runtimeConfig } : {}),
  };
}

/** A MAC-like field's value when it is a non-empty string (anything else is the plugin's to refuse). */
const macString = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Sets a MAC the ledger assigned: MAC= (via att.mac), args.cni.mac in every plugin, and the mac capability. */
export function injectMac(att: Attachment, mac: string): void {
  att.mac = mac;
  att.network = {
    ...att.network,
    plugins: att.network.plugins.map((p) => {
      const args = (p.args ?? {}) as Record<string, unknown>;
      return { ...p, args: { ...args, cni: { ...((args.cni ?? {}) as Record<string, unknown>), mac } } };
    }),
  };
  att.runtimeConfig = { ...(att.runtimeConfig ?? {}), mac };
}

/** network-status entries for added attachments: ns/nad (or the network's name for eth0), ips and MAC of its device. */
export function statusEntries(atts: Attachment[]): StatusEntry[] {
  return atts.filter((a) => a.result).map((a) => statusEntry(a, a.result!));
}

export function statusEntry(a: Attachment, res: Result): StatusEntry {
  // The device inside the sandbox, else any interface of that name (some plugins omit sandbox).
  const inSandbox = res.interfaces.findIndex((i) => i.name === a.ifName && i.sandbox);
  const idx = inSandbox >= 0 ? inSandbox : res.interfaces.findIndex((i) => i.name === a.ifName);
  const iface = res.interfaces[idx];
  const ips = res.ips.filter((ip) => ip.interface === undefined || idx < 0 || ip.interface === idx).map((ip) => ip.address);
  return {
    name: a.cluster && !a.nad ? a.network.name : a.name,
    interface: a.ifName,
    ips,
    ...(iface?.mac ? { mac: iface.mac } : a.mac ? { mac: a.mac } : {}),
    default: a.cluster,
    dns: res.dns,
    ...(a.deviceID ? { deviceID: a.deviceID } : {}),
  };
}
