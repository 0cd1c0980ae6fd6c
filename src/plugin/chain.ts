// The chain runner shared by ADD, DEL and hot-plug: the verb's undo stack, the plan's plugins checked, delegates added in order (each pushing its DEL onto the stack) and deleted in reverse, best effort.
import { asCniError, CniError, Code } from '../cni/errors';
import { macOf } from '../cni/result';
import { addNetwork, delNetwork } from '../delegate/network';
import { locatePlugin, requireDirs, searchDirs } from '../delegate/find';
import { refuseSelf } from '../delegate/self';
import type { Logger } from '../log';
import type { MacCounts } from '../metrics/stats-merge';
import type { Attachment } from '../state/attachment';
import { writeCache, type CacheEntry } from '../state/cache';
import { invocationFor, type Target, type VerbContext } from './context';

// A verb is a script with a stack: each acquisition pushes its undo (last in, first out); a failure unwinds the stack, success commits it.

interface Step {
  what: string;
  run: (failed: boolean) => unknown;
}

export class Script {
  private readonly stack: Step[] = [];
  /**
   * Set by an undo that could not give back what it acquired (a delegate's DEL failed after its ADD
   * completed): what was acquired before it stays too, for the runtime's DEL to free.
   */
  kept = false;

  constructor(private readonly log: Pick<Logger, 'error'>) {}

  /**
   * Go's `defer`: `run` runs when the script ends, told whether it failed. An undo does its work only
   * on failure (`if (failed)`); a release, such as closing the API agent or unlocking, either way.
   */
  defer(what: string, run: (failed: boolean) => unknown): void {
    this.stack.push({ what, run });
  }

  /** Pops and runs every step, last first; a step that fails is logged and the rest still run. */
  async end(failed: boolean): Promise<void> {
    for (let step = this.stack.pop(); step; step = this.stack.pop()) {
      try {
        await step.run(failed);
      } catch (e) {
        this.log.error(`${step.what} failed: ${(e as Error).message}`);
      }
    }
  }
}

/** Runs `body` on a new stack: its result once the stack ran, or its error once the stack is unwound. */
export async function script<T>(log: Pick<Logger, 'error'>, body: (s: Script) => Promise<T>): Promise<T> {
  const s = new Script(log);
  let result: T;
  try {
    result = await body(s);
  } catch (e) {
    log.error(`rolling back: ${(e as Error)?.message ?? String(e)}`);
    await s.end(true);
    throw e;
  }
  await s.end(false);
  return result;
}

/** What one invocation did to the ledger, summed from the counts its MAC work returns; recorded in the stats file at the end, failed or not. */
export class Tally {
  private allocations = 0;
  private releases = 0;
  private conflicts = 0;

  add(c: MacCounts): void {
    this.allocations += c.allocations;
    this.releases += c.releases;
    this.conflicts += c.conflicts;
  }

  get counts(): MacCounts {
    return { allocations: this.allocations, releases: this.releases, conflicts: this.conflicts };
  }
}

/**
 * A pod's network whose plugin is not installed (a NAD naming one, say), or is macmux itself, is a
 * config error, found before any MAC is taken or delegate run: code 7 naming the network and the plugin.
 */
export function requireInstalled(ctx: VerbContext, attachments: Attachment[]): void {
  const dirs = searchDirs(ctx.conf.binDir, ctx.env.path);
  refuseSelfDelegation(ctx, attachments);
  for (const att of attachments) {
    const network = networkLabel(ctx, att);
    for (const { type } of att.network.plugins) {
      requireDirs(dirs, type);
      if (!locatePlugin(type, dirs)) {
        throw new CniError(Code.InvalidConfig, `${network}: plugin "${type}" not found`, `searched: ${dirs.join(', ')}`);
      }
    }
  }
}

/** Code 7 when a network's plugin (or IPAM plugin) is macmux itself: by type, or by device and inode. */
export function refuseSelfDelegation(ctx: VerbContext, attachments: Attachment[]): void {
  const dirs = searchDirs(ctx.conf.binDir, ctx.env.path);
  for (const att of attachments) refuseSelf(att.network, networkLabel(ctx, att), dirs);
}

/** A NAD as ns/name; the node's clusterNetwork file or a delegate of its config by name. */
function networkLabel(ctx: VerbContext, att: Attachment): string {
  if (att.nad) return `NetworkAttachmentDefinition ${att.nad}`;
  if (att.cluster && ctx.conf.clusterNetwork) return `network config: clusterNetwork ${ctx.conf.clusterNetwork}`;
  return `network config: delegate "${att.name}"`;
}


/**
 * ADDs `atts` of container `t` in order, saving each result in `entry` as it completes. Each delegate
 * defers its undo before it runs: a DEL that skips what is missing, and that marks the script kept
 * when it fails for an attachment whose ADD completed.
 */
export async function addChain(ctx: VerbContext, s: Script, t: Target, entry: CacheEntry, atts: Attachment[]): Promise<void> {
  for (const att of atts) {
    s.defer(`DEL of ${att.name}`, async (failed) => {
      if (failed && blockingFailures(await delAll(ctx, t, [att], entry, true)).length > 0) s.kept = true;
    });
    ctx.log.info(`adding ${att.name} on ${att.ifName}`);
    att.result = await addNetwork(att.network, invocationFor(ctx, t, att));
    writeCache(ctx.conf.cacheDir, entry, 'ordered'); // progress: this attachment completed (its attachments durable already)
    verifyMac(att);
  }
}

/** The delegate must have set the assigned MAC: when its result reports the device's MAC, they must agree. */
export function verifyMac(att: Attachment): void {
  if (!att.mac || !att.result) return;
  const reported = macOf(att.result, att.ifName);
  if (reported && reported.toLowerCase() !== att.mac) {
    throw new CniError(Code.MacNotApplied, `${att.name}: the delegate set MAC ${reported.toLowerCase()} on ${att.ifName}, not the assigned ${att.mac}; does its plugin honour MAC= or the mac capability?`);
  }
}

export interface DelFailure {
  attachment: Attachment;
  error: CniError;
}

/**
 * DELs `atts` of container `t` in reverse order, trying every one; returns the failures. `entry` (when
 * deleting from the cache) adds the directories searched at ADD; `skipMissing` is for rolling back a fresh ADD.
 */
export async function delAll(ctx: VerbContext, t: Target, atts: Attachment[], entry?: CacheEntry, skipMissing = false): Promise<DelFailure[]> {
  const failures: DelFailure[] = [];
  const dirs = [...new Set([...searchDirs(ctx.conf.binDir, ctx.env.path), ...(entry?.dirs ?? [])])];
  for (const att of [...atts].reverse()) {
    try {
      ctx.log.info(`deleting ${att.name} on ${att.ifName}`);
      await delNetwork(att.network, { ...invocationFor(ctx, t, att), dirs }, att.result, skipMissing);
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
