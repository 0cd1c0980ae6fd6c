// Parses the pod's network-selection annotations, picks what replaces the cluster network, and names each secondary device (pure).
import { isIP } from 'node:net';
import { isUnicast, parseMac } from '../mac/address';
import { CniError, Code } from '../cni/errors';
import { checkIfName } from '../cni/env';
import { MAX_JSON_DEPTH, nestedDeeperThan } from '../cni/json';
import { CNI_ARGS_KEYS, foldedClash } from '../config/gokeys';
import { deviceName } from '../util/names';
import { jsonSyntaxError } from '../util/parse-errors';
import { registerSecretsIn } from '../util/secrets';

export const NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks';
export const DEFAULT_NETWORK_ANNOTATION = 'v1.multus-cni.io/default-network';

/** The pod the annotations belong to; messages name it as `namespace/name`. */
export interface PodRef {
  namespace: string;
  name: string;
}

/** One network the pod asked for. */
export interface NetworkSelection {
  /** Position in the annotation's list (0 for the default-network annotation). */
  index: number;
  name: string;
  /** The NAD's namespace; defaults to the pod's. */
  namespace: string;
  interface?: string;
  /** As given; validated later by the MAC module. */
  mac?: string;
  isPrimary?: boolean;
  ips?: string[];
  cniArgs?: Record<string, unknown>;
  defaultRoute?: string[];
  portMappings?: unknown[];
  bandwidth?: Record<string, unknown>;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_RULE = 'a DNS-1123 label has at most 63 characters, only lowercase letters, digits and "-", and starts and ends with a letter or digit';

/** True when `s` is a DNS-1123 label. */
export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

type Fail = (msg: string, details?: string) => never;

function failer(pod: PodRef, annotation: string, where?: string): Fail {
  const prefix = `pod ${pod.namespace}/${pod.name}: annotation ${annotation}: ${where ? where + ': ' : ''}`;
  return (msg, details = '') => {
    throw new CniError(Code.InvalidConfig, prefix + msg, details);
  };
}

function checkLabel(value: string, field: 'name' | 'namespace', fail: Fail): void {
  if (!isDns1123Label(value)) fail(`${field} "${value}" is not a valid DNS-1123 label`, DNS1123_RULE);
}

function checkInterface(value: string, fail: Fail): void {
  try {
    checkIfName(value, 'interface');
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  }
  // Every pod has it: a delegate's DEL of an attachment named so would act on the pod's loopback.
  if (value === 'lo') fail('interface "lo" is the pod\'s loopback device');
}

/** Splits `[ns/]name`, checking both parts; `ns` is undefined when not given. */
function splitRef(ref: string, fail: Fail): { namespace?: string; name: string } {
  const parts = ref.split('/');
  if (parts.length > 2) fail(`"${ref}" has more than one "/"`);
  const name = parts[parts.length - 1]!;
  const namespace = parts.length === 2 ? parts[0]! : undefined;
  if (namespace !== undefined) checkLabel(namespace, 'namespace', fail);
  checkLabel(name, 'name', fail);
  return namespace === undefined ? { name } : { namespace, name };
}

/** Parses one `[ns/]name[@ifname]` element of the comma form. */
function parseTextElement(item: string, index: number, pod: PodRef, annotation: string, allowIfName: boolean): NetworkSelection {
  const fail = failer(pod, annotation, annotation === NETWORKS_ANNOTATION ? `element ${index}` : undefined);
  if (item === '') fail('is empty');
  const at = item.indexOf('@');
  const ref = at < 0 ? item : item.slice(0, at);
  const ifName = at < 0 ? undefined : item.slice(at + 1);
  if (ifName !== undefined) {
    if (!allowIfName) fail(`"${item}" may not name an interface: the default network always uses the cluster interface`);
    if (ifName.includes('@')) fail(`"${item}" has more than one "@"`);
    checkInterface(ifName, fail);
  }
  const { namespace, name } = splitRef(ref, fail);
  const sel: NetworkSelection = { index, name, namespace: namespace ?? pod.namespace };
  if (ifName !== undefined) sel.interface = ifName;
  return sel;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A field's value, or undefined when absent or null (as Go's encoding/json treats null). */
function field(obj: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(obj, key) ? (obj[key] ?? undefined) : undefined;
}

function optString(obj: Record<string, unknown>, key: string, fail: Fail): string | undefined {
  const v = field(obj, key);
  if (v !== undefined && typeof v !== 'string') fail(`"${key}" must be a string`);
  // An empty string means "not given", as in multus.
  return v === '' ? undefined : (v as string | undefined);
}

function optStringArray(obj: Record<string, unknown>, key: string, fail: Fail): string[] | undefined {
  const v = field(obj, key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) fail(`"${key}" must be an array of strings`);
  return [...(v as string[])];
}

function optObject(obj: Record<string, unknown>, key: string, fail: Fail): Record<string, unknown> | undefined {
  const v = field(obj, key);
  if (v !== undefined && !isObject(v)) fail(`"${key}" must be an object`);
  return v as Record<string, unknown> | undefined;
}

/** `mac` and kactus's alias `ifMac`; both given and different (ignoring case) is an error. */
function macOf(obj: Record<string, unknown>, fail: Fail): string | undefined {
  const mac = optString(obj, 'mac', fail);
  const ifMac = optString(obj, 'ifMac', fail);
  if (mac !== undefined && ifMac !== undefined && mac.toLowerCase() !== ifMac.toLowerCase()) {
    fail(`"mac" "${mac}" and "ifMac" "${ifMac}" differ; give one of them`);
  }
  const value = mac ?? ifMac;
  if (value !== undefined) {
    const field = mac !== undefined ? 'mac' : 'ifMac';
    const canonical = parseMac(value);
    if (!canonical) fail(`"${field}" "${value}" is not a MAC address of 6 octets (aa:bb:cc:dd:ee:ff)`);
    else if (!isUnicast(canonical)) fail(`"${field}" ${canonical} is a multicast address; an interface MAC must be unicast`);
    else if (canonical === '00:00:00:00:00:00') fail(`"${field}" is the all-zero MAC`);
  }
  return value;
}

/** An IP address with an optional prefix length, as multus accepts in "ips". */
function isIpOrCidr(s: string): boolean {
  const [ip, prefix, ...rest] = s.split('/');
  const family = isIP(ip ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** name (required; `ns/name` accepted) and namespace (must agree with a namespace in name). */
function refOf(obj: Record<string, unknown>, pod: PodRef, fail: Fail): { name: string; namespace: string } {
  const raw = field(obj, 'name');
  if (raw === undefined) fail('"name" is required');
  if (typeof raw !== 'string') fail('"name" must be a string');
  const ref = splitRef(raw as string, fail);
  const ns = optString(obj, 'namespace', fail);
  if (ns !== undefined) checkLabel(ns, 'namespace', fail);
  if (ns !== undefined && ref.namespace !== undefined && ns !== ref.namespace) {
    fail(`"name" "${raw as string}" names namespace "${ref.namespace}" but "namespace" is "${ns}"`);
  }
  return { name: ref.name, namespace: ns ?? ref.namespace ?? pod.namespace };
}

/** Parses one object of the JSON form; unknown fields are ignored. */
function parseJsonElement(el: unknown, index: number, pod: PodRef): NetworkSelection {
  const fail = failer(pod, NETWORKS_ANNOTATION, `element ${index}`);
  if (!isObject(el)) fail('must be a JSON object');
  // Its cni-args and the like go into delegate configs, which must serialize.
  if (nestedDeeperThan(el, MAX_JSON_DEPTH - 1)) fail(`is nested deeper than ${MAX_JSON_DEPTH} levels`);
  const obj = el as Record<string, unknown>;
  const sel: NetworkSelection = { index, ...refOf(obj, pod, fail) };

  const iface = optString(obj, 'interface', fail);
  if (iface !== undefined) {
    checkInterface(iface, fail);
    sel.interface = iface;
  }
  const mac = macOf(obj, fail);
  if (mac !== undefined) sel.mac = mac;

  const isPrimary = field(obj, 'isPrimary');
  if (isPrimary !== undefined) {
    if (typeof isPrimary !== 'boolean') fail('"isPrimary" must be a boolean');
    sel.isPrimary = isPrimary as boolean;
  }
  const ips = optStringArray(obj, 'ips', fail);
  for (const ip of ips ?? []) if (!isIpOrCidr(ip)) fail(`"ips" entry "${ip}" is not an IP address or CIDR`);
  if (ips !== undefined) sel.ips = ips;
  const cniArgs = optObject(obj, 'cni-args', fail);
  if (cniArgs !== undefined) {
    // A Go plugin reads "MAC" or "Mac" as "mac": a requested MAC must be spelled so the ledger sees it.
    const clash = foldedClash(cniArgs, CNI_ARGS_KEYS);
    if (clash) fail(`"cni-args" key ${JSON.stringify(clash.key.slice(0, 40))} is "${clash.name}" spelled differently, which plugins read unchecked; write "${clash.name}"`);
    sel.cniArgs = cniArgs;
  }
  const routes = optStringArray(obj, 'default-route', fail);
  if (routes !== undefined) {
    for (const r of routes) if (isIP(r) === 0) fail(`"default-route" "${r}" is not an IP address`);
    sel.defaultRoute = routes;
  }
  const ports = field(obj, 'portMappings');
  if (ports !== undefined) {
    if (!Array.isArray(ports) || !ports.every(isObject)) fail('"portMappings" must be an array of objects');
    sel.portMappings = [...(ports as unknown[])];
  }
  const bandwidth = optObject(obj, 'bandwidth', fail);
  if (bandwidth !== undefined) sel.bandwidth = bandwidth;
  return sel;
}

function parseJsonText(text: string, pod: PodRef, annotation: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    return failer(pod, annotation)(`is not valid JSON: ${jsonSyntaxError(e, text)}`);
  }
}

/** The longest annotation value macmux parses: Kubernetes caps all of a pod's annotations together at 256 KiB. */
export const MAX_ANNOTATION_BYTES = 256 * 1024;

/** Code 7 when `value` is longer than MAX_ANNOTATION_BYTES, before it is parsed. */
function checkLength(value: string, pod: PodRef, annotation: string): void {
  // Characters bound bytes from below: only a value that might be too long is encoded.
  if (value.length > MAX_ANNOTATION_BYTES / 3 && Buffer.byteLength(value) > MAX_ANNOTATION_BYTES) {
    failer(pod, annotation)(`is ${Buffer.byteLength(value)} bytes long; macmux reads at most ${MAX_ANNOTATION_BYTES} bytes (256 KiB)`);
  }
}

/** True when the (trimmed) value is in the JSON form rather than the comma list. */
const looksLikeJson = (v: string): boolean => v.startsWith('[') || v.startsWith('{');

/**
 * Parses `k8s.v1.cni.cncf.io/networks`: the comma list `[ns/]name[@ifname]` or the JSON list.
 * An empty value gives an empty list. Throws code 7 naming the pod, the element and the field.
 */
export function parseNetworks(value: string, pod: PodRef): NetworkSelection[] {
  checkLength(value, pod, NETWORKS_ANNOTATION);
  const v = value.trim();
  if (v === '') return [];
  if (!looksLikeJson(v)) {
    return v.split(',').map((item, i) => parseTextElement(item.trim(), i, pod, NETWORKS_ANNOTATION, true));
  }
  const list = parseJsonText(v, pod, NETWORKS_ANNOTATION);
  registerSecretsIn(list);
  if (!Array.isArray(list)) failer(pod, NETWORKS_ANNOTATION)('must be a JSON list of objects');
  return (list as unknown[]).map((el, i) => parseJsonElement(el, i, pod));
}

/**
 * Parses `v1.multus-cni.io/default-network`: `[ns/]name`, or a JSON object (or a one-element list of
 * one) with name, namespace, mac and ifMac. It may not name an interface: it replaces the cluster
 * network on CNI_IFNAME. Other JSON fields are ignored.
 */
export function parseDefaultNetwork(value: string, pod: PodRef): NetworkSelection {
  checkLength(value, pod, DEFAULT_NETWORK_ANNOTATION);
  const fail = failer(pod, DEFAULT_NETWORK_ANNOTATION);
  const v = value.trim();
  if (v === '') fail('is empty');
  if (!looksLikeJson(v)) {
    if (v.includes(',')) fail(`"${v}" names more than one network`);
    return parseTextElement(v, 0, pod, DEFAULT_NETWORK_ANNOTATION, false);
  }
  let parsed = parseJsonText(v, pod, DEFAULT_NETWORK_ANNOTATION);
  if (Array.isArray(parsed)) {
    if (parsed.length !== 1) fail(`must name exactly one network, not ${parsed.length}`);
    parsed = parsed[0];
  }
  if (!isObject(parsed)) fail('must be a JSON object with "name"');
  const obj = parsed as Record<string, unknown>;
  const sel: NetworkSelection = { index: 0, ...refOf(obj, pod, fail) };
  if (optString(obj, 'interface', fail) !== undefined) {
    fail('"interface" may not be set: the default network always uses the cluster interface');
  }
  const mac = macOf(obj, fail);
  if (mac !== undefined) sel.mac = mac;
  return sel;
}

const label = (s: NetworkSelection): string => `"${s.namespace}/${s.name}"`;

/**
 * Splits the selections into what replaces the cluster network on CNI_IFNAME (the element with
 * isPrimary: true, or the default-network annotation) and the secondaries. More than one
 * replacement is code 7 naming both. A primary's own `interface` is not used: it goes on CNI_IFNAME.
 */
export function selectClusterNetwork(
  selections: NetworkSelection[],
  defaultNetwork: NetworkSelection | undefined,
  pod: PodRef,
): { primary?: NetworkSelection; secondaries: NetworkSelection[] } {
  const prefix = `pod ${pod.namespace}/${pod.name}: `;
  const primaries = selections.filter((s) => s.isPrimary === true);
  if (primaries.length > 1) {
    const [a, b] = primaries as [NetworkSelection, NetworkSelection];
    throw new CniError(
      Code.InvalidConfig,
      `${prefix}annotation ${NETWORKS_ANNOTATION}: elements ${a.index} (${label(a)}) and ${b.index} (${label(b)}) both set "isPrimary"; only one network may replace the cluster network`,
    );
  }
  const [primary] = primaries;
  if (primary && defaultNetwork) {
    throw new CniError(
      Code.InvalidConfig,
      `${prefix}annotation ${NETWORKS_ANNOTATION} element ${primary.index} (${label(primary)}) sets "isPrimary" and annotation ${DEFAULT_NETWORK_ANNOTATION} names ${label(defaultNetwork)}; only one network may replace the cluster network`,
    );
  }
  const secondaries = selections.filter((s) => s.isPrimary !== true);
  const chosen = primary ?? defaultNetwork;
  return chosen ? { primary: chosen, secondaries } : { secondaries };
}

/**
 * The device of each secondary, in order: its explicit `interface`, else `deviceName(NAD name)`.
 * Two secondaries on one device, or a secondary on a reserved device (the cluster ifname), is code 7
 * naming both, so it is caught before any delegate runs.
 */
export function deviceNames(secondaries: NetworkSelection[], reserved: string | readonly string[], pod: PodRef): string[] {
  const prefix = `pod ${pod.namespace}/${pod.name}: annotation ${NETWORKS_ANNOTATION}: `;
  const reservedSet = new Set(typeof reserved === 'string' ? [reserved] : reserved);
  const seen = new Map<string, NetworkSelection>();
  return secondaries.map((s) => {
    const dev = s.interface ?? deviceName(s.name);
    if (reservedSet.has(dev)) {
      throw new CniError(Code.InvalidConfig, `${prefix}element ${s.index} (${label(s)}) would use device "${dev}", which is reserved for the cluster network`);
    }
    const other = seen.get(dev);
    if (other) {
      throw new CniError(Code.InvalidConfig, `${prefix}elements ${other.index} (${label(other)}) and ${s.index} (${label(s)}) would both use device "${dev}"`);
    }
    seen.set(dev, s);
    return dev;
  });
}
