// Frees retained MACs whose anchor is gone: each anchor asked once per sweep, each holding freed by a compare-and-swap at its home.
import type { Existence, KubeApi } from '../k8s/api';
import type { Holding } from './holding';
import { parseAnchor } from './retention';

/** A holding as a census or a home's data shows it: its MAC and where it is recorded. */
export type Seen = Holding & { mac: string };

export interface Swept {
  mac: string;
  owner: string;
  /** `ns/Kind/name`. */
  anchor: string;
  node: string;
  /**
   * freed (its anchor is gone: free at once), would-free (a dry run), skipped (it changed meanwhile), or
   * kept (whether the anchor exists could not be told: it is asked again next time).
   */
  action: 'freed' | 'would-free' | 'skipped' | 'kept';
}

/**
 * Whether the anchor `Kind/name` exists in `namespace`: a StatefulSet by itself; a VirtualMachineInstance
 * while it or the VirtualMachine of the same name exists (a stopped VM has no VMI but keeps its MACs).
 */
export async function anchorState(api: Pick<KubeApi, 'statefulSetState' | 'virtualMachineInstanceState' | 'virtualMachineState'>, namespace: string, anchor: string): Promise<Existence> {
  const a = parseAnchor(anchor);
  if (!a) return 'unknown';
  if (a.kind === 'StatefulSet') return api.statefulSetState(namespace, a.name);
  if (a.kind === 'VirtualMachine') return api.virtualMachineState(namespace, a.name);
  const vmi = await api.virtualMachineInstanceState(namespace, a.name);
  if (vmi === 'exists') return vmi;
  const vm = await api.virtualMachineState(namespace, a.name);
  return vm === 'exists' ? vm : vmi === 'unknown' || vm === 'unknown' ? 'unknown' : 'gone';
}

/** The released retained holdings among `seen`, one per MAC and owner (a holding recorded twice is swept once). */
export function retainedReleased(seen: Iterable<Seen>): Array<Seen & { retain: string }> {
  const out = new Map<string, Seen & { retain: string }>();
  for (const h of seen) if (h.state === 'released' && h.retain !== undefined && h.since !== 0) out.set(`${h.mac} ${h.owner}`, h as Seen & { retain: string });
  return [...out.values()];
}

/**
 * Frees each released retained holding of `seen` whose anchor is gone, asking `exists` once per anchor
 * (namespace, kind and name). `free` frees exactly the holding seen and says whether it still was; without
 * it (a dry run) nothing is written. Reports the holdings whose anchor is gone or could not be checked.
 */
export async function sweepRetained(
  seen: Iterable<Seen>,
  exists: (namespace: string, anchor: string) => Promise<Existence>,
  free?: (h: Seen) => Promise<boolean>,
): Promise<Swept[]> {
  const asked = new Map<string, Promise<Existence>>();
  const out: Swept[] = [];
  for (const h of retainedReleased(seen)) {
    const namespace = h.owner.slice(0, h.owner.indexOf('/'));
    if (!namespace) continue;
    const key = `${namespace}/${h.retain}`;
    if (!asked.has(key)) asked.set(key, exists(namespace, h.retain).catch((): Existence => 'unknown'));
    const state = await asked.get(key)!;
    if (state === 'exists') continue;
    const row: Swept = { mac: h.mac, owner: h.owner, anchor: key, node: h.node, action: 'kept' };
    if (state === 'gone') row.action = free ? ((await free(h)) ? 'freed' : 'skipped') : 'would-free';
    out.push(row);
  }
  return out;
}
