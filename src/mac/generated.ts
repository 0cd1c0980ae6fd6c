// Whether the API server generated a pod's name, and so whether its MACs go through the owner index (pure).
import type { ObjectMeta } from '../k8s/api';
import type { PodInfo } from '../cni/env';

/** The API server's generated suffix: 5 characters of its generator's alphabet (k8s.io/apiserver names.SimpleNameGenerator). */
const GENERATED_SUFFIX = /[bcdfghjklmnpqrstvwxz2456789]{5}$/;
/** The generator's limit: a longer generateName is cut to this many characters before the suffix. */
const MAX_GENERATED_PREFIX = 58;
/** The label the StatefulSet controller puts on each of its pods (Kubernetes 1.28+): its ordinal. */
const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';

/**
 * Whether the API server generated the pod's name: metadata.generateName (cut as the generator cuts it) and its
 * 5-character suffix. A StatefulSet's pod carries generateName too (its controller makes every pod from the
 * template), but names it itself, `<set>-<ordinal>`, which may look generated (ordinal 22222): a pod with a
 * StatefulSet as its controller, or with the StatefulSet's ordinal label, never counts as generated.
 */
export function isGenerated(meta: Pick<ObjectMeta, 'name' | 'generateName' | 'labels' | 'ownerReferences'>): boolean {
  if (meta.labels?.[POD_INDEX_LABEL] !== undefined) return false;
  if (Array.isArray(meta.ownerReferences) && meta.ownerReferences.some((r) => r?.controller === true && r.kind === 'StatefulSet')) return false;
  const prefix = typeof meta.generateName === 'string' ? meta.generateName.slice(0, MAX_GENERATED_PREFIX) : '';
  return prefix !== '' && meta.name.length === prefix.length + 5 && meta.name.startsWith(prefix) && GENERATED_SUFFIX.test(meta.name);
}

/**
 * Whether `pod`'s MACs go through the owner index: not a pod whose name the API server generated (a Deployment's,
 * a Job's, a DaemonSet's: no pod is ever re-created under it), unless it is retained for an owner other than a
 * StatefulSet (a virt-launcher pod: the anchor's key carries over to the next pod of the VM).
 */
export const indexed = (pod: Pick<PodInfo, 'generated' | 'retain'>) => !pod.generated || (pod.retain !== undefined && !pod.retain.startsWith('StatefulSet/'));
