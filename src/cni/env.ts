// The CNI environment: which variables each verb needs, parsing of CNI_ARGS, and the pod they name (pure).
import { CniError, Code, quote } from './errors';
import { isSecretKey, registerSecret } from '../util/secrets';

export type Getenv = (name: string) => string | undefined;

export const VERBS = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'] as const;
export type Verb = (typeof VERBS)[number];

/** Variables that must be set for each verb (CNI_PATH is checked where a delegate is looked up). */
export const REQUIRED_ENV: Record<Verb, readonly string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME'],
  GC: [],
  STATUS: [],
  VERSION: [],
};

export interface CniEnv {
  command: Verb;
  containerID: string;
  netns: string;
  ifName: string;
  /** Directories from CNI_PATH, in order; empty when unset. */
  path: string[];
  args: CniArgs;
  /** The raw CNI_ARGS string as received. */
  rawArgs: string;
}

/** CNI_ARGS as ordered key/value pairs; keys are case-sensitive and kept once. */
export type CniArgs = Array<[string, string]>;

const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** Runtimes use 64 hex digits; the cap keeps the cache file name within filesystem limits. */
export const MAX_CONTAINER_ID = 200;
const IFNAME_BAD = /[/\s:]/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Pod UIDs are UUIDs (kubelet's static pods: 32 hex digits). */
const POD_UID = /^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/;

/** The verb in CNI_COMMAND, matched exactly as the spec spells it; code 4 otherwise. */
export function readCommand(getenv: Getenv): Verb {
  const raw = getenv('CNI_COMMAND') ?? '';
  if (!(VERBS as readonly string[]).includes(raw)) {
    throw new CniError(Code.InvalidEnv, `unknown CNI_COMMAND "${raw}"`, `expected one of ${VERBS.join(', ')}`);
  }
  return raw as Verb;
}

/**
 * Reads and checks the environment for the verb; throws code 4 naming every missing variable.
 * DEL must clean up whatever it is given, so a malformed CNI_ARGS is read leniently there.
 */
export function readEnv(getenv: Getenv): CniEnv {
  const command = readCommand(getenv);
  const missing = REQUIRED_ENV[command].filter((k) => !getenv(k));
  if (missing.length > 0) {
    throw new CniError(Code.InvalidEnv, `missing environment variable${missing.length > 1 ? 's' : ''} for ${command}: ${missing.join(', ')}`);
  }
  const containerID = getenv('CNI_CONTAINERID') ?? '';
  if (containerID.length > MAX_CONTAINER_ID) {
    throw new CniError(Code.InvalidEnv, `CNI_CONTAINERID is ${containerID.length} characters long; at most ${MAX_CONTAINER_ID} are accepted`);
  }
  if (containerID && !CONTAINER_ID.test(containerID)) {
    throw new CniError(Code.InvalidEnv, `CNI_CONTAINERID "${containerID}" is invalid: it must start with a letter or digit and hold only letters, digits, "_", "." and "-"`);
  }
  const ifName = getenv('CNI_IFNAME') ?? '';
  if (ifName) checkIfName(ifName, 'CNI_IFNAME', Code.InvalidEnv);
  const netns = getenv('CNI_NETNS') ?? '';
  if ((command === 'ADD' || command === 'CHECK') && !netns.startsWith('/')) {
    throw new CniError(Code.InvalidEnv, `CNI_NETNS ${quote(netns)} is not an absolute path`);
  }
  const rawArgs = getenv('CNI_ARGS') ?? '';
  const args = command === 'DEL' ? parseCniArgsLenient(rawArgs) : parseCniArgs(rawArgs);
  // Before any check quotes a value: `API_TOKEN=...` is a secret wherever it is printed.
  for (const [k, v] of args) if (isSecretKey(k)) registerSecret(v);
  return {
    command,
    containerID,
    netns,
    ifName,
    path: (getenv('CNI_PATH') ?? '').split(':').filter((d) => d.length > 0),
    args: command === 'DEL' ? args : checkCniArgs(args),
    rawArgs,
  };
}

/**
 * What ADD, CHECK, GC and STATUS accept beyond KEY=VALUE (code 4): a key given twice must keep its
 * value, and the pod identity must be one Kubernetes can hold: K8S_POD_NAMESPACE a DNS-1123 label,
 * and with it K8S_POD_NAME a DNS-1123 subdomain and K8S_POD_UID a UID. Without K8S_POD_NAMESPACE (podman)
 * the name does not name a Kubernetes pod and is not checked.
 */
export function checkCniArgs(args: CniArgs): CniArgs {
  const seen = new Map<string, string>();
  for (const [k, v] of args) {
    const before = seen.get(k);
    if (before !== undefined && before !== v) throw new CniError(Code.InvalidEnv, `CNI_ARGS: ${k} is given twice with different values (${quote(before)} and ${quote(v)})`);
    seen.set(k, v);
  }
  const namespace = seen.get('K8S_POD_NAMESPACE');
  const bad = (key: string, why: string) => new CniError(Code.InvalidEnv, `CNI_ARGS: ${key} ${quote(seen.get(key)!)} ${why}`);
  if (namespace === undefined) return args;
  if (namespace.length > 63 || !DNS1123_LABEL.test(namespace)) throw bad('K8S_POD_NAMESPACE', 'is not a namespace name (a DNS-1123 label: at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit)');
  const name = seen.get('K8S_POD_NAME');
  if (name !== undefined && (name.length > 253 || !DNS1123_SUBDOMAIN.test(name))) {
    throw bad('K8S_POD_NAME', 'is not a pod name (a DNS-1123 subdomain: at most 253 lowercase letters, digits, "-" and ".")');
  }
  const uid = seen.get('K8S_POD_UID');
  if (uid !== undefined && !POD_UID.test(uid)) throw bad('K8S_POD_UID', 'is not a pod UID (letters, digits and "-", at most 128)');
  return args;
}

/** Linux interface name rules: 1-15 bytes, not "." or "..", no "/", ":" or whitespace. */
export function checkIfName(name: string, field: string, code: number = Code.InvalidConfig): void {
  const why =
    name.length === 0 ? 'is empty'
    : Buffer.byteLength(name) > 15 ? 'is longer than 15 characters'
    : name === '.' || name === '..' ? 'may not be "." or ".."'
    : IFNAME_BAD.test(name) ? 'may not contain "/", ":" or whitespace'
    : '';
  if (why) throw new CniError(code, `${field} "${name}" ${why}`);
}

/** Parses `K1=V1;K2=V2`; throws code 4 naming the malformed pair. */
export function parseCniArgs(raw: string): CniArgs {
  const out: CniArgs = [];
  if (!raw) return out;
  for (const [i, pair] of raw.split(';').entries()) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      throw new CniError(Code.InvalidEnv, `CNI_ARGS: element ${i} ${quote(pair)} is not KEY=VALUE`);
    }
    out.push([pair.slice(0, eq), pair.slice(eq + 1)]);
  }
  return out;
}

