// STATUS's verdict from what its checks found, and the host devices a delegate's attachment relies on (pure).
import { CniError, Code } from '../cni/errors';
import type { PluginConf } from '../config/load';

/**
 * One finding of STATUS: `unavailable` means an ADD cannot be served now (code 50), `degraded` that
 * pods already on the node are impaired (code 51), `delegate` a delegate's own STATUS error (its code).
 */
export interface Problem {
  kind: 'unavailable' | 'degraded' | 'delegate';
  msg: string;
  /** For a delegate's error, the code it answered. */
  code?: number;
  details?: string;
}

/**
 * The STATUS answer, undefined when ready. The code is 51 when pods are degraded (by macmux's own scan
 * or a delegate's 51), else 50 when macmux cannot serve an ADD, else the first delegate's own code.
 * The message names every problem: degraded pods first, then what stops an ADD, then the delegates'.
 */
export function verdict(problems: Problem[]): CniError | undefined {
  if (problems.length === 0) return undefined;
  const of = (kind: Problem['kind']) => problems.filter((p) => p.kind === kind);
  const degraded = of('degraded');
  const unavailable = of('unavailable');
  const delegates = of('delegate');
  const parts = [
    ...(degraded.length ? [`existing pods are degraded: ${degraded.map((p) => p.msg).join('; ')}`] : []),
    ...(unavailable.length ? [`macmux cannot serve ADD: ${unavailable.map((p) => p.msg).join('; ')}`] : []),
    ...delegates.map((p) => p.msg),
  ];
  const code =
    degraded.length || delegates.some((p) => p.code === Code.PluginLimitedConnectivity) ? Code.PluginLimitedConnectivity
    : unavailable.length ? Code.PluginNotAvailable
    : delegates[0]!.code ?? Code.PluginNotAvailable;
  const details = problems.map((p) => p.details).filter((d): d is string => !!d);
  return new CniError(code, parts.join('; '), [...new Set(details)].join('; '));
}

/** At most `max` items, then how many more there are. */
export function listed(items: string[], max = 5): string[] {
  return items.length <= max ? items : [...items.slice(0, max), `and ${items.length - max} more`];
}

const IFNAME = /^[^\s/:]{1,15}$/;

/**
 * Host devices an attachment of `plugin` keeps relying on after its ADD: `master` (the lower device
 * of macvlan, ipvlan, macvtap) and `bridge` (of bridge and ovs). host-device's `device` moves into the
 * pod, so it is not one. `needed` marks the devices an ADD needs to exist beforehand (a bridge the
 * bridge plugin creates itself is not).
 */
export function hostDevices(plugin: PluginConf): Array<{ name: string; field: 'master' | 'bridge'; needed: boolean }> {
  const out: Array<{ name: string; field: 'master' | 'bridge'; needed: boolean }> = [];
  for (const field of ['master', 'bridge'] as const) {
    const name = plugin[field];
    if (typeof name === 'string' && IFNAME.test(name) && name !== '.' && name !== '..') out.push({ name, field, needed: field === 'master' });
  }
  return out;
}
