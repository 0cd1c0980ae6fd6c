// CHECK: run every cached attachment's CHECK with its cached result as prevResult; a damaged entry is set aside and reported.
import { CniError, Code } from '../cni/errors';
import { compareVersions } from '../cni/versions';
import { checkNetwork } from '../delegate/network';
import { readCache, setAside } from '../state/cache';
import { invocationFor, targetOf, withContainerLock, type VerbContext } from './context';

export async function cmdCheck(ctx: VerbContext): Promise<void> {
  const { env, conf } = ctx;
  if (compareVersions(conf.cniVersion, '0.4.0') < 0) {
    throw new CniError(Code.IncompatibleVersion, `cniVersion ${conf.cniVersion} does not support CHECK (needs 0.4.0 or later)`);
  }
  const cached = readCache(conf.cacheDir, env.containerID);
  if (cached.kind === 'corrupt') {
    // The delegates' results (their prevResult) are lost with it: nothing can be checked. Set aside for DEL to recover from.
    const aside = await withContainerLock(ctx, env.containerID, async () => {
      const now = readCache(conf.cacheDir, env.containerID);
      return now.kind === 'corrupt' ? setAside(conf.cacheDir, env.containerID, now, (m) => ctx.log.error(m)) : undefined;
    });
    if (aside) {
      throw new CniError(Code.IO, `container ${env.containerID}: its cache entry was damaged (moved aside to ${aside}), so its attachments' results are lost and cannot be checked; its DEL rebuilds and deletes them`);
    }
    return cmdCheck(ctx); // rewritten meanwhile by an ADD
  }
  if (cached.kind !== 'ok') {
    throw new CniError(Code.UnknownContainer, `no cached attachments for container ${env.containerID}`);
  }
  for (const att of cached.entry.attachments) {
    if (!att.result) throw new CniError(Code.UnknownContainer, `attachment ${att.name} of container ${env.containerID} was never completed`);
    await checkNetwork(att.network, invocationFor(ctx, targetOf(ctx), att), att.result);
  }
}
