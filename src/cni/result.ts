// CNI results: kept internally in the 1.1.0 shape, parsed from and printed to every version (pure).
import { CniError, Code } from './errors';
import { compareVersions, requireSupported } from './versions';

export interface Interface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}
export interface IPConfig {
  address: string;
  gateway?: string;
  interface?: number;
}
export interface Route {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}
export interface DNS {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}
/** A result in the 1.1.0 shape, whatever version it came in. */
export interface Result {
  interfaces: Interface[];
  ips: IPConfig[];
  routes: Route[];
  dns: DNS;
}

type Json = Record<string, unknown>;

export function emptyResult(): Result {
  return { interfaces: [], ips: [], routes: [], dns: {} };
}

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isV6 = (cidr: string) => cidr.includes(':');

/**
 * Parses a result of any supported version into the internal shape; `what` names its source.
 * A result without cniVersion is read in `assumed`, the version the plugin was asked to speak.
 */
export function parseResult(raw: unknown, what: string, assumed = ''): Result {
  if (!isObj(raw)) throw new CniError(Code.Decode, `${what}: result is not a JSON object`);
  const version = typeof raw.cniVersion === 'string' && raw.cniVersion !== '' ? raw.cniVersion : assumed;
  requireSupported(version, `${what}: result`);
  return compareVersions(version, '0.3.0') < 0 ? fromLegacy(raw) : fromCurrent(raw);
}

function fromCurrent(raw: Json): Result {
  const arr = (k: string) => (Array.isArray(raw[k]) ? (raw[k] as Json[]) : []);
  return {
    interfaces: arr('interfaces').map((i) => pick(i, ['name', 'mac', 'mtu', 'sandbox', 'socketPath', 'pciID']) as unknown as Interface),
    ips: arr('ips').map((ip) => pick(ip, ['address', 'gateway', 'interface']) as unknown as IPConfig),
    routes: arr('routes').map((r) => pick(r, ['dst', 'gw', 'mtu', 'advmss', 'priority', 'table', 'scope']) as unknown as Route),
    dns: isObj(raw.dns) ? (pick(raw.dns, ['nameservers', 'domain', 'search', 'options']) as DNS) : {},
  };
}

function fromLegacy(raw: Json): Result {
  const res = emptyResult();
  for (const key of ['ip4', 'ip6']) {
    const ipc = raw[key];
    if (!isObj(ipc)) continue;
    if (typeof ipc.ip === 'string') {
      res.ips.push(dropUndefined({ address: ipc.ip, gateway: ipc.gateway as string | undefined }));
    }
    if (Array.isArray(ipc.routes)) res.routes.push(...(ipc.routes as Json[]).map((r) => pick(r, ['dst', 'gw']) as unknown as Route));
  }
  if (isObj(raw.dns)) res.dns = pick(raw.dns, ['nameservers', 'domain', 'search', 'options']) as DNS;
  return res;
}

/** Renders an internal result in `version`, as the runtime or a delegate expects it. */
export function formatResult(res: Result, version: string): Json {
  if (compareVersions(version, '0.3.0') < 0) return toLegacy(res, version);
  const v11 = compareVersions(version, '1.1.0') >= 0;
  const out: Json = { cniVersion: version };
  const ifaceKeys = v11 ? ['name', 'mac', 'mtu', 'sandbox', 'socketPath', 'pciID'] : ['name', 'mac', 'sandbox'];
  const routeKeys = v11 ? ['dst', 'gw', 'mtu', 'advmss', 'priority', 'table', 'scope'] : ['dst', 'gw'];
  if (res.interfaces.length) out.interfaces = res.interfaces.map((i) => pick(i as unknown as Json, ifaceKeys));
  if (res.ips.length) {
    out.ips = res.ips.map((ip) => {
      const o = pick(ip as unknown as Json, ['address', 'gateway', 'interface']);
      return compareVersions(version, '1.0.0') < 0 ? { version: isV6(ip.address) ? '6' : '4', ...o } : o;
    });
  }
  if (res.routes.length) out.routes = res.routes.map((r) => pick(r as unknown as Json, routeKeys));
  out.dns = { ...res.dns };
  return out;
}

function toLegacy(res: Result, version: string): Json {
  const out: Json = { cniVersion: version };
  for (const [key, v6] of [['ip4', false], ['ip6', true]] as const) {
    const ip = res.ips.find((i) => isV6(i.address) === v6);
    if (!ip) continue;
    const routes = res.routes.filter((r) => isV6(r.dst) === v6).map((r) => pick(r as unknown as Json, ['dst', 'gw']));
    out[key] = dropUndefined({ ip: ip.address, gateway: ip.gateway, routes: routes.length ? routes : undefined });
  }
  out.dns = { ...res.dns };
  return out;
}

/** The MAC the result reports for interface `name` inside the sandbox, if any. */
export function macOf(res: Result, name: string): string | undefined {
  return res.interfaces.find((i) => i.name === name && i.sandbox)?.mac ?? res.interfaces.find((i) => i.name === name)?.mac;
}

function pick(o: Json, keys: string[]): Json {
  const out: Json = {};
  for (const k of keys) if (o[k] !== undefined && o[k] !== null && o[k] !== '') out[k] = o[k];
  return out;
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
