// CHECK: run every cached attachment's CHECK with its cached result as prevResult.
import { CniError, Code } from '../cni/errors';
import { compareVersions } from '../cni/versions';
import { checkNetwork } from '../delegate/network';
import { readCache } from './cache';
import { invocationFor, type VerbContext } from './context';

export async function cmdCheck(ctx: VerbContext): Promise<void> {
  const { env, conf } = ctx;
  if (compareVersions(conf.cniVersion, '0.4.0') < 0) {
    throw new CniError(Code.IncompatibleVersion, `cniVersion ${conf.cniVersion} does not support CHECK (needs 0.4.0 or later)`);
  }
  const cached = readCache(conf.cacheDir, env.containerID);
  if (cached.kind !== 'ok') {
    throw new CniError(Code.UnknownContainer, `no cached attachments for container ${env.containerID}${cached.kind === 'corrupt' ? ` (unreadable: ${cached.why})` : ''}`);
  }
  for (const att of cached.entry.attachments) {
    if (!att.result) throw new CniError(Code.UnknownContainer, `attachment ${att.name} of container ${env.containerID} was never completed`);
    await checkNetwork(att.network, invocationFor(ctx, att), att.result);
  }
}
