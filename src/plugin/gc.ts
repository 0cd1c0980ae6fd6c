// GC: delete every cached attachment the runtime no longer lists, then let 1.1.0 delegates collect their own.
import { asCniError, CniError, Code } from '../cni/errors';
import { compareVersions } from '../cni/versions';
import { gcNetwork } from '../delegate/network';
import { listCache, readCache, removeCache, type CacheEntry } from './cache';
import { invocationFor, staticPlan, withContainerLock, type VerbContext } from './context';
import { blockingFailures, delAll, releaseHeld } from './del';

export interface ValidAttachment {
  containerID: string;
  ifname: string;
}

/** Reads cni.dev/valid-attachments, or the legacy cni.dev/attachments; code 7 names a bad element. */
export function validAttachments(raw: Record<string, unknown>): ValidAttachment[] {
  const key = 'cni.dev/valid-attachments' in raw ? 'cni.dev/valid-attachments' : 'cni.dev/attachments';
  const list = raw[key] ?? [];
  if (!Array.isArray(list)) throw new CniError(Code.InvalidConfig, `${key} must be a list`);
  return list.map((v, i) => {
    const o = v as Record<string, unknown>;
    if (typeof o?.containerID !== 'string' || typeof o?.ifname !== 'string') {
      throw new CniError(Code.InvalidConfig, `${key}[${i}] needs string fields containerID and ifname`);
    }
    return { containerID: o.containerID, ifname: o.ifname };
  });
}

/** The longest an ADD of `entry` and its rollback can run: every plugin's ADD and DEL at the delegate timeout. */
export function addBudgetMs(entry: CacheEntry, delegateTimeoutSec: number): number {
  const plugins = entry.attachments.reduce((n, a) => n + a.network.plugins.length, 0);
  return 2 * plugins * delegateTimeoutSec * 1000;
}

type Kept = Array<{ containerID: string; network: string; ifname: string }>;

/** One container: keep a valid or still-adding entry (recording its attachments), else DEL it and drop the entry. */
async function collect(ctx: VerbContext, id: string, isValid: (id: string, ifName: string) => boolean, kept: Kept, failures: CniError[]): Promise<void> {
  const { conf, log } = ctx;
  const cached = readCache(conf.cacheDir, id);
  if (cached.kind !== 'ok') {
    if (cached.kind === 'corrupt') log.error(`GC: cache entry ${id} unreadable (${cached.why}); left for DEL`);
    return;
  }
  const entry = cached.entry;
  if (entry.state === 'adding' && Date.now() - cached.mtimeMs < addBudgetMs(entry, conf.delegateTimeout)) {
    log.info(`GC: container ${id} is still being added; left alone`);
    return;
  }
  if (isValid(id, entry.ifName)) {
    for (const a of entry.attachments) kept.push({ containerID: id, network: a.network.name, ifname: a.ifName });
    return;
  }
  log.info(`GC: deleting stale attachments of container ${id}`);
  // Each stale container is a DEL of its own, with its own API budget: counted from the GC's start, every release after the first timeBudget.del seconds was deferred untried.
  const sub = {
    ...ctx,
    started: Date.now(),
    conf: { ...conf, timeBudget: { ...conf.timeBudget, del: conf.timeBudget.gc } },
    env: { ...ctx.env, containerID: id, netns: entry.netns, ifName: entry.ifName },
    ...(entry.pod ? { pod: entry.pod } : {}),
  };
  const blocking = blockingFailures(await delAll(sub, entry.attachments, entry));
  if (blocking.length === 0) {
    await releaseHeld(sub, entry.attachments);
    removeCache(conf.cacheDir, id);
  }
  failures.push(...blocking.map((f) => f.error));
}

export async function cmdGc(ctx: VerbContext): Promise<void> {
  const { conf, log } = ctx;
  if (compareVersions(conf.cniVersion, '1.1.0') < 0) {
    throw new CniError(Code.IncompatibleVersion, `cniVersion ${conf.cniVersion} does not support GC (needs 1.1.0)`);
  }
  const valid = validAttachments(ctx.raw);
  const isValid = (id: string, ifName: string) => valid.some((v) => v.containerID === id && v.ifname === ifName);
  const kept: Kept = [];
  const failures: CniError[] = [];

  for (const id of listCache(conf.cacheDir)) {
    try {
      // A container another invocation is working on is not waited for: it is left to the next GC.
      await withContainerLock(ctx, id, () => collect(ctx, id, isValid, kept, failures), 1000);
    } catch (e) {
      log.info(`GC: container ${id} skipped: ${(e as Error).message}`);
    }
  }

  for (const att of staticPlan(ctx)) {
    const mine = kept.filter((k) => k.network === att.network.name).map(({ containerID, ifname }) => ({ containerID, ifname }));
    try {
      await gcNetwork(att.network, invocationFor(ctx, att), mine);
    } catch (e) {
      failures.push(asCniError(e));
    }
  }
  if (failures.length > 0) throw failures[0];
}
