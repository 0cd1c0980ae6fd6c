// Builds and merges the k8s.v1.cni.cncf.io/network-status annotation value in the shape multus writes (pure).
import { redactValue } from '../util/secrets';

export const NETWORK_STATUS_ANNOTATION = 'k8s.v1.cni.cncf.io/network-status';

/** The Device Information Specification version written in "device-info". */
export const DEVICE_INFO_VERSION = '1.1.0';

export interface StatusDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface StatusEntry {
  /** `ns/nad` for a secondary; the cluster network's config name for the cluster network. */
  name: string;
  interface?: string;
  /** Addresses, with or without prefix length; the prefix is dropped. */
  ips: string[];
  mac?: string;
  /** True only for the cluster network. */
  default: boolean;
  dns?: StatusDns;
  /** The device ID handed to the delegate, if any. */
  deviceID?: string;
}

/** PCI address in BDF form with domain, e.g. 0000:00:1f.2. */
const PCI_ADDRESS = /^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i;

export function isPciAddress(id: string): boolean {
  return PCI_ADDRESS.test(id);
}

/** An address without its prefix length: 10.1.2.3/24 → 10.1.2.3, fd00::1/64 → fd00::1. */
export function stripPrefix(ip: string): string {
  const slash = ip.indexOf('/');
  return slash < 0 ? ip : ip.slice(0, slash);
}

/**
 * "device-info" for a device ID. The Device Information Specification 1.1.0 defines the types pci,
 * vdpa, vhost-user and memif only, and a bare device ID carries nothing but a PCI address, so only
 * PCI-looking IDs give device-info.
 */
export function deviceInfo(id: string): Record<string, unknown> | undefined {
  if (!isPciAddress(id)) return undefined;
  return { type: 'pci', version: DEVICE_INFO_VERSION, pci: { 'pci-address': id } };
}

function dnsObject(dns: StatusDns | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!dns) return out;
  if (dns.nameservers?.length) out.nameservers = [...dns.nameservers];
  if (dns.domain) out.domain = dns.domain;
  if (dns.search?.length) out.search = [...dns.search];
  if (dns.options?.length) out.options = [...dns.options];
  return out;
}

/** One entry as multus marshals it: empty fields left out, `default` only when true, `dns` always. */
export function statusObject(e: StatusEntry): Record<string, unknown> {
  const out: Record<string, unknown> = { name: e.name };
  if (e.interface) out.interface = e.interface;
  if (e.ips.length > 0) out.ips = e.ips.map(stripPrefix);
  if (e.mac) out.mac = e.mac;
  if (e.default) out.default = true;
  out.dns = dnsObject(e.dns);
  const info = e.deviceID ? deviceInfo(e.deviceID) : undefined;
  if (info) out['device-info'] = info;
  return out;
}

/** Each element indented by four spaces, joined by "," inside "[...]", as multus writes it; secrets redacted (anyone who may read the pod reads it). */
function render(objects: unknown[]): string {
  return `[${objects.map((o) => JSON.stringify(redactValue(o), null, 4)).join(',')}]`;
}

/** The annotation value for `entries`, in order. */
export function buildNetworkStatus(entries: StatusEntry[]): string {
  return render(entries.map(statusObject));
}

export interface StatusUpdate {
  /** Entries to add; one with the name and interface of an existing entry replaces it in place. */
  add?: StatusEntry[];
  /** Removes every entry with one of these names. */
  removeNames?: string[];
  /** Removes entries by name and interface; without `interface`, every entry of that name. */
  remove?: Array<{ name: string; interface?: string }>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isEntry = (v: unknown): v is Record<string, unknown> & { name: string } => isObject(v) && typeof v.name === 'string';
const ifaceOf = (o: Record<string, unknown>): string => (typeof o.interface === 'string' ? o.interface : '');

/**
 * Applies a hot-plug update to the current annotation value. Entries already there are kept as
 * written (fields macmux does not write survive). A value that is not a JSON list is replaced, and
 * elements that are not objects with a string "name" are dropped, never fatal.
 */
export function mergeNetworkStatus(existingValue: string | undefined, update: StatusUpdate): string {
  let current: Array<Record<string, unknown> & { name: string }> = [];
  if (existingValue !== undefined) {
    try {
      const parsed: unknown = JSON.parse(existingValue);
      if (Array.isArray(parsed)) current = parsed.filter(isEntry);
    } catch {
      // Malformed: start afresh.
    }
  }
  const names = new Set(update.removeNames ?? []);
  const removes = update.remove ?? [];
  current = current.filter(
    (o) => !names.has(o.name) && !removes.some((r) => r.name === o.name && (r.interface === undefined || r.interface === ifaceOf(o))),
  );
  for (const e of update.add ?? []) {
    const obj = statusObject(e);
    const at = current.findIndex((o) => o.name === e.name && ifaceOf(o) === (e.interface ?? ''));
    if (at >= 0) current[at] = obj as Record<string, unknown> & { name: string };
    else current.push(obj as Record<string, unknown> & { name: string });
  }
  return render(current);
}
