// Broken NetworkAttachmentDefinitions a pod's annotation names: bad JSON, missing type, wrong cniVersion, empty or nested plugins, non-string spec.config, missing NADs.
import { Rng } from './rng';
import { baseConf, cniEnv, containerIdOf, goodNadConfig, podArgs } from './base';
import { GOOD_NADS, NS, OTHER_NS, UID, type CaseBody, type NadSpec } from './types';
import { deepJson, hugeString, wrongType } from './values';
import { UNKNOWN_VERSIONS } from './configs';
import { DEFAULT_NETWORK, NETWORKS } from './annotations';

type Obj = Record<string, unknown>;

/** A broken NAD: its spec (built lazily: some are huge) and what was broken. `codes` defaults to [7]. */
interface BrokenNad {
  what: string;
  codes?: number[];
  /** The NAD's spec, or undefined for a NAD with no spec; `missing` for no NAD at all. */
  spec(name: string, master: string, r: Rng): unknown;
  missing?: boolean;
}

const config = (text: (good: Obj, r: Rng) => string) => (name: string, master: string, r: Rng) => ({ config: text(goodNadConfig(master, name), r) });
const edited = (edit: (c: Obj, r: Rng) => void) => config((c, r) => (edit(c, r), JSON.stringify(c)));

function brokenNad(rng: Rng): BrokenNad {
  return rng.pick<() => BrokenNad>([
    () => {
      const frac = rng.next();
      return { what: `spec.config cut at ${(frac * 100).toFixed(0)}%`, spec: config((c) => JSON.stringify(c).slice(0, Math.max(1, Math.floor(frac * JSON.stringify(c).length)))) };
    },
    () => {
      const g = rng.pick(['null', '[]', '5', '"macvlan"', 'true', '{"type":"macvlan"', "{'type':'macvlan'}", '{"type":"macvlan",}', 'type: macvlan', '   ', '{}{}', '[{"type":"macvlan"}]']);
      return { what: `spec.config ${JSON.stringify(g)}`, spec: () => ({ config: g }) };
    },
    () => ({ what: 'no type', spec: edited((c) => delete c.type) }),
    () => {
      const v = wrongType(rng, 'string');
      return { what: `type ${JSON.stringify(v)}`, spec: edited((c) => (c.type = v)) };
    },
    () => {
      const v = rng.pick(['', '../macvlan', 'mac vlan', '/usr/lib/cni/macvlan', 'macvlan\n']);
      return { what: `type ${JSON.stringify(v)}`, spec: edited((c) => (c.type = v)) };
    },
    () => ({ what: 'type 1 MiB long', spec: edited((c, r) => (c.type = 'm'.repeat(1 << 20) + r.chars(2, 'ab'))) }),
    () => {
      const v = rng.pick(['nosuch', 'macvtap-missing', 'bridge2', 'MACVLAN']);
      return rng.chance(0.5)
        ? { what: `type "${v}", a plugin not installed`, spec: edited((c) => (c.type = v)) }
        : { what: `a conflist whose second plugin "${v}" is not installed`, spec: edited((c) => ((c.plugins = [{ type: c.type, master: c.master, mode: 'bridge' }, { type: v }]), delete c.type)) };
    },
    () => {
      const v = wrongType(rng, 'string', true);
      return { what: `cniVersion ${JSON.stringify(v)}`, spec: edited((c) => (c.cniVersion = v)) };
    },
    () => {
      const v = rng.pick(UNKNOWN_VERSIONS.filter((x) => x !== ''));
      return { what: `cniVersion ${JSON.stringify(v)}`, codes: [1], spec: edited((c) => (c.cniVersion = v)) };
    },
    () => ({ what: 'cniVersion 1 MiB long', codes: [1], spec: edited((c, r) => (c.cniVersion = hugeString(r))) }),
    () => {
      const v = wrongType(rng, 'string', true);
      return { what: `name ${JSON.stringify(v)}`, spec: edited((c) => (c.name = v)) };
    },
    () => ({ what: 'a conflist with no plugins', spec: edited((c) => (delete c.type, (c.plugins = []))) }),
    () => {
      const v = wrongType(rng, 'array');
      return { what: `plugins ${JSON.stringify(v)}`, spec: edited((c) => (delete c.type, (c.plugins = v))) };
    },
    () => ({ what: 'a conflist whose plugin has no type', spec: edited((c) => (delete c.type, (c.plugins = [{ mode: 'bridge' }]))) }),
    () => ({
      what: 'plugins inside a plugin',
      spec: edited((c) => {
        const { name: _n, cniVersion: _v, ...plugin } = { ...c };
        for (const k of Object.keys(plugin)) delete c[k];
        c.plugins = [{ ...plugin, plugins: [plugin] }];
      }),
    }),
    () => ({ what: 'a conflist inside plugins', spec: edited((c) => (delete c.type, (c.plugins = [{ name: 'inner', cniVersion: '1.0.0', plugins: [{ type: 'macvlan' }] }]))) }),
    () => ({ what: 'both type and plugins', spec: edited((c) => (c.plugins = [{ type: 'macvlan' }])) }),
    () => {
      const v = rng.pick<unknown>([{ mac: 'yes' }, ['mac'], 'mac', 1]);
      return { what: `capabilities ${JSON.stringify(v)}`, spec: edited((c) => (c.capabilities = v)) };
    },
    () => {
      const n = rng.int(5000, 60000);
      return { what: `a conflist of ${n} plugins without a type`, spec: edited((c) => (delete c.type, (c.plugins = Array(n).fill({ mode: 'bridge' })))) };
    },
    () => {
      const depth = rng.pick([600, 3000, rng.int(1000, 100000)]);
      return { what: `spec.config nested ${depth} levels deep`, spec: config((c, r) => JSON.stringify({ ...c, ipam: '@@DEEP@@' }).replace('"@@DEEP@@"', deepJson(r, depth))) };
    },
    () => {
      const v = rng.pick<unknown>([{ type: 'macvlan' }, [1], 5, true]);
      return { what: `spec.config ${JSON.stringify(v)} (not a string)`, spec: () => ({ config: v }) };
    },
    () => {
      const v = rng.pick<unknown>([undefined, null, 'x', 5, {}]);
      return { what: `spec ${v === undefined ? 'absent' : JSON.stringify(v)}`, spec: () => v };
    },
    () => ({ what: 'no such NAD', spec: () => undefined, missing: true }),
  ])();
}

