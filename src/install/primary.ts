// Choosing the primary network config in the conf dir and wrapping it in macmux's conflist (pure; never wraps macmux itself).
import { CniError } from '../cni/errors';
import { loadConf, toNetworkList } from '../config/load';
import type { ConfFile } from './files';

export interface MacPool {
  rangeStart: string;
  rangeEnd: string;
  blockSize?: number;
}

export type Primary = { ok: true; file: string; network: Record<string, unknown>; warnings: string[] } | { ok: false; reason: string; warnings: string[] };

function parse(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a network config is (or contains) the macmux plugin: such a config is never wrapped. */
export function isMacmux(raw: Record<string, unknown>): boolean {
  if (raw.type === 'macmux') return true;
  return Array.isArray(raw.plugins) && (raw.plugins as unknown[]).some((p) => typeof p === 'object' && p !== null && (p as { type?: unknown }).type === 'macmux');
}

/** Whether `text` is a config macmux wrote (so install may rewrite or remove it). */
export function isMacmuxText(text: string): boolean {
  const raw = parse(text);
  return raw !== undefined && isMacmux(raw);
}

/** Why a file cannot be the primary network, or undefined when it can. */
function unfit(f: ConfFile): string | undefined {
  const raw = parse(f.text);
  if (!raw) return `${f.name} is not a JSON object`;
  if (isMacmux(raw)) return `${f.name} is a macmux config (macmux never wraps itself)`;
  try {
    toNetworkList(raw, f.name, '1.0.0');
  } catch (e) {
    return e instanceof CniError ? e.message : `${f.name}: ${(e as Error).message}`;
  }
  return undefined;
}

/**
 * The primary network: `explicit` when given, else the lexically first config that is not macmux's
 * (libcni's order). `files` are the conf dir's configs, sorted by name; `confDir` names it in messages.
 */
export function choosePrimary(files: ConfFile[], conflistName: string, confDir: string, explicit?: string): Primary {
  const others = files.filter((f) => f.name !== conflistName);
  const warnings: string[] = [];
  for (const f of others) {
    if (f.name < conflistName && !unfit(f)) {
      warnings.push(`${confDir}/${f.name} sorts before ${conflistName}: the runtime uses it directly and never runs macmux; rename it, or pass a --conflist-name that sorts first`);
    }
  }
  if (explicit !== undefined) {
    const f = others.find((o) => o.name === explicit);
    if (!f) return { ok: false, reason: `primary network config ${confDir}/${explicit} does not exist; create it or change --primary`, warnings };
    const why = unfit(f);
    if (why) return { ok: false, reason: `primary network config ${confDir}/${explicit} cannot be wrapped: ${why}`, warnings };
    return { ok: true, file: f.name, network: parse(f.text)!, warnings };
  }
  for (const f of others) {
    const why = unfit(f);
    if (why) {
      warnings.push(`skipping ${confDir}/${f.name}: ${why}`);
      continue;
    }
    return { ok: true, file: f.name, network: parse(f.text)!, warnings };
  }
  return { ok: false, reason: `no primary network config in ${confDir} to wrap (a *.conf, *.conflist or *.json that is not macmux's); install the cluster network first, or pass --primary`, warnings };
}

/** The capabilities any plugin of the network declares (true ones only). */
export function capabilitiesOf(network: Record<string, unknown>): Record<string, boolean> {
  const plugins = Array.isArray(network.plugins) ? (network.plugins as Array<Record<string, unknown>>) : [network];
  const out: Record<string, boolean> = {};
  for (const p of plugins) {
    for (const [k, v] of Object.entries((p.capabilities as Record<string, unknown> | undefined) ?? {})) if (v === true) out[k] = true;
  }
  return out;
}

export interface WrapInput {
  network: Record<string, unknown>;
  /** Host paths. */
  kubeconfig: string;
  stateDir: string;
  binDir: string;
  confDir: string;
  namespace: string;
  nodeName?: string;
  pool?: MacPool;
  /** The --config plugin settings, merged last. */
  settings: Record<string, unknown>;
}

export const CONFLIST_NAME = 'macmux';

/** The conflist macmux installs: one macmux plugin whose master delegate is the primary network. */
export function wrap(w: WrapInput): Record<string, unknown> {
  const { type: _t, name: _n, cniVersion, ...settings } = w.settings;
  const caps = capabilitiesOf(w.network);
  const plugin: Record<string, unknown> = {
    type: 'macmux',
    kubeconfig: w.kubeconfig,
    cacheDir: w.stateDir,
    binDir: w.binDir,
    confDir: w.confDir,
    macNamespace: w.namespace,
    ...(w.nodeName ? { nodeName: w.nodeName } : {}),
    delegates: [{ ...w.network, masterPlugin: true }],
    ...(Object.keys(caps).length ? { capabilities: caps } : {}),
    ...(w.pool ? { macPool: w.pool } : {}),
    ...settings,
  };
  return {
    cniVersion: typeof cniVersion === 'string' ? cniVersion : typeof w.network.cniVersion === 'string' ? w.network.cniVersion : '1.0.0',
    name: CONFLIST_NAME,
    plugins: [plugin],
  };
}

/** The conflist's text, after macmux's own validation accepted it (throws CniError code 7 otherwise). */
export function renderConflist(conflist: Record<string, unknown>): string {
  const [plugin] = conflist.plugins as Array<Record<string, unknown>>;
  loadConf({ cniVersion: conflist.cniVersion, name: conflist.name, ...plugin });
  return `${JSON.stringify(conflist, null, 2)}\n`;
}

/** The macPool of a conflist macmux wrote: the last pool known when the API cannot be asked. */
export function poolOf(text: string): { pool?: MacPool } | undefined {
  const raw = parse(text);
  if (!raw || !isMacmux(raw)) return undefined;
  const plugins = Array.isArray(raw.plugins) ? (raw.plugins as Array<Record<string, unknown>>) : [raw];
  const mine = plugins.find((p) => p.type === 'macmux')!;
  return mine.macPool ? { pool: mine.macPool as MacPool } : {};
}
