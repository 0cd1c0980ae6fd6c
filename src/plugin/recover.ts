// A damaged cache entry's attachments, rebuilt from the config and the pod (annotations and NADs via the API), and the error when they cannot be.
import { asCniError, CniError, Code } from '../cni/errors';
import type { PodInfo } from '../state/cache';
import { staticPlan, type VerbContext } from './context';
import type { Attachment } from './plan';

/** The whole plan, or why not (with what the config alone names, when it can be read). */
export type Rebuilt = { atts: Attachment[] } | { partial: Attachment[]; cause: CniError };

/** Whether this invocation can reach the Kubernetes API (a kubeconfig, or in a cluster): then pods had their own networks. */
export const apiConfigured = (ctx: VerbContext) => Boolean(ctx.conf.kubeconfig || ctx.getenv('KUBERNETES_SERVICE_HOST'));

/**
 * What ADD planned, as far as it can be known again: the config's static plan when the pod is not a
 * Kubernetes pod with the API configured (ADD used only that), else the pod's plan read from the API
 * now (its annotations may have changed since ADD: what they name now is what is deleted). The pod
 * gone or re-created, the API unreachable or refusing, the config unreadable: not rebuilt.
 */
export async function rebuildPlan(ctx: VerbContext, pod: PodInfo | undefined): Promise<Rebuilt> {
  let statics: Attachment[];
  try {
    statics = staticPlan(ctx);
  } catch (e) {
    return { partial: [], cause: asCniError(e) };
  }
  if (!pod) return { atts: statics };
  try {
    const k8s = await import('./k8s');
    const api = await k8s.openApi(ctx, ctx.conf.timeBudget.del);
    try {
      const obj = await k8s.readPod(api, pod);
      ctx.pod = { ...pod, ...(obj.metadata.uid ? { uid: obj.metadata.uid } : {}) };
      return { atts: await k8s.podPlan(ctx, api, obj) };
    } finally {
      api.close();
    }
  } catch (e) {
    return { partial: statics, cause: asCniError(e) };
  }
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
