// DEL: delete every attachment in reverse from the cache, best effort, and drop the cache when nothing is left.
import { asCniError, type CniError } from '../cni/errors';
import { delNetwork } from '../delegate/network';
import { searchDirs } from '../delegate/find';
import { readCache, removeCache, type CacheEntry } from './cache';
import { argValue } from '../cni/env';
import { invocationFor, k8sPod, staticPlan, withContainerLock, type VerbContext } from './context';
import type { Attachment } from './plan';
import { ledgerOn } from './ledger-on';

export async function cmdDel(ctx: VerbContext): Promise<void> {
  const { env, conf, log } = ctx;
  const hotplug = argValue(env.args, 'K8S_POD_NETWORK');
  // Never fall through to a whole-pod DEL: only that one network goes.
  if (hotplug !== undefined) return (await import('./hotplug')).hotplugDel(ctx, hotplug);

  const cached = await withContainerLock(ctx, env.containerID, async () => {
    const cached = readCache(conf.cacheDir, env.containerID);
    if (cached.kind !== 'ok') return cached;
    if (cached.entry.ifName !== env.ifName) {
      log.info(`cache entry of ${env.containerID} is for ${cached.entry.ifName}, not ${env.ifName}: nothing to delete`);
      return cached;
    }
    if (cached.entry.pod) ctx.pod = cached.entry.pod;
    const blocking = blockingFailures(await delAll(ctx, cached.entry.attachments, cached.entry));
    if (blocking.length > 0) throw blocking[0]!.error;
    await releaseHeld(ctx, cached.entry.attachments);
    removeCache(conf.cacheDir, env.containerID);
    return cached;
  });
  if (cached.kind === 'ok') return;
  // No usable cache: nothing was added, or the entry is damaged. Delete what the config names, best effort.
  if (cached.kind === 'corrupt') log.error(`cache entry unreadable (${cached.why}); deleting from the config`);
  const plan = await planWithoutCache(ctx);
  if (!plan) return;
  for (const f of await delAll(ctx, plan)) log.error(`ignored, nothing was cached: ${f.error.message}`);
  if (cached.kind === 'corrupt') {
    try {
      removeCache(conf.cacheDir, env.containerID);
    } catch (e) {
      log.error((e as Error).message);
    }
  }
}

/**
 * What to delete when nothing was cached: the pod's attachments if the API answers (and the pod is
 * the one this sandbox was for), else the config's static plan; undefined when neither can be had.
 */
async function planWithoutCache(ctx: VerbContext): Promise<Attachment[] | undefined> {
  const pod = k8sPod(ctx);
  if (pod) {
    try {
      const k8s = await import('./k8s');
      const api = await k8s.openApi(ctx, ctx.conf.timeBudget.del);
      try {
        return await k8s.podPlan(ctx, api, await k8s.readPod(api, pod));
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

/** Releases the ledger MACs of deleted attachments (loading the ledger only when some were held). */
export async function releaseHeld(ctx: VerbContext, atts: Attachment[]): Promise<void> {
  if (!ledgerOn(ctx) || !atts.some((a) => a.macOwner)) return;
  await (await import('./macs')).releaseMacs(ctx, atts);
}

export interface DelFailure {
  attachment: Attachment;
  error: CniError;
}

/**
 * DELs `atts` in reverse order, trying every one; returns the failures. `entry` (when deleting from
 * the cache) adds the directories searched at ADD; `skipMissing` is for rolling back a fresh ADD.
 */
export async function delAll(ctx: VerbContext, atts: Attachment[], entry?: CacheEntry, skipMissing = false): Promise<DelFailure[]> {
  const failures: DelFailure[] = [];
  const dirs = [...new Set([...searchDirs(ctx.conf.binDir, ctx.env.path), ...(entry?.dirs ?? [])])];
  for (const att of [...atts].reverse()) {
    try {
      ctx.log.info(`deleting ${att.name} on ${att.ifName}`);
      await delNetwork(att.network, { ...invocationFor(ctx, att), dirs }, att.result, skipMissing);
    } catch (e) {
      ctx.log.error(`DEL of ${att.name} failed: ${(e as Error).message}`);
      failures.push({ attachment: att, error: asCniError(e) });
    }
  }
  return failures;
}

/**
 * Failures that must keep the cache entry: those of attachments whose ADD completed (they have a
 * result, so something of theirs exists). An attachment whose own ADD failed owns no completed state;
 * its DEL failure is logged but does not hold the pod's cleanup hostage (macvlan's DEL, for one,
 * fails for ever once its master is gone).
 */
export function blockingFailures(failures: DelFailure[]): DelFailure[] {
  return failures.filter((f) => f.attachment.result !== undefined);
}

/** Undoes a failed ADD: DEL what was started, and drop the cache unless a completed attachment could not be deleted. */
export async function rollback(ctx: VerbContext, entry: CacheEntry, started: Attachment[]): Promise<void> {
  try {
    const blocking = blockingFailures(await delAll(ctx, started, entry, true));
    if (blocking.length === 0) {
      removeCache(ctx.conf.cacheDir, entry.containerID);
    } else {
      ctx.log.error(`rollback incomplete; cache entry kept for the runtime's DEL`);
    }
  } catch (e) {
    ctx.log.error(`rollback failed: ${(e as Error).message}; cache entry kept for the runtime's DEL`);
  }
}
