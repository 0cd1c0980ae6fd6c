// ADD: cache the plan, add the cluster network then each secondary, roll everything back on failure.
import { CniError, Code } from '../cni/errors';
import type { Result } from '../cni/result';
import { addNetwork } from '../delegate/network';
import { writeCache, type CacheEntry } from './cache';
import { invocationFor, staticPlan, type VerbContext } from './context';
import { rollback } from './del';

export async function cmdAdd(ctx: VerbContext): Promise<Result> {
  const { env, conf, log } = ctx;
  const attachments = staticPlan(ctx);
  const entry: CacheEntry = {
    format: 1,
    containerID: env.containerID,
    netns: env.netns,
    ifName: env.ifName,
    args: env.rawArgs,
    cniVersion: conf.cniVersion,
    state: 'adding',
    attachments,
  };
  writeCache(conf.cacheDir, entry); // undo: rollback() removes it

  const added = [];
  try {
    for (const att of attachments) {
      added.push(att);
      log.info(`adding ${att.name} on ${att.ifName}`);
      att.result = await addNetwork(att.network, invocationFor(ctx, att));
    }
    entry.state = 'added';
    writeCache(conf.cacheDir, entry);
  } catch (e) {
    log.error(`ADD failed, rolling back ${added.length} attachment(s): ${(e as Error).message}`);
    await rollback(ctx, entry, added);
    throw e;
  }
  const cluster = attachments.find((a) => a.cluster)?.result;
  if (!cluster) throw new CniError(Code.Internal, 'cluster network produced no result');
  return cluster;
}
