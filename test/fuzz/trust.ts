// Trust-boundary cases: NADs that would make macmux run itself (type macmux, as IPAM, carrying macmux's own fields), NADs of namespaces isolation forbids, and MACs under keys only Go plugins read as mac.
import { Rng } from './rng';
import { baseConf, cniEnv, containerIdOf, goodNadConfig, podArgs } from './base';
import { COPY_TYPE, FOREIGN_NS, NS, OTHER_NS, UID, type CaseBody, type Frame, type NadSpec } from './types';
import { DEFAULT_NETWORK, NETWORKS } from './annotations';
import { NESTED_REFUSAL } from '../../src/cni/nesting';

type Obj = Record<string, unknown>;

/** macmux's own settings, as a NAD would set them were they read: each points into the canary dir, or at a root-only file. */
function macmuxFields(rng: Rng, f: Frame): Obj {
  const all: Obj = {
    binDir: '/bin',
    cacheDir: `${f.canary}/cache`,
    logFile: `${f.canary}/log`,
    logLevel: 3,
    kubeconfig: rng.pick(['/etc/shadow', `${f.canary}/kubeconfig`]),
    confDir: f.canary,
    clusterNetwork: `${f.canary}/cluster.conf`,
    deviceCheckpoint: '/etc/shadow',
    macPool: { rangeStart: '02:fb:00:00:00:00', rangeEnd: '02:fb:00:00:00:ff' },
    macNamespace: 'default',
    nodeName: 'elsewhere',
    // The issue's payload: /bin/sh reading the config runs the command substitution.
    delegates: [{ name: 'x', type: 'sh', masterPlugin: true, x: `$(id > ${f.canary}/pwned)` }],
  };
  const keys = rng.shuffle(Object.keys(all)).slice(0, rng.int(1, Object.keys(all).length));
  if (!keys.includes('delegates') && !keys.includes('clusterNetwork')) keys.push('delegates');
  // Always: a build that obeys it (before the fix) then writes into the canary, never to /var/lib/macmux.
  if (!keys.includes('cacheDir')) keys.push('cacheDir');
  return Object.fromEntries(keys.map((k) => [k, all[k]]));
}

interface Bad {
  what: string;
  /** A copy's refusal comes from the delegate, which names the network by its config's name. */
  copy?: boolean;
  /** The NAD's config; macvlan on the worker's bridge unless the variant says otherwise. */
  config(name: string, f: Frame, r: Rng): Obj;
}

function selfNad(rng: Rng): Bad {
  return rng.pick<() => Bad>([
    () => ({ what: 'type macmux with macmux fields', config: (name, f, r) => ({ cniVersion: '1.0.0', name, type: 'macmux', ...macmuxFields(r, f) }) }),
    () => ({ what: 'type macmux, only a cacheDir', config: (name, f) => ({ cniVersion: '1.0.0', name, type: 'macmux', cacheDir: f.canary }) }),
    () => ({
      what: 'a conflist whose last plugin is macmux',
      config: (name, f, r) => ({ cniVersion: '1.0.0', name, plugins: [{ type: 'macvlan', master: f.master, mode: 'bridge' }, { type: 'macmux', ...macmuxFields(r, f) }] }),
    }),
    () => ({ what: `a copy of macmux named ${COPY_TYPE} with macmux fields`, copy: true, config: (name, f, r) => ({ cniVersion: '1.0.0', name, type: COPY_TYPE, ...macmuxFields(r, f) }) }),
    () => ({ what: `a copy of macmux named ${COPY_TYPE} as the IPAM plugin`, copy: true, config: (name, f, r) => ({ ...goodNadConfig(f.master, name), cacheDir: f.canary, ipam: { type: COPY_TYPE, ...macmuxFields(r, f) } }) }),
    () => ({ what: 'macmux as the IPAM plugin', config: (name, f, r) => ({ ...goodNadConfig(f.master, name), cacheDir: f.canary, ipam: { type: 'macmux', ...macmuxFields(r, f) } }) }),
    () => ({
      what: 'macmux as the IPAM plugin of a conflist\'s first plugin',
      config: (name, f, r) => ({ cniVersion: '1.0.0', name, plugins: [{ type: 'macvlan', master: f.master, mode: 'bridge', cacheDir: f.canary, ipam: { type: 'macmux', ...macmuxFields(r, f) } }, { type: 'tuning' }] }),
    }),
  ])();
}

/** A NAD that would run macmux, in any annotation form (as a secondary or as the default network). */
function selfCase(rng: Rng, index: number): CaseBody {
  const b = selfNad(rng);
  const name = `t${index}`;
  // A copy is refused only once it runs, after a secondary's pool MAC was taken (and, rolled back, kept released for
  // its owner, by design): it replaces the cluster network, which takes none, so that nothing at all is left.
  const form = b.copy ? 4 + rng.int(0, 1) : rng.int(0, 5);
  const buildSeed = rng.int(0, 0x7fffffff);
  const annotations: Record<string, string> =
    form < 2 ? { [NETWORKS]: rng.chance(0.5) ? name : `${NS}/${name}@fznet` }
    : form < 4 ? { [NETWORKS]: JSON.stringify([{ name, ...(rng.chance(0.5) ? { namespace: NS } : {}) }]) }
    : { [DEFAULT_NETWORK]: name };
  const pod = `fz-${index}`;
  return {
    what: `NAD ${NS}/${name}: ${b.what}${form >= 4 ? ' (as default network)' : ''}`,
    expect: { codes: [7], mention: b.copy ? [name, NESTED_REFUSAL] : [`${NS}/${name}`, 'macmux'] },
    build: (f) => {
      const nads: NadSpec[] = [{ namespace: NS, name, spec: { config: JSON.stringify(b.config(name, f, new Rng(buildSeed))) } }];
      const cid = containerIdOf(index);
      return { command: 'ADD', stdin: JSON.stringify(baseConf(f)), env: cniEnv(f, cid, podArgs(pod, UID, cid)), pod: { name: pod, annotations }, nads, budget: 10 };
    },
  };
}

