// Finds a delegate plugin's executable: binDir first, then each CNI_PATH directory.
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, Code } from '../cni/errors';

/** The search order: `binDir` (if set) then CNI_PATH, without repeats. */
export function searchDirs(binDir: string | undefined, cniPath: string[]): string[] {
  return [...new Set([...(binDir ? [binDir] : []), ...cniPath])];
}

/** The path of executable `type` in `dirs`, or undefined. */
export function locatePlugin(type: string, dirs: string[]): string | undefined {
  for (const dir of dirs) {
    const candidate = join(dir, type);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/** Code 4 when there is nowhere to look: CNI_PATH is needed wherever a delegate must be found. */
export function requireDirs(dirs: string[], type: string): void {
  if (dirs.length === 0) {
    throw new CniError(Code.InvalidEnv, `cannot look up plugin "${type}": CNI_PATH is not set and the config has no binDir`);
  }
}

/** Returns the path of executable `type`; code 7 names the plugin and every directory searched. */
export function findPlugin(type: string, dirs: string[]): string {
  requireDirs(dirs, type);
  const path = locatePlugin(type, dirs);
  if (!path) throw new CniError(Code.InvalidConfig, `plugin "${type}" not found`, `searched: ${dirs.join(', ')}`);
  return path;
}
