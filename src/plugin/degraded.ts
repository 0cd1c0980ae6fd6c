// STATUS's scan of the attachment cache for pods already degraded: an ADD that died half-way, a delegate or host device gone.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { locatePlugin, searchDirs } from '../delegate/find';
import { addBudgetMs, listCache, readCache, type CacheEntry } from '../state/cache';
import type { VerbContext } from './context';
import { hostDevices } from './readiness';

/** Where the kernel lists the host's network devices (macmux runs in the host's network namespace). */
const SYS_NET = '/sys/class/net';

export const hostDeviceExists = (name: string) => existsSync(join(SYS_NET, name));

/**
 * One line per degraded container on this node. A container counts only while its netns exists (once
 * it is gone, the runtime's DEL is due and nothing is left to degrade). It is degraded when:
 * - its cache entry still says "adding" after longer than any ADD and its rollback can take: the ADD
 *   died half-way, so the pod has only some of its networks (GC or DEL will clean it up);
 * - a delegate plugin of one of its attachments is no longer installed, so that attachment can be
 *   neither checked nor deleted;
 * - a host device an attachment relies on (a macvlan/macvtap master, a bridge) no longer exists, so
 *   that interface of the pod is cut off or gone.
 */
export function degradedPods(ctx: VerbContext, now = Date.now()): string[] {
  const { conf, log } = ctx;
  const out: string[] = [];
  for (const id of listCache(conf.cacheDir)) {
    const cached = readCache(conf.cacheDir, id);
    if (cached.kind === 'corrupt') log.error(`STATUS: cache entry ${id} unreadable (${cached.why}); not judged`);
    if (cached.kind !== 'ok') continue;
    const entry = cached.entry;
    if (!entry.netns || !existsSync(entry.netns)) continue;
    const who = `container ${id}${entry.pod ? ` (pod ${entry.pod.namespace}/${entry.pod.name})` : ''}`;
    if (entry.state === 'adding') {
      if (now - cached.mtimeMs >= addBudgetMs(entry, conf.delegateTimeout)) {
        out.push(`${who}: its ADD died half-way (cache entry still "adding" since ${new Date(cached.mtimeMs).toISOString()})`);
      }
      continue;
    }
    const why = attachmentProblems(ctx, entry);
    if (why.length) out.push(`${who}: ${why.join(', ')}`);
  }
  return out;
}

function attachmentProblems(ctx: VerbContext, entry: CacheEntry): string[] {
  const dirs = [...new Set([...searchDirs(ctx.conf.binDir, ctx.env.path), ...entry.dirs])];
  const out: string[] = [];
  for (const att of entry.attachments) {
    for (const p of att.network.plugins) {
      if (!locatePlugin(p.type, dirs)) out.push(`attachment "${att.name}" (${att.ifName}): plugin "${p.type}" is no longer installed, so it can be neither checked nor deleted`);
      for (const dev of hostDevices(p)) {
        if (!hostDeviceExists(dev.name)) out.push(`attachment "${att.name}" (${att.ifName}): host device "${dev.name}" (${dev.field} of ${p.type}) is gone`);
      }
    }
  }
  return out;
}