export function nadCase(rng: Rng, index: number): CaseBody {
  const b = brokenNad(rng);
  const namespace = rng.chance(0.3) ? OTHER_NS : NS;
  const name = `n${index}`;
  const ref = namespace === NS && rng.chance(0.5) ? name : `${namespace}/${name}`;
  const form = rng.int(0, 9);
  const others = rng.shuffle(GOOD_NADS).slice(0, rng.int(0, 2));
  // The broken NAD among good ones, in the comma or JSON form, or as the default network.
  const annotations: Record<string, string> =
    form < 4 ? { [NETWORKS]: rng.shuffle([ref, ...others.map((o, i) => `${o}@gnet${i}`)]).join(',') }
    : form < 8 ? { [NETWORKS]: JSON.stringify(rng.shuffle([{ name: ref, interface: 'fznet' }, ...others.map((o) => ({ name: o }))])) }
    : { [DEFAULT_NETWORK]: ref, ...(others.length ? { [NETWORKS]: others.join(',') } : {}) };
  const buildSeed = rng.int(0, 0x7fffffff);
  const pod = `fz-${index}`;
  return {
    what: `NAD ${namespace}/${name}: ${b.what}${form >= 8 ? ' (as default network)' : ''}`,
    expect: { codes: b.codes ?? [7], mention: [`${namespace}/${name}`] },
    build: (f) => {
      const spec = b.spec(name, f.master, new Rng(buildSeed));
      const nads: NadSpec[] = b.missing ? [] : [{ namespace, name, ...(spec === undefined ? {} : { spec }) }];
      const cid = containerIdOf(index);
      return { command: 'ADD', stdin: JSON.stringify(baseConf(f)), env: cniEnv(f, cid, podArgs(pod, UID, cid)), pod: { name: pod, annotations }, nads, budget: 10 };
    },
  };
}
