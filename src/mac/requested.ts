// Which MACs a pod may request: the node's requestedMacs setting, lifted by its namespace's label (pure).
import { inRange, macToInt, rangeText, type PoolSpec } from './range';

export type RequestedMacs = 'any' | 'range' | 'none';
/** A namespace labelled `any` may request any MAC whatever the node's setting. */
export const REQUESTED_LABEL = 'macmux.io/requested-macs';

/**
 * Why `mac`, requested by `pod` (`ns/name`) on network `network`, is refused; undefined when it may be
 * requested: under `any`, in a namespace labelled `any`, or under `range` inside the pool's range.
 */
export function requestRefusal(mac: string, pod: string, network: string, setting: RequestedMacs, label: string | undefined, spec: PoolSpec): string | undefined {
  if (setting === 'any' || label === 'any') return undefined;
  if (setting === 'range' && inRange(spec, macToInt(mac))) return undefined;
  const rule = setting === 'range' ? `only MACs in the pool range ${rangeText(spec)} may be requested` : 'no MAC may be requested, pool MACs only';
  const ns = pod.split('/')[0];
  return `pod ${pod} requests MAC ${mac} on ${network}: refused by the node's setting requestedMacs: ${setting} (${rule}); a namespace labelled ${REQUESTED_LABEL}=any may (kubectl label namespace ${ns} ${REQUESTED_LABEL}=any)`;
}
