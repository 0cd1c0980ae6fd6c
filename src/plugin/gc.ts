// GC: delete every cached attachment the runtime no longer lists, then let 1.1.0 delegates collect their own; recover stale damaged entries.
import { asCniError, CniError, Code } from '../cni/errors';
import { compareVersions } from '../cni/versions';
import { gcNetwork } from '../delegate/network';
import { addBudgetMs, damagedContainers, listCache, readCache, removeCache, setAside, type CacheRead } from '../state/cache';
import type { PodInfo } from '../cni/env';
import { heldBy } from '../mac/journal';
import { blockingFailures, delAll, type Tally } from './chain';
import { invocationFor, staticPlan, targetOf, withContainerLock, type Target, type VerbContext } from './context';
import { releaseHeld } from './macs';
import { apiConfigured, recoverDel } from './recover';

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

type Kept = Array<{ containerID: string; network: string; ifname: string }>;

/** One container: keep a valid or still-adding entry (recording its attachments), else DEL it and drop the entry. */
async function collect(ctx: VerbContext, tally: Tally, id: string, valid: ValidAttachment[], kept: Kept, failures: CniError[]): Promise<void> {
  const { conf, log } = ctx;
  const isValid = (ifName: string) => valid.some((v) => v.containerID === id && v.ifname === ifName);
  const cached = readCache(conf.cacheDir, id);
  if (cached.kind === 'corrupt') return collectDamaged(ctx, tally, id, cached, valid, kept, failures);
  if (cached.kind !== 'ok') return;
  const entry = cached.entry;
  if (entry.state === 'adding' && Date.now() - cached.mtimeMs < addBudgetMs(entry, conf.delegateTimeout)) {
    log.info(`GC: container ${id} is still being added; left alone`);
    return;
  }
  if (isValid(entry.ifName)) {
    for (const a of entry.attachments) kept.push({ containerID: id, network: a.network.name, ifname: a.ifName });
    return;
  }
  log.info(`GC: deleting stale attachments of container ${id}`);
  const t: Target = { ...staleTarget(ctx, id, entry.netns, entry.ifName), ...(entry.pod ? { pod: entry.pod } : {}) };
  const blocking = blockingFailures(await delAll(ctx, t, entry.attachments, entry));
  if (blocking.length === 0) {
    tally.add(await releaseHeld(ctx, t, entry.attachments));
    removeCache(conf.cacheDir, id);
  }
  failures.push(...blocking.map((f) => f.error));
}

/**
 * A damaged entry (set aside here if not yet). A container the runtime still lists keeps it pending for
 * its DEL, and the config's networks are reported to their delegates' GC as in use on its interface
 * names (its own networks are unknown). A stale one is recovered as its DEL would be, the pod named by
 * the MACs the journal gives it (without the netns, which is lost with the entry; eth0 for the cluster
 * network, as Kubernetes names it); when it cannot be, GC reports the error and the aside stays pending.
 */
async function collectDamaged(ctx: VerbContext, tally: Tally, id: string, read: Extract<CacheRead, { kind: 'corrupt' }>, valid: ValidAttachment[], kept: Kept, failures: CniError[]): Promise<void> {
  const { conf, log } = ctx;
  const aside = setAside(conf.cacheDir, id, read, (m) => log.error(`GC: ${m}`));
  const live = valid.filter((v) => v.containerID === id);
  if (live.length > 0) {
    log.error(`GC: container ${id} is still in use; its damaged cache entry ${aside} is left for its DEL to recover from`);
    for (const v of live) {
      for (const att of staticPlan(ctx, v.ifname)) kept.push({ containerID: id, network: att.network.name, ifname: att.ifName });
    }
    return;
  }
  let t = staleTarget(ctx, id, '', 'eth0');
  let pod: PodInfo | undefined;
  if (apiConfigured(ctx)) {
    pod = await journaledPod(ctx, id);
    if (!pod) {
      failures.push(new CniError(Code.IO, `GC: container ${id}: its cache entry was damaged (moved aside to ${aside}) and no MAC in the journal names its pod, so its networks cannot be rebuilt; remove what is left of them by hand, then delete ${aside}`));
      return;
    }
    t = { ...t, pod };
  }
  log.info(`GC: recovering stale container ${id} from its damaged cache entry ${aside}`);
  try {
    await recoverDel(ctx, tally, t, aside, pod);
  } catch (e) {
    failures.push(asCniError(e));
  }
}

/**
 * A stale container GC deletes, as its DEL would: each with its own API budget (counted from the GC's
 * start, every release after the first timeBudget.del seconds was deferred untried).
 */
function staleTarget(ctx: VerbContext, containerID: string, netns: string, ifName: string): Target {
  return { containerID, netns, ifName, budget: { sec: ctx.conf.timeBudget.gc, from: Date.now() } };
}

/** The pod whose MACs the journal says container `id` holds, when they all name one pod. */
async function journaledPod(ctx: VerbContext, id: string): Promise<PodInfo | undefined> {
  const pods = new Set((await heldBy(ctx.conf.cacheDir, id, ctx.conf.lockTimeout * 1000, (m) => ctx.log.error(m))).map((h) => h.owner.split('/').slice(0, 2).join('/')));
  if (pods.size !== 1) return undefined;
  const [namespace, name] = [...pods][0]!.split('/') as [string, string];
  return { namespace, name };
}

export async function cmdGc(ctx: VerbContext, tally: Tally): Promise<void> {
  const { conf, log } = ctx;
  if (compareVersions(conf.cniVersion, '1.1.0') < 0) {
    throw new CniError(Code.IncompatibleVersion, `cniVersion ${conf.cniVersion} does not support GC (needs 1.1.0)`);
  }
  const valid = validAttachments(ctx.raw);
  const kept: Kept = [];
  const failures: CniError[] = [];

  for (const id of new Set([...listCache(conf.cacheDir), ...damagedContainers(conf.cacheDir)])) {
    try {
      // A container another invocation is working on is not waited for: it is left to the next GC.
      await withContainerLock(ctx, id, () => collect(ctx, tally, id, valid, kept, failures), 1000);
    } catch (e) {
      log.info(`GC: container ${id} skipped: ${(e as Error).message}`);
    }
  }

  for (const att of staticPlan(ctx)) {
    const mine = kept.filter((k) => k.network === att.network.name).map(({ containerID, ifname }) => ({ containerID, ifname }));
    try {
      await gcNetwork(att.network, invocationFor(ctx, targetOf(ctx), att), mine);
    } catch (e) {
      failures.push(asCniError(e));
    }
  }
  if (failures.length > 0) throw failures[0];
}
