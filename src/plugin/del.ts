// DEL: delete every attachment in reverse from the cache, best effort, and drop the cache when nothing is left; recover from a damaged entry.
import { asCniError, type CniError } from '../cni/errors';
import { delNetwork } from '../delegate/network';
import { searchDirs } from '../delegate/find';
import { markRecovered, readCache, removeCache, setAside, type CacheEntry, type CacheRead, type PodInfo } from '../state/cache';
import { argValue } from '../cni/env';
import { invocationFor, k8sPod, staticPlan, withContainerLock, type VerbContext } from './context';
import type { Attachment } from './plan';
import { ledgerOn } from './ledger-on';
import type { HeldMac } from './macs';
import { rebuildPlan, unrecoverable } from './recover';

export async function cmdDel(ctx: VerbContext): Promise<void> {
  const { env, conf, log } = ctx;
  const hotplug = argValue(env.args, 'K8S_POD_NETWORK');
  // Never fall through to a whole-pod DEL: only that one network goes.
  if (hotplug !== undefined) return (await import('./hotplug')).hotplugDel(ctx, hotplug);

  const cached = await withContainerLock(ctx, env.containerID, async (): Promise<CacheRead> => {
    const cached = readCache(conf.cacheDir, env.containerID);
    if (cached.kind === 'corrupt') {
      // Damaged: never a silent success. Rebuilt and deleted, or an error naming the file for the runtime to retry.
      await recoverDel(ctx, setAside(conf.cacheDir, env.containerID, cached, (m) => log.error(m)), k8sPod(ctx));
      return cached;
    }
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
  if (cached.kind !== 'missing') return;
  // No cache: nothing was added, or it was deleted already. Delete what the config names, best effort.
  const plan = await planWithoutCache(ctx);
  if (!plan) return;
  for (const f of await delAll(ctx, plan)) log.error(`ignored, nothing was cached: ${f.error.message}`);
  // MACs the journal still gives this container (its cache entry lost) go too, now that its networks are deleted.
  if (ledgerOn(ctx)) await withContainerLock(ctx, env.containerID, () => releaseJournaled(ctx, k8sPod(ctx)));
}

/**
 * DEL from a damaged cache entry set aside at `aside`. With the attachments rebuilt (see rebuildPlan),
 * every delegate's DEL runs and must succeed, the MACs the journal gives this container are released,
 * and the aside is kept as *.recovered. Otherwise the config's attachments are deleted, no MAC is
 * released (the pod's interfaces may still use them), and the error names the aside.
 */
export async function recoverDel(ctx: VerbContext, aside: string, pod: PodInfo | undefined): Promise<void> {
  const { log, env, conf } = ctx;
  const rebuilt = await rebuildPlan(ctx, pod);
  if ('cause' in rebuilt) {
    for (const f of await delAll(ctx, rebuilt.partial)) log.error(`DEL of the config's ${f.attachment.name} failed too: ${f.error.message}`);
    throw unrecoverable(env.containerID, aside, rebuilt.cause);
  }
  log.info(`container ${env.containerID}: ${rebuilt.atts.length} attachment(s) rebuilt from the config${pod ? ` and pod ${pod.namespace}/${pod.name}` : ''}; deleting them`);
  // Whether each one's ADD completed is unknown: any failure keeps the aside pending, for the retry.
  const failures = await delAll(ctx, rebuilt.atts);
  if (failures.length > 0) {
    log.error(`container ${env.containerID}: recovery from ${aside} incomplete (${failures.length} delegate DEL(s) failed); it stays pending for the runtime's retry`);
    throw failures[0]!.error;
  }
  const released = ledgerOn(ctx) ? await releaseJournaled(ctx, pod) : 0;
  markRecovered(conf.cacheDir, env.containerID);
  log.error(`container ${env.containerID}: recovered from the damaged cache entry ${aside} (kept as ${aside}.recovered): ${rebuilt.atts.length} attachment(s) deleted, ${released} MAC(s) released`);
}

/**
 * ADD finding a damaged entry of its own container (an earlier ADD's, whose attachments are unknown):
 * set aside, this ADD's attachments deleted first, as that earlier ADD of the same pod most likely made
 * them, then the aside kept as recovered. Failures are logged: the ADD that follows reports its own.
 */
export async function clearDamaged(ctx: VerbContext, read: Extract<CacheRead, { kind: 'corrupt' }>, atts: Attachment[]): Promise<void> {
  const { conf, env, log } = ctx;
  const aside = setAside(conf.cacheDir, env.containerID, read, (m) => log.error(m));
  log.error(`container ${env.containerID}: deleting this ADD's ${atts.length} attachment(s) first, in case the earlier ADD of ${aside} left them`);
  for (const f of await delAll(ctx, atts)) log.error(`ignored before ADD: ${f.error.message}`);
  markRecovered(conf.cacheDir, env.containerID);
}

/** Releases the MACs the node's journal says this container holds (only its pod's, when the pod is known); returns how many. */
async function releaseJournaled(ctx: VerbContext, pod: PodInfo | undefined): Promise<number> {
  const { heldBy } = await import('../mac/journal');
  const held = (await heldBy(ctx.conf.cacheDir, ctx.env.containerID, ctx.conf.lockTimeout * 1000, (m) => ctx.log.error(m))).filter(
    (h) => !pod || h.owner.startsWith(`${pod.namespace}/${pod.name}/`),
  );
  if (held.length === 0) return 0;
  ctx.log.info(`releasing ${held.map((h) => `${h.mac} (${h.owner})`).join(', ')}, held by this container in the journal`);
  await releaseHeld(ctx, held.map((h) => ({ mac: h.mac, macOwner: h.owner })));
  return held.length;
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
export async function releaseHeld(ctx: VerbContext, atts: HeldMac[]): Promise<void> {
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
