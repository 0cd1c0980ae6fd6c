// Keys a Go plugin would read as one macmux sets or checks, spelled another way (pure).
import { CniError, Code, quote } from '../cni/errors';

/**
 * Go's encoding/json matches object keys to struct fields ignoring case, by Unicode simple case
 * mapping ("MAC" and "Mac" are "mac"; the Kelvin sign U+212A is "k", U+017F "s", U+0130 "i"), and the
 * last of two matching keys wins. So a NAD config or cni-args carrying `MAC` next to (or instead of)
 * `mac` would set a MAC the ledger never saw. Each character is folded as Go folds it: to lower case,
 * then to upper case, keeping one character where JavaScript's full mapping gives two.
 */
export function goFold(key: string): string {
  let out = '';
  for (const ch of key) {
    let lower = ch.toLowerCase();
    if ([...lower].length > 1) lower = String.fromCodePoint(lower.codePointAt(0)!);
    const upper = lower.toUpperCase();
    out += [...upper].length > 1 ? lower : upper;
  }
  return out;
}

/** Keys macmux reads or writes in a plugin's config, and inside its args and args.cni, and in an IPAM config. */
export const PLUGIN_KEYS = ['type', 'name', 'cniVersion', 'args', 'mac', 'ipam', 'runtimeConfig', 'capabilities', 'prevResult', 'deviceID'];
const ARGS_KEYS = ['cni'];
export const CNI_ARGS_KEYS = ['mac'];
const IPAM_KEYS = ['type'];

/** The first key of `obj` that folds to one of `names` without being spelled as it, or undefined. */
export function foldedClash(obj: Record<string, unknown>, names: readonly string[]): { key: string; name: string } | undefined {
  const folded = new Map(names.map((n) => [goFold(n), n]));
  for (const key of Object.keys(obj)) {
    const name = folded.get(goFold(key));
    if (name !== undefined && name !== key) return { key, name };
  }
  return undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Code 7 when `obj` (at `path`, in `what`) has a key that Go would read as one of `names`. */
function refuseFoldedKeys(obj: Record<string, unknown>, names: readonly string[], what: string, path: string): void {
  const clash = foldedClash(obj, names);
  if (!clash) return;
  throw new CniError(Code.InvalidConfig, `${what}: ${path}[${quote(clash.key, 40)}]: a key spelled differently from "${clash.name}" is not allowed (plugins read it as "${clash.name}", unchecked)`);
}

/** Checks one plugin config of a NAD: its own keys, its args and args.cni, and its ipam. */
export function refuseFoldedPluginKeys(plugin: Record<string, unknown>, what: string, path: string): void {
  refuseFoldedKeys(plugin, PLUGIN_KEYS, what, path);
  if (isObject(plugin.args)) {
    refuseFoldedKeys(plugin.args, ARGS_KEYS, what, `${path}.args`);
    if (isObject(plugin.args.cni)) refuseFoldedKeys(plugin.args.cni, CNI_ARGS_KEYS, what, `${path}.args.cni`);
  }
  if (isObject(plugin.ipam)) refuseFoldedKeys(plugin.ipam, IPAM_KEYS, what, `${path}.ipam`);
}
