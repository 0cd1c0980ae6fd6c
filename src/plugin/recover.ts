// A damaged cache entry: its attachments rebuilt from the config and the pod (annotations and NADs via the API) and deleted, or the error when they cannot be.
import { asCniError, CniError, Code } from '../cni/errors';
import type { PodInfo } from '../cni/env';
import { heldBy } from '../mac/journal';
import type { Attachment } from '../state/attachment';
import { markRecovered, setAside, type CacheRead } from '../state/cache';
import { delAll, type Tally } from './chain';
import { ledgerOn, staticPlan, withPod, type Target, type VerbContext } from './context';
import { openApi, podPlan, readPod } from './k8s';
import { releaseHeld } from './macs';

/** The whole plan, or why not (with what the config alone names, when it can be read); `pod` as the API answered it, when it did. */
export type Rebuilt = ({ atts: Attachment[] } | { partial: Attachment[]; cause: CniError }) & { pod?: PodInfo };

/** Whether this invocation can reach the Kubernetes API (a kubeconfig, or in a cluster): then pods had their own networks. */
export const apiConfigured = (ctx: VerbContext) => Boolean(ctx.conf.kubeconfig || ctx.getenv('KUBERNETES_SERVICE_HOST'));

/**
 * What ADD planned, as far as it can be known again: the config's static plan when the pod is not a
 * Kubernetes pod with the API configured (ADD used only that), else the pod's plan read from the API
 * now (its annotations may have changed since ADD: what they name now is what is deleted). The pod
 * gone or re-created, the API unreachable or refusing, the config unreadable: not rebuilt.
 */
export async function rebuildPlan(ctx: VerbContext, t: Target, pod: PodInfo | undefined): Promise<Rebuilt> {
  let statics: Attachment[];
  try {
    statics = staticPlan(ctx, t.ifName);
  } catch (e) {
    return { partial: [], cause: asCniError(e) };
  }
  if (!pod) return { atts: statics };
  let known: PodInfo | undefined;
  try {
    const api = await openApi(ctx, t.budget);
    try {
      const obj = await readPod(api, pod);
      known = { ...pod, ...(obj.metadata.uid ? { uid: obj.metadata.uid } : {}) };
      return { atts: await podPlan(ctx, api, obj, t.ifName), pod: known };
    } finally {
      api.close();
    }
  } catch (e) {
    return { partial: statics, cause: asCniError(e), ...(known ? { pod: known } : {}) };
  }
}

/**
 * DEL from a damaged cache entry set aside at `aside`. With the attachments rebuilt (see rebuildPlan),
 * every delegate's DEL runs and must succeed, the MACs the journal gives this container are released,
 * and the aside is kept as *.recovered. Otherwise the config's attachments are deleted, no MAC is
 * released (the pod's interfaces may still use them), and the error names the aside.
 */
export async function recoverDel(ctx: VerbContext, tally: Tally, t: Target, aside: string, pod: PodInfo | undefined): Promise<void> {
  const { log, conf } = ctx;
  const rebuilt = await rebuildPlan(ctx, t, pod);
  const known = withPod(t, rebuilt.pod);
  if ('cause' in rebuilt) {
    for (const f of await delAll(ctx, known, rebuilt.partial)) log.error(`DEL of the config's ${f.attachment.name} failed too: ${f.error.message}`);
    throw unrecoverable(t.containerID, aside, rebuilt.cause);
  }
  log.info(`container ${t.containerID}: ${rebuilt.atts.length} attachment(s) rebuilt from the config${pod ? ` and pod ${pod.namespace}/${pod.name}` : ''}; deleting them`);
  // Whether each one's ADD completed is unknown: any failure keeps the aside pending, for the retry.
  const failures = await delAll(ctx, known, rebuilt.atts);
  if (failures.length > 0) {
    log.error(`container ${t.containerID}: recovery from ${aside} incomplete (${failures.length} delegate DEL(s) failed); it stays pending for the runtime's retry`);
    throw failures[0]!.error;
  }
  const released = ledgerOn(ctx) ? await releaseJournaled(ctx, tally, known, pod) : 0;
  markRecovered(conf.cacheDir, t.containerID);
  log.error(`container ${t.containerID}: recovered from the damaged cache entry ${aside} (kept as ${aside}.recovered): ${rebuilt.atts.length} attachment(s) deleted, ${released} MAC(s) released`);
}

/**
 * ADD finding a damaged entry of its own container (an earlier ADD's, whose attachments are unknown):
 * set aside, this ADD's attachments deleted first, as that earlier ADD of the same pod most likely made
 * them, then the aside kept as recovered. Failures are logged: the ADD that follows reports its own.
 */
export async function clearDamaged(ctx: VerbContext, t: Target, read: Extract<CacheRead, { kind: 'corrupt' }>, atts: Attachment[]): Promise<void> {
  const { conf, log } = ctx;
  const aside = setAside(conf.cacheDir, t.containerID, read, (m) => log.error(m));
  log.error(`container ${t.containerID}: deleting this ADD's ${atts.length} attachment(s) first, in case the earlier ADD of ${aside} left them`);
  for (const f of await delAll(ctx, t, atts)) log.error(`ignored before ADD: ${f.error.message}`);
  markRecovered(conf.cacheDir, t.containerID);
}

/** Releases the MACs the node's journal says container `t` holds (only `pod`'s, when the pod is known); returns how many. */
export async function releaseJournaled(ctx: VerbContext, tally: Tally, t: Target, pod: PodInfo | undefined): Promise<number> {
  const held = (await heldBy(ctx.conf.cacheDir, t.containerID, ctx.conf.lockTimeout * 1000, (m) => ctx.log.error(m))).filter(
    (h) => !pod || h.owner.startsWith(`${pod.namespace}/${pod.name}/`),
  );
  if (held.length === 0) return 0;
  ctx.log.info(`releasing ${held.map((h) => `${h.mac} (${h.owner})`).join(', ')}, held by this container in the journal`);
  tally.add(await releaseHeld(ctx, t, held.map((h) => ({ mac: h.mac, macOwner: h.owner }))));
  return held.length;
}

/**
 * The error of a DEL (or GC) that could not rebuild a damaged entry's attachments: code 11 while the
 * API is unreachable (a retry will do), else 5; it names the file set aside and what unblocks it.
 */
export function unrecoverable(containerID: string, aside: string, cause: CniError): CniError {
  const transient = cause.code === Code.TryAgainLater;
  const next = transient
    ? 'DEL fails until the API answers; the runtime retries it'
    : `DEL fails until this is resolved: if the pod had secondary networks, remove what is left of them by hand, then delete ${aside} and DEL succeeds`;
  return new CniError(
    transient ? Code.TryAgainLater : Code.IO,
    `container ${containerID}: its cache entry was damaged (moved aside to ${aside}) and its attachments cannot be rebuilt (${cause.message}); only the config's were deleted. ${next}`,
  );
}
