// STATUS: ready when every delegate plugin the config names can be found.
import { CniError, Code } from '../cni/errors';
import { compareVersions } from '../cni/versions';
import { locatePlugin, requireDirs, searchDirs } from '../delegate/find';
import { staticPlan, type VerbContext } from './context';

export async function cmdStatus(ctx: VerbContext): Promise<void> {
  const { conf, env } = ctx;
  if (compareVersions(conf.cniVersion, '1.1.0') < 0) {
    throw new CniError(Code.IncompatibleVersion, `cniVersion ${conf.cniVersion} does not support STATUS (needs 1.1.0)`);
  }
  const dirs = searchDirs(conf.binDir, env.path);
  for (const att of staticPlan(ctx)) {
    for (const p of att.network.plugins) {
      requireDirs(dirs, p.type);
      if (!locatePlugin(p.type, dirs)) {
        throw new CniError(Code.PluginNotAvailable, `${att.name}: plugin "${p.type}" not found`, `searched: ${dirs.join(', ')}`);
      }
    }
  }
}
