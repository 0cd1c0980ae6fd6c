// MAC retention beyond the grace period: the pod annotation, the owner it names (the anchor), and its owner-index keys (pure).
import { CniError, Code, quote } from '../cni/errors';
import type { ObjectMeta } from '../k8s/api';

export const RETENTION_ANNOTATION = 'macmux.io/mac-retention';
/** The label KubeVirt puts on a virt-launcher pod: its VirtualMachineInstance's UID. */
export const KUBEVIRT_CREATED_BY = 'kubevirt.io/created-by';

/**
 * The kinds an anchor may name. A pod's annotation yields StatefulSet or VirtualMachineInstance (its
 * controller); VirtualMachine is read too, for holdings a later release may write.
 */
export const ANCHOR_KINDS = ['StatefulSet', 'VirtualMachineInstance', 'VirtualMachine'] as const;
export type AnchorKind = (typeof ANCHOR_KINDS)[number];

/** The controllers a pod may retain its MACs for: ownerReference apiVersion and kind. */
const CONTROLLERS: ReadonlyArray<{ apiVersion: string; kind: AnchorKind }> = [
  { apiVersion: 'apps/v1', kind: 'StatefulSet' },
  { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance' },
];
const SUPPORTED = 'a StatefulSet (apps/v1) or a KubeVirt VirtualMachineInstance (kubevirt.io/v1) as its controller (metadata.ownerReferences with controller: true)';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A Kubernetes object name: a DNS-1123 subdomain of at most 253 characters. */
const isObjectName = (s: string) => s.length <= 253 && DNS1123_SUBDOMAIN.test(s);

/** `Kind/name` as a holding and the owner index record it: a kind of ANCHOR_KINDS and a valid object name. */
export function isAnchor(s: string): boolean {
  return parseAnchor(s) !== undefined;
}

/** The kind and name of an anchor `Kind/name`, or undefined when it is not a valid one. */
export function parseAnchor(s: string): { kind: AnchorKind; name: string } | undefined {
  const i = s.indexOf('/');
  const kind = s.slice(0, i) as AnchorKind;
  const name = s.slice(i + 1);
  return i > 0 && ANCHOR_KINDS.includes(kind) && isObjectName(name) ? { kind, name } : undefined;
}

/**
 * The anchor a pod retains its MACs for, from its metadata: undefined without the annotation; with
 * `owner`, its controller `Kind/name` when that is a StatefulSet or a VirtualMachineInstance. The
 * ownerReference decides: KubeVirt sets it on every virt-launcher pod, and the kubevirt.io/created-by
 * label holds only the VMI's UID, which names no object without a list; when both are there they must
 * agree. Any other value, or no supported controller, is code 7 naming the annotation and the pod.
 */
export function retentionOf(pod: { namespace: string; name: string }, meta: Pick<ObjectMeta, 'annotations' | 'labels' | 'ownerReferences'> | undefined): string | undefined {
  const value = meta?.annotations?.[RETENTION_ANNOTATION];
  if (value === undefined) return undefined;
  const where = `pod ${pod.namespace}/${pod.name}: annotation ${RETENTION_ANNOTATION}`;
  if (value !== 'owner') {
    throw new CniError(Code.InvalidConfig, `${where} is ${quote(value, 40)}: the only value is "owner" (keep the pod's MACs for as long as its controller exists: ${SUPPORTED}); remove the annotation or set it to "owner"`);
  }
  const refs = Array.isArray(meta?.ownerReferences) ? meta!.ownerReferences : [];
  const ctl = refs.find((r) => r?.controller === true);
  const createdBy = meta?.labels?.[KUBEVIRT_CREATED_BY];
  if (!ctl) {
    const label = createdBy !== undefined ? ` (its ${KUBEVIRT_CREATED_BY} label alone does not name the VirtualMachineInstance: KubeVirt also sets the ownerReference)` : '';
    throw new CniError(Code.InvalidConfig, `${where} is "owner", but the pod has no controller${label}; it needs ${SUPPORTED}`);
  }
  const kind = typeof ctl.kind === 'string' ? ctl.kind : '';
  const apiVersion = typeof ctl.apiVersion === 'string' ? ctl.apiVersion : '';
  const name = typeof ctl.name === 'string' ? ctl.name : '';
  const supported = CONTROLLERS.find((c) => c.kind === kind && c.apiVersion === apiVersion);
  const it = `its controller ${quote(`${apiVersion} ${kind}`, 60)} ${quote(name, 60)}`;
  if (!supported) throw new CniError(Code.InvalidConfig, `${where} is "owner", but ${it} is not supported; it needs ${SUPPORTED}`);
  if (!isObjectName(name)) throw new CniError(Code.InvalidConfig, `${where} is "owner", but the name of ${it} is not a valid object name (a DNS-1123 subdomain of at most 253 characters)`);
  if (supported.kind === 'VirtualMachineInstance' && createdBy !== undefined && ctl.uid !== undefined && createdBy !== ctl.uid) {
    throw new CniError(Code.InvalidConfig, `${where} is "owner", but ${it} has uid ${quote(String(ctl.uid), 40)} while the pod's ${KUBEVIRT_CREATED_BY} label says ${quote(createdBy, 40)}: not a virt-launcher pod KubeVirt made`);
  }
  return `${supported.kind}/${name}`;
}

/** The owner index's lookup key for a retained pod (not a StatefulSet's, see owners.ts indexKey): `ns/Kind/name/attachment`. */
export const retentionKey = (namespace: string, anchor: string, attachment: string) => `${namespace}/${anchor}/${attachment}`;

/** What names the owner-index object of such a pod: `ns/Kind/name`, so every pod of one anchor reads and writes one object. */
export const retentionScope = (namespace: string, anchor: string) => `${namespace}/${anchor}`;
