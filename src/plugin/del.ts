// DEL: delete every attachment in reverse from the cache, best effort, and drop the cache when nothing is left; recover from a damaged entry.
import { readCache, removeCache, setAside, type CacheRead } from '../state/cache';
import type { Attachment } from '../state/attachment';
import { blockingFailures, delAll, type Tally } from './chain';
import { k8sPod, ledgerOn, staticPlan, targetOf, withContainerLock, withPod, type Target, type VerbContext } from './context';
import { openApi, podPlan, readPod } from './k8s';
import { openForRelease, releaseHeld } from './macs';
import { recoverDel, releaseJournaled } from './recover';

export async function cmdDel(ctx: VerbContext, tally: Tally): Promise<void> {
  const { env, conf, log } = ctx;
  const t = targetOf(ctx);
  const cached = await withContainerLock(ctx, env.containerID, async (): Promise<CacheRead> => {
    const cached = readCache(conf.cacheDir, env.containerID);
    if (cached.kind === 'corrupt') {
      // Damaged: never a silent success. Rebuilt and deleted, or an error naming the file for the runtime to retry.
      await recoverDel(ctx, tally, t, setAside(conf.cacheDir, env.containerID, cached, (m) => log.error(m)), k8sPod(ctx));
      return cached;
    }
    if (cached.kind !== 'ok') return cached;
    if (cached.entry.ifName !== env.ifName) {
      log.info(`cache entry of ${env.containerID} is for ${cached.entry.ifName}, not ${env.ifName}: nothing to delete`);
      return cached;
    }
    const own = withPod(t, cached.entry.pod);
    // The release's API opens while the delegates run (Node waits on them, idle): nothing of it can delay or fail them.
    const early = openForRelease(ctx, own, cached.entry.attachments);
    try {
      const blocking = blockingFailures(await delAll(ctx, own, cached.entry.attachments, cached.entry));
      if (blocking.length > 0) throw blocking[0]!.error;
      tally.add(await releaseHeld(ctx, own, cached.entry.attachments, early));
    } finally {
      early?.close();
    }
    removeCache(conf.cacheDir, env.containerID);
    return cached;
  });
  if (cached.kind !== 'missing') return;
  // No cache: nothing was added, or it was deleted already. Delete what the config names, best effort.
  const plan = await planWithoutCache(ctx, t);
  if (!plan) return;
  for (const f of await delAll(ctx, t, plan)) log.error(`ignored, nothing was cached: ${f.error.message}`);
  // MACs the journal still gives this container (its cache entry lost) go too, now that its networks are deleted.
  if (ledgerOn(ctx)) await withContainerLock(ctx, env.containerID, () => releaseJournaled(ctx, tally, t, k8sPod(ctx)));
}

/**
 * What to delete when nothing was cached: the pod's attachments if the API answers (and the pod is
 * the one this sandbox was for), else the config's static plan; undefined when neither can be had.
 */
async function planWithoutCache(ctx: VerbContext, t: Target): Promise<Attachment[] | undefined> {
  const pod = k8sPod(ctx);
  if (pod) {
    try {
      const api = await openApi(ctx, t.budget);
      try {
        return await podPlan(ctx, api, await readPod(api, pod));
      } finally {
        api.close();
      }
    } catch (e) {
      ctx.log.error(`DEL without a cache entry: the pod's networks are unknown (${(e as Error).message}); deleting the config's`);
    }
  }
  try {
    return staticPlan(ctx);
  } catch (e) {
    ctx.log.error(`DEL without a cache entry cannot plan from the config: ${(e as Error).message}`);
    return undefined;
  }
}
