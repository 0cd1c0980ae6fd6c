// DEL: delete every attachment in reverse from the cache, best effort, and drop the cache when all succeeded.
import { asCniError, type CniError } from '../cni/errors';
import { delNetwork } from '../delegate/network';
import { readCache, removeCache, type CacheEntry } from './cache';
import { invocationFor, staticPlan, type VerbContext } from './context';
import type { Attachment } from './plan';

export async function cmdDel(ctx: VerbContext): Promise<void> {
  const { env, conf, log } = ctx;
  const cached = readCache(conf.cacheDir, env.containerID);
  if (cached.kind === 'ok') {
    const failures = await delAll(ctx, cached.entry.attachments);
    if (failures.length > 0) throw failures[0]!.error;
    removeCache(conf.cacheDir, env.containerID);
    return;
  }
  // No usable cache: nothing was added, or the entry is damaged. Delete what the config names, best effort.
  if (cached.kind === 'corrupt') log.error(`cache entry unreadable (${cached.why}); deleting from the config`);
  let plan: Attachment[];
  try {
    plan = staticPlan(ctx);
  } catch (e) {
    log.error(`DEL without a cache entry cannot plan from the config: ${(e as Error).message}`);
    return;
  }
  const failures = await delAll(ctx, plan);
  for (const f of failures) log.error(`ignored, nothing was cached: ${f.error.message}`);
  removeCache(conf.cacheDir, env.containerID);
}

export interface DelFailure {
  attachment: Attachment;
  error: CniError;
}

/** DELs `atts` in reverse order, trying every one; returns the failures. */
export async function delAll(ctx: VerbContext, atts: Attachment[], netns = ctx.env.netns): Promise<DelFailure[]> {
  const failures: DelFailure[] = [];
  for (const att of [...atts].reverse()) {
    try {
      ctx.log.info(`deleting ${att.name} on ${att.ifName}`);
      await delNetwork(att.network, invocationFor(ctx, att, netns), att.result);
    } catch (e) {
      ctx.log.error(`DEL of ${att.name} failed: ${(e as Error).message}`);
      failures.push({ attachment: att, error: asCniError(e) });
    }
  }
  return failures;
}

/**
 * Undoes a failed ADD: DEL what was started, and drop the cache unless an attachment that had been
 * added could not be deleted. The DEL of the attachment whose own ADD failed is a courtesy: its
 * plugin reported the failure and owns its partial state, so its DEL error is only logged.
 */
export async function rollback(ctx: VerbContext, entry: CacheEntry, started: Attachment[]): Promise<void> {
  const failed = started[started.length - 1];
  const failures = await delAll(ctx, started);
  const blocking = failures.filter((f) => f.attachment !== failed);
  if (blocking.length === 0) {
    removeCache(ctx.conf.cacheDir, entry.containerID);
  } else {
    ctx.log.error(`rollback incomplete; cache entry kept for the runtime's DEL`);
  }
}
