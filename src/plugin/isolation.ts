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

/**
 * Whether a NAD of `nadNamespace` with an empty spec.config may use the node's network file of its
 * name in confDir. Those files are the node's, prepared by the operator for no namespace in
 * particular, and a NAD picks one by name alone: under isolation only a NAD of globalNamespaces may,
 * or any tenant could reach a file network by creating a NAD of the same name in its own namespace.
 */
export function checkFileNetwork(policy: IsolationPolicy, nad: { namespace: string; name: string }, confDir: string): void {
  if (!policy.namespaceIsolation || policy.globalNamespaces.includes(nad.namespace)) return;
  throw new CniError(
    Code.InvalidConfig,
    `NetworkAttachmentDefinition ${nad.namespace}/${nad.name}: spec.config is empty, and under namespace isolation (namespaceIsolation, on by default) only NADs of globalNamespaces may use a network file of ${confDir}; give the NAD its config, or create it in a namespace listed in globalNamespaces`,
  );
}
