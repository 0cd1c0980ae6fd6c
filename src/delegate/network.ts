// Runs a delegate network list through ADD, DEL, CHECK and GC as libcni does.
import type { NetworkList } from '../config/load';
import { formatResult, parseResult, type Result } from '../cni/result';
import { compareVersions } from '../cni/versions';
import { CniError, Code } from '../cni/errors';
import { DELEGATE_MARK } from '../cni/nesting';
import { parseJson } from '../config/load';
import { findPlugin, locatePlugin, requireDirs } from './find';
import { buildStdin } from './stdin';
import { execPlugin } from './exec';
import { pluginSelfReason } from './self';

/** Where and how one attachment's plugins run. */
export interface Invocation {
  containerID: string;
  netns: string;
  ifName: string;
  /** CNI_ARGS for the delegate. */
  args: string;
  /** Plugin search directories; also the delegate's CNI_PATH. */
  dirs: string[];
  timeoutMs: number;
  /** The environment the delegate inherits (PATH and the like); CNI_* keys are set here. */
  baseEnv: Record<string, string>;
  runtimeConfig?: Record<string, unknown>;
  /** Told about plugins DEL had to skip. */
  warn?: (msg: string) => void;
}

function env(inv: Invocation, command: string): Record<string, string> {
  return {
    ...inv.baseEnv,
    [DELEGATE_MARK]: '1',
    CNI_COMMAND: command,
    CNI_CONTAINERID: inv.containerID,
    CNI_NETNS: inv.netns,
    CNI_IFNAME: inv.ifName,
    CNI_ARGS: inv.args,
    CNI_PATH: inv.dirs.join(':'),
  };
}

async function run(list: NetworkList, index: number, inv: Invocation, command: string, prev?: Result, extra?: Record<string, unknown>): Promise<string> {
  const plugin = list.plugins[index]!;
  const what = `${plugin.type} (${list.name}) ${command}`;
  const stdin = buildStdin(plugin, {
    name: list.name,
    cniVersion: list.cniVersion,
    ...(prev ? { prevResult: formatResult(prev, list.cniVersion) } : {}),
    ...(inv.runtimeConfig ? { runtimeConfig: inv.runtimeConfig } : {}),
    ...(extra ? { extra } : {}),
  });
  const path = findPlugin(plugin.type, inv.dirs);
  // The last guard: the verbs refuse such a network before any MAC is taken (refuseSelf); a cache entry written before cannot bring one back.
  const self = pluginSelfReason(plugin, inv.dirs, path);
  if (self) throw new CniError(Code.InvalidConfig, `${what}: refused: ${self}; macmux never runs itself as a delegate`);
  const environment = command === 'GC' || command === 'STATUS' ? gcEnv(inv, command) : env(inv, command);
  return execPlugin({ command: path, env: environment, stdin: JSON.stringify(stdin), timeoutMs: inv.timeoutMs, what });
}

function gcEnv(inv: Invocation, command: string): Record<string, string> {
  return { ...inv.baseEnv, [DELEGATE_MARK]: '1', CNI_COMMAND: command, CNI_PATH: inv.dirs.join(':') };
}

/** ADD through every plugin in order, chaining prevResult; returns the last result. */
export async function addNetwork(list: NetworkList, inv: Invocation): Promise<Result> {
  let prev: Result | undefined;
  for (let i = 0; i < list.plugins.length; i++) {
    const out = await run(list, i, inv, 'ADD', prev);
    const what = `${list.plugins[i]!.type} (${list.name}) ADD`;
    if (out.trim() === '') throw new CniError(Code.Decode, `${what}: plugin printed no result`);
    prev = parseResult(parseJson(out, `${what}: result`), what, list.cniVersion);
  }
  return prev!;
}

/**
 * DEL through every plugin in reverse, best effort: each plugin is tried even when a later one failed.
 * With `skipMissing` (rolling back an ADD that just failed), a plugin that is not installed never ran
 * and is skipped; otherwise a missing plugin is a failure, so the cache is kept for a retry.
 * Throws the first failure. prevResult is the cached result from 0.4.0 on.
 */
export async function delNetwork(list: NetworkList, inv: Invocation, cached?: Result, skipMissing = false): Promise<void> {
  const prev = cached && compareVersions(list.cniVersion, '0.4.0') >= 0 ? cached : undefined;
  let first: unknown;
  for (let i = list.plugins.length - 1; i >= 0; i--) {
    const type = list.plugins[i]!.type;
    requireDirs(inv.dirs, type);
    if (skipMissing && !locatePlugin(type, inv.dirs)) {
      inv.warn?.(`${type} (${list.name}) DEL skipped: plugin not installed, so it never ran`);
      continue;
    }
    // A cache entry from before self-delegation was refused: never run macmux, and never let that fail the DEL.
    const self = pluginSelfReason(list.plugins[i]!, inv.dirs);
    if (self) {
      inv.warn?.(`${type} (${list.name}) DEL skipped: ${self}; macmux never runs itself as a delegate`);
      continue;
    }
    try {
      await run(list, i, inv, 'DEL', prev);
    } catch (e) {
      first ??= e;
    }
  }
  if (first !== undefined) throw first;
}

/** CHECK through every plugin with the cached result; lists older than 0.4.0 cannot be checked. */
export async function checkNetwork(list: NetworkList, inv: Invocation, cached: Result): Promise<void> {
  if (list.disableCheck) return;
  if (compareVersions(list.cniVersion, '0.4.0') < 0) {
    throw new CniError(Code.IncompatibleVersion, `network "${list.name}": cniVersion ${list.cniVersion} does not support CHECK`);
  }
  for (let i = 0; i < list.plugins.length; i++) await run(list, i, inv, 'CHECK', cached);
}

/** GC through every plugin, from 1.1.0 on, with the attachments still valid for this network. */
export async function gcNetwork(list: NetworkList, inv: Invocation, valid: Array<{ containerID: string; ifname: string }>): Promise<void> {
  if (list.disableGC || compareVersions(list.cniVersion, '1.1.0') < 0) return;
  for (let i = 0; i < list.plugins.length; i++) await run(list, i, inv, 'GC', undefined, { 'cni.dev/valid-attachments': valid });
}

/** STATUS through every plugin, from 1.1.0 on, stopping at the first error as libcni does; older lists are not asked. */
export async function statusNetwork(list: NetworkList, inv: Invocation): Promise<void> {
  if (compareVersions(list.cniVersion, '1.1.0') < 0) return;
  for (let i = 0; i < list.plugins.length; i++) await run(list, i, inv, 'STATUS');
}