/**
 * A pod naming a NAD of a namespace isolation forbids: FOREIGN_NS under the base config, or OTHER_NS under
 * a config whose globalNamespaces leave it out. The NAD is well-formed: only the namespace is wrong.
 */
function crossCase(rng: Rng, index: number): CaseBody {
  const foreign = rng.chance(0.6);
  const ns = foreign ? FOREIGN_NS : OTHER_NS;
  const name = `x${index}`;
  const form = rng.int(0, 6);
  const annotations: Record<string, string> =
    form === 0 ? { [NETWORKS]: `${ns}/${name}` }
    : form === 1 ? { [NETWORKS]: `good-a@gnet0, ${ns}/${name}@fznet` }
    : form === 2 ? { [NETWORKS]: JSON.stringify([{ name, namespace: ns }]) }
    : form === 3 ? { [NETWORKS]: JSON.stringify([{ name: 'good-b' }, { name: `${ns}/${name}`, interface: 'fznet' }]) }
    : form === 4 ? { [NETWORKS]: JSON.stringify([{ name, namespace: ns, isPrimary: true }]) }
    : form === 5 ? { [DEFAULT_NETWORK]: `${ns}/${name}` }
    : { [DEFAULT_NETWORK]: JSON.stringify({ name, namespace: ns }) };
  // Settings that still forbid `ns`: the base config (FOREIGN_NS is not global), or globalNamespaces without OTHER_NS.
  const globals = foreign ? undefined : rng.pick<string[]>([[], ['other2'], ['othe'], [NS], [FOREIGN_NS, 'kube-system']]);
  const explicit = rng.chance(0.3);
  const pod = `fz-${index}`;
  return {
    what: `pod ${NS}/${pod} names NAD ${ns}/${name} (annotation form ${form})${globals ? `, globalNamespaces ${JSON.stringify(globals)}` : ''}${explicit ? ', namespaceIsolation: true' : ''}`,
    expect: { codes: [7], mention: [`${NS}/${pod}`, `${ns}/${name}`, 'globalNamespaces', 'namespaceIsolation: false'] },
    build: (f) => {
      const conf = { ...baseConf(f), ...(globals ? { globalNamespaces: globals } : {}), ...(explicit ? { namespaceIsolation: true } : {}) };
      const nads: NadSpec[] = [{ namespace: ns, name, spec: { config: JSON.stringify(goodNadConfig(f.master, name)) } }];
      const cid = containerIdOf(index);
      return { command: 'ADD', stdin: JSON.stringify(conf), env: cniEnv(f, cid, podArgs(pod, UID, cid)), pod: { name: pod, annotations }, nads, budget: 10, noNadRequests: true };
    },
  };
}

/** Spellings of mac, args and cni that Go's JSON decoding reads as those keys (case, the Kelvin sign, long s). */
const FOLDED: Record<string, string[]> = { mac: ['MAC', 'Mac', 'mAC', 'maC'], args: ['ARGS', 'Args', 'aRgS', 'arg\u017F'], cni: ['CNI', 'Cni', 'cnI'] };

/**
 * A MAC set under a key macmux does not see but a Go plugin reads as `mac` (a NAD plugin's own, in its args or
 * args.cni, or in the pod's cni-args), so that a pod could carry a MAC the ledger never checked.
 */
function foldCase(rng: Rng, index: number): CaseBody {
  const name = `k${index}`;
  const mac = '02:fb:00:00:00:01';
  const spell = (k: string) => rng.pick(FOLDED[k]!);
  const where = rng.int(0, 4);
  const tuning: Obj =
    where === 0 ? { type: 'tuning', [spell('mac')]: mac }
    : where === 1 ? { type: 'tuning', args: { [spell('cni')]: { mac } } }
    : where === 2 ? { type: 'tuning', [spell('args')]: { cni: { mac } } }
    : where === 3 ? { type: 'tuning', args: { cni: { [spell('mac')]: mac } } }
    : { type: 'tuning' };
  const cniArgs = where === 4 ? { [spell('mac')]: mac, ...(rng.chance(0.5) ? { mac: '02:fb:00:00:00:02' } : {}) } : undefined;
  const pod = `fz-${index}`;
  const annotations = { [NETWORKS]: JSON.stringify([{ name, ...(cniArgs ? { 'cni-args': cniArgs } : {}) }]) };
  return {
    what: `NAD ${NS}/${name}: tuning with ${JSON.stringify(cniArgs ?? tuning)}`,
    expect: { codes: [7], mention: ['spelled differently'] },
    build: (f) => {
      const config = { cniVersion: '1.0.0', name, plugins: [{ type: 'macvlan', master: f.master, mode: 'bridge', capabilities: { mac: true } }, tuning] };
      const nads: NadSpec[] = [{ namespace: NS, name, spec: { config: JSON.stringify(config) } }];
      const cid = containerIdOf(index);
      return { command: 'ADD', stdin: JSON.stringify(baseConf(f)), env: cniEnv(f, cid, podArgs(pod, UID, cid)), pod: { name: pod, annotations }, nads, budget: 10 };
    },
  };
}

export function trustCase(rng: Rng, index: number): CaseBody {
  const pick = rng.next();
  return pick < 0.4 ? selfCase(rng, index) : pick < 0.8 ? crossCase(rng, index) : foldCase(rng, index);
}
