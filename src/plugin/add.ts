// ADD: cache the plan, add the cluster network then each secondary, roll everything back on failure.
import { CniError, Code } from '../cni/errors';
import type { Result } from '../cni/result';
import { addNetwork } from '../delegate/network';
import { searchDirs } from '../delegate/find';
import { readCache, writeCache, type CacheEntry } from './cache';
import { invocationFor, podOf, staticPlan, type VerbContext } from './context';
import { delAll, rollback } from './del';

export async function cmdAdd(ctx: VerbContext): Promise<Result> {
  const { env, conf, log } = ctx;
  const attachments = staticPlan(ctx);
  await clearLeftover(ctx);
  const pod = podOf(env);
  const entry: CacheEntry = {
    format: 1,
    containerID: env.containerID,
    netns: env.netns,
    ifName: env.ifName,
    args: env.rawArgs,
    cniVersion: conf.cniVersion,
    dirs: searchDirs(conf.binDir, env.path),
    ...(pod ? { pod } : {}),
    state: 'adding',
    attachments,
  };
  writeCache(conf.cacheDir, entry); // undo: rollback() removes it

  const started = [];
  try {
    for (const att of attachments) {
      started.push(att);
      log.info(`adding ${att.name} on ${att.ifName}`);
      att.result = await addNetwork(att.network, invocationFor(ctx, att));
      writeCache(conf.cacheDir, entry); // progress: this attachment completed
    }
    entry.state = 'added';
    writeCache(conf.cacheDir, entry);
  } catch (e) {
    log.error(`ADD failed, rolling back ${started.length} attachment(s): ${(e as Error).message}`);
    await rollback(ctx, entry, started);
    throw e;
  }
  const cluster = attachments.find((a) => a.cluster)?.result;
  if (!cluster) throw new CniError(Code.Internal, 'cluster network produced no result');
  return cluster;
}

/**
 * A cache entry already there for this container: the same ifname means an earlier ADD that died or
 * was never DELed, so its attachments are deleted first; another ifname is refused (one macmux network per container).
 */
async function clearLeftover(ctx: VerbContext): Promise<void> {
  const { env, conf, log } = ctx;
  const cached = readCache(conf.cacheDir, env.containerID);
  if (cached.kind !== 'ok') return;
  if (cached.entry.ifName !== env.ifName) {
    throw new CniError(Code.InvalidConfig, `container ${env.containerID} already has macmux attachments on ${cached.entry.ifName}; DEL them before adding on ${env.ifName}`);
  }
  log.info(`container ${env.containerID} has a leftover cache entry (${cached.entry.state}); deleting its attachments first`);
  const failures = await delAll(ctx, cached.entry.attachments, cached.entry);
  if (failures.some((f) => f.attachment.result)) throw failures.find((f) => f.attachment.result)!.error;
}
