// Refuses macmux as its own delegate: a plugin (or IPAM plugin) of type macmux, or the very executable running now.
import { statSync } from 'node:fs';
import type { NetworkList, PluginConf } from '../config/load';
import { CniError, Code } from '../cni/errors';
import { locatePlugin } from './find';

/** The type macmux is installed as. */
export const SELF_TYPE = 'macmux';

let self: { dev: number; ino: number } | null | undefined;

/** The device and inode of the running executable (the SEA binary; node under tests), looked up once. */
function selfFile(): { dev: number; ino: number } | null {
  if (self === undefined) {
    try {
      const s = statSync(process.execPath);
      self = { dev: s.dev, ino: s.ino };
    } catch {
      self = null;
    }
  }
  return self;
}

/** Why running `type`, found at `path`, would run macmux itself; undefined when it would not. */
export function selfReason(type: string, path: string | undefined): string | undefined {
  if (type === SELF_TYPE) return `its type is "${SELF_TYPE}"`;
  const me = selfFile();
  if (!path || !me) return undefined;
  try {
    const s = statSync(path);
    if (s.dev === me.dev && s.ino === me.ino) return `${path} is the macmux executable itself`;
  } catch {
    // not there: not macmux
  }
  return undefined;
}

/** The plugin's own type and its IPAM plugin's, which the plugin runs from the same CNI_PATH. */
function typesOf(plugin: PluginConf): Array<[string, string]> {
  const ipam = (plugin.ipam as { type?: unknown } | undefined)?.type;
  return [[plugin.type, 'plugin'], ...(typeof ipam === 'string' ? [[ipam, `IPAM plugin of ${plugin.type}`] as [string, string]] : [])];
}

/** Why one of `plugin`'s executables (itself, its IPAM plugin) is macmux, or undefined; `path` is the plugin's own, when already found. */
export function pluginSelfReason(plugin: PluginConf, dirs: string[], path?: string): string | undefined {
  for (const [type, role] of typesOf(plugin)) {
    const why = selfReason(type, role === 'plugin' && path !== undefined ? path : locatePlugin(type, dirs));
    if (why) return `${role} "${type}": ${why}`;
  }
  return undefined;
}

/**
 * Code 7 when a plugin of `network` is macmux itself. `what` names the network (a NAD as ns/name).
 * A nested macmux would read binDir, logFile, cacheDir, kubeconfig and confDir from that network's config.
 */
export function refuseSelf(network: NetworkList, what: string, dirs: string[]): void {
  for (const plugin of network.plugins) {
    const why = pluginSelfReason(plugin, dirs);
    if (why) {
      throw new CniError(Code.InvalidConfig, `${what}: ${why}; macmux never runs itself as a delegate, since its settings (binDir, cacheDir, logFile, kubeconfig, ...) come only from the node's config`);
    }
  }
}
