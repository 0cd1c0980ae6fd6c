// Parses and validates macmux's config with the schema's validators, reporting every bad field by path.
import type { ErrorObject, ValidateFunction } from 'ajv';
import { CniError, Code } from '../cni/errors';
import { requireSupported } from '../cni/versions';
export { parseJson } from '../cni/json';
import { MAX_ITEMS } from './schema';
import { validator } from './validators';
import { DEFAULT_BLOCK_SIZE, parseRange, poolSize, rangeText } from '../mac/range';
import type { RequestedMacs } from '../mac/requested';

export type PluginConf = Record<string, unknown> & { type: string };

/** A delegate network normalized to a list, as libcni loads a conflist. */
export interface NetworkList {
  name: string;
  cniVersion: string;
  plugins: PluginConf[];
  disableCheck?: boolean;
  disableGC?: boolean;
}

export interface Conf {
  cniVersion: string;
  name: string;
  type: string;
  kubeconfig?: string;
  delegates: Array<Record<string, unknown>>;
  clusterNetwork?: string;
  binDir?: string;
  cacheDir: string;
  logLevel?: number;
  logFile?: string;
  delegateTimeout: number;
  /** Seconds to wait for another invocation on the same container. */
  lockTimeout: number;
  /** Where NADs with an empty spec.config find their file. */
  confDir: string;
  deviceCheckpoint: string;
  /** Seconds each verb may spend on the Kubernetes API. */
  timeBudget: Record<'add' | 'del' | 'check' | 'gc' | 'status', number>;
  /** The MAC ledger is on when this is set: the range used when the pool ConfigMap does not exist yet. */
  macPool?: { rangeStart: string; rangeEnd: string; blockSize?: number };
  /** The namespace of the ledger ConfigMaps, default kube-system. */
  macNamespace: string;
  /** Seconds a released MAC stays its owner's, default 600. */
  macGracePeriod: number;
  /** opt-out: namespaces get pool MACs unless labelled ignore; opt-in: only those labelled allocate. */
  macAssignment: 'opt-out' | 'opt-in';
  /** Which MACs pods may request: any (default), only inside the pool range, or none; a namespace labelled macmux.io/requested-macs: any may request any. */
  requestedMacs: RequestedMacs;
  /** A pod may use NADs only of its own namespace and of globalNamespaces (default true); false lets it name any. */
  namespaceIsolation: boolean;
  /** Namespaces whose NADs every pod may use under namespaceIsolation (default none). */
  globalNamespaces: string[];
  nodeName?: string;
  capabilities?: Record<string, boolean>;
  runtimeConfig: Record<string, unknown>;
}

export const DEFAULT_CACHE_DIR = '/var/lib/macmux';
export const DEFAULT_DELEGATE_TIMEOUT = 60;
export const DEFAULT_CONF_DIR = '/etc/cni/net.d';
export const DEFAULT_LOCK_TIMEOUT = 30;
export const DEFAULT_CHECKPOINT = '/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint';
export const DEFAULT_TIME_BUDGET = { add: 10, del: 10, check: 10, gc: 30, status: 3 };

/** Validates macmux's config (code 7 with every bad path, code 1 for a bad version) and fills defaults. */
export function loadConf(raw: Record<string, unknown>): Conf {
  checkSizes(raw, 'network config');
  check(validator('conf'), raw, 'network config');
  requireSupported(raw.cniVersion as string, 'network config');
  const delegates = (raw.delegates as Array<Record<string, unknown>> | undefined) ?? [];
  if (delegates.filter((d) => d.masterPlugin === true).length > 1) {
    throw new CniError(Code.InvalidConfig, 'network config: at most one delegate may have masterPlugin: true');
  }
  if (raw.clusterNetwork && delegates.some((d) => d.masterPlugin === true)) {
    throw new CniError(Code.InvalidConfig, 'network config: clusterNetwork and a delegate with masterPlugin: true are exclusive');
  }
  if (raw.macPool) checkPool(raw.macPool as NonNullable<Conf['macPool']>);
  // Requested MACs are checked by the ledger: without one nothing would enforce the setting.
  if (raw.requestedMacs !== undefined && raw.requestedMacs !== 'any' && !raw.macPool) {
    throw new CniError(Code.InvalidConfig, `network config: requestedMacs: ${String(raw.requestedMacs)} needs macPool (the MAC ledger checks requested MACs)`);
  }
  return {
    ...(raw as unknown as Conf),
    delegates,
    cacheDir: (raw.cacheDir as string | undefined) ?? DEFAULT_CACHE_DIR,
    delegateTimeout: (raw.delegateTimeout as number | undefined) ?? DEFAULT_DELEGATE_TIMEOUT,
    confDir: (raw.confDir as string | undefined) ?? DEFAULT_CONF_DIR,
    macNamespace: (raw.macNamespace as string | undefined) ?? 'kube-system',
    macGracePeriod: (raw.macGracePeriod as number | undefined) ?? 600,
    macAssignment: (raw.macAssignment as Conf['macAssignment'] | undefined) ?? 'opt-out',
    requestedMacs: (raw.requestedMacs as RequestedMacs | undefined) ?? 'any',
    namespaceIsolation: (raw.namespaceIsolation as boolean | undefined) ?? true,
    globalNamespaces: (raw.globalNamespaces as string[] | undefined) ?? [],
    lockTimeout: (raw.lockTimeout as number | undefined) ?? DEFAULT_LOCK_TIMEOUT,
    deviceCheckpoint: (raw.deviceCheckpoint as string | undefined) ?? DEFAULT_CHECKPOINT,
    timeBudget: { ...DEFAULT_TIME_BUDGET, ...(raw.timeBudget as Partial<Conf['timeBudget']> | undefined) },
    runtimeConfig: (raw.runtimeConfig as Record<string, unknown> | undefined) ?? {},
  };
}

