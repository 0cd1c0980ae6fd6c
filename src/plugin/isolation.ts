// Namespace isolation: which namespaces' NetworkAttachmentDefinitions a pod may use (pure).
import { CniError, Code } from '../cni/errors';
import type { PodRef } from '../annotations/networks';

/** The node config's two settings. */
export interface IsolationPolicy {
  /** On (the default): a pod may use NADs of its own namespace and of globalNamespaces only. */
  namespaceIsolation: boolean;
  globalNamespaces: readonly string[];
}

/** Whether a pod of namespace `podNamespace` may use a NAD of namespace `nadNamespace`. */
export function mayUse(policy: IsolationPolicy, podNamespace: string, nadNamespace: string): boolean {
  return !policy.namespaceIsolation || nadNamespace === podNamespace || policy.globalNamespaces.includes(nadNamespace);
}

/**
 * Code 7 for the first NAD the pod may not use, naming the pod, the NAD as ns/name and the setting
 * that would allow it. Only the pod's own selections are checked: the node config's networks are exempt.
 */
export function checkIsolation(policy: IsolationPolicy, pod: PodRef, wanted: ReadonlyArray<{ namespace: string; name: string }>): void {
  const bad = wanted.find((s) => !mayUse(policy, pod.namespace, s.namespace));
  if (!bad) return;
  const globals = policy.globalNamespaces.length ? policy.globalNamespaces.map((n) => `"${n}"`).join(', ') : 'none';
  throw new CniError(
    Code.InvalidConfig,
    `pod ${pod.namespace}/${pod.name} may not use NetworkAttachmentDefinition ${bad.namespace}/${bad.name}: namespace isolation (namespaceIsolation, on by default) allows only NADs of the pod's own namespace and of globalNamespaces (${globals}); add "${bad.namespace}" to globalNamespaces, or set namespaceIsolation: false, in the node's macmux config`,
  );
}