/** Like parseCniArgs, but drops malformed pairs instead of failing. */
export function parseCniArgsLenient(raw: string): CniArgs {
  return raw.split(';').flatMap((pair): CniArgs => {
    const eq = pair.indexOf('=');
    return eq > 0 ? [[pair.slice(0, eq), pair.slice(eq + 1)]] : [];
  });
}

/** The last value given for `key`, if any. */
export function argValue(args: CniArgs, key: string): string | undefined {
  let v: string | undefined;
  for (const [k, val] of args) if (k === key) v = val;
  return v;
}

/** Renders args with IgnoreUnknown=1 first, then `overrides`, each key exactly once. */
export function formatCniArgs(args: CniArgs, overrides: CniArgs = []): string {
  const merged = new Map<string, string>([['IgnoreUnknown', '1']]);
  for (const [k, v] of args) if (k !== 'IgnoreUnknown') merged.set(k, v);
  for (const [k, v] of overrides) merged.set(k, v);
  return [...merged].map(([k, v]) => `${k}=${v}`).join(';');
}

export interface PodInfo {
  namespace: string;
  name: string;
  uid?: string;
  /** Read from the pod: its retention anchor (`Kind/name`) when it asks to keep its MACs while that owner exists. */
  retain?: string;
  /**
   * Read from the pod: its name was generated by the API server (metadata.generateName), so no pod is ever
   * re-created under it and its MACs skip the owner index (cached: the DEL writes none). Absent in an entry of an earlier release.
   */
  generated?: boolean;
}

/** The pod named by K8S_POD_NAMESPACE and K8S_POD_NAME in CNI_ARGS, if both are there. */
export function podOf(env: CniEnv): PodInfo | undefined {
  const namespace = argValue(env.args, 'K8S_POD_NAMESPACE');
  const name = argValue(env.args, 'K8S_POD_NAME');
  if (!namespace || !name) return undefined;
  const uid = argValue(env.args, 'K8S_POD_UID');
  return { namespace, name, ...(uid ? { uid } : {}) };
}