/**
 * Normalizes one delegate network (a config or a conflist) into a list; `what` names it in errors.
 * Plugins inherit the network's name and cniVersion, which default to `fallbackVersion`.
 */
export function toNetworkList(raw: Record<string, unknown>, what: string, fallbackVersion: string): NetworkList {
  checkSizes(raw, what);
  check(validator('network'), raw, what);
  const cniVersion = (raw.cniVersion as string | undefined) ?? fallbackVersion;
  requireSupported(cniVersion, what);
  const name = raw.name as string;
  const { masterPlugin: _m, disableCheck, disableGC, plugins, ...single } = raw;
  const list = Array.isArray(plugins) ? (plugins as PluginConf[]) : [single as PluginConf];
  return {
    name,
    cniVersion,
    plugins: list.map((p) => ({ ...p, name, cniVersion })),
    ...(disableCheck === true ? { disableCheck: true } : {}),
    ...(disableGC === true ? { disableGC: true } : {}),
  };
}

/** A macPool range must parse (same separator throughout, start not above end) and hold at least one MAC a pool may hand out. */
function checkPool(pool: NonNullable<Conf['macPool']>): void {
  const spec = parseRange(pool.rangeStart, pool.rangeEnd, pool.blockSize ?? DEFAULT_BLOCK_SIZE, 'network config: macPool');
  if (poolSize(spec) === 0) {
    throw new CniError(Code.InvalidConfig, `network config: macPool ${rangeText(spec)} holds no locally administered unicast MAC (the first octet's bit 0x02 set and 0x01 clear)`);
  }
}

/**
 * Refuses more than MAX_ITEMS delegates, or plugins in a conflist, before the schema runs: ajv reporting
 * every error (allErrors) takes time quadratic in the number of failing items (minutes for 100,000).
 */
function checkSizes(raw: Record<string, unknown>, what: string): void {
  const lists: Array<[string, unknown]> = [['$.delegates', raw.delegates], ['$.plugins', raw.plugins]];
  if (Array.isArray(raw.delegates) && raw.delegates.length <= MAX_ITEMS) {
    raw.delegates.forEach((d: unknown, i) => lists.push([`$.delegates[${i}].plugins`, (d as { plugins?: unknown } | null)?.plugins]));
  }
  for (const [path, list] of lists) {
    if (Array.isArray(list) && list.length > MAX_ITEMS) throw new CniError(Code.InvalidConfig, `${what} is invalid: ${path}: must NOT have more than ${MAX_ITEMS} items (it has ${list.length})`);
  }
}

function check(validate: ValidateFunction, value: unknown, what: string): void {
  if (validate(value)) return;
  // Errors inside oneOf/anyOf branches only restate the branch choice reported once at the parent.
  const errors = (validate.errors ?? []).filter((e) => !/\/(oneOf|anyOf)\/\d+\//.test(e.schemaPath));
  const problems = [...new Set(errors.map(describe))];
  throw new CniError(Code.InvalidConfig, `${what} is invalid: ${problems.join('; ')}`);
}

/** `$.delegates[0].type: must be string`, with the missing property named for `required`. */
export function describe(e: ErrorObject): string {
  const segs = e.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.keyword === 'required') segs.push((e.params as { missingProperty: string }).missingProperty);
  const path = '$' + segs.map((s) => (/^\d+$/.test(s) ? `[${s}]` : /^[A-Za-z_$][\w$-]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`)).join('');
  const msg =
    e.keyword === 'required' ? 'is required'
    : e.keyword === 'anyOf' ? 'needs "delegates" or "clusterNetwork"'
    : e.keyword === 'oneOf' ? 'needs exactly one of "type" or "plugins"'
    : e.keyword === 'false schema' ? 'is not allowed here'
    : e.message ?? 'is invalid';
  return `${path}: ${msg}`;
}
