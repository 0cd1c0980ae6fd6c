// Doctor's node-local checks, judged from gathered facts: the config, the delegate plugins, the environment (pure).
import type { NetworkList } from '../../config/load';
import { DEFAULT_CONFIG } from '../setup';
import type { Check, Facts, NetworkFact, PluginProbe } from './types';

/** The plugin types a network runs: each plugin's type and its IPAM plugin's (which the plugin runs from CNI_PATH). */
export function pluginTypes(net: NetworkList): string[] {
  const types: string[] = [];
  for (const p of net.plugins) {
    types.push(p.type);
    const ipam = p.ipam as { type?: unknown } | undefined;
    if (ipam && typeof ipam.type === 'string' && ipam.type) types.push(ipam.type);
  }
  return [...new Set(types)];
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function configCheck(f: Facts): Check {
  if (f.configError !== undefined || !f.conf) {
    const why = f.configError ?? 'no macmux config';
    const missing = /does not exist/.test(why);
    return {
      name: 'config',
      status: 'fail',
      detail: why.includes(f.configFile) ? why : `${f.configFile}: ${why}`,
      hint: missing
        ? `pass --config with the macmux conflist (macmux install writes ${DEFAULT_CONFIG}), then rerun`
        : `fix each field named in ${f.configFile} (paths like $.delegates[0].type), then rerun`,
    };
  }
  const c = f.conf;
  const names = c.delegates.map((d) => String(d.name));
  const parts = [`${f.configFile}: valid`, `${plural(names.length, 'delegate')}${names.length ? ` (${names.join(', ')})` : ''}`];
  if (c.clusterNetwork) parts.push(`clusterNetwork ${c.clusterNetwork}`);
  parts.push(c.macPool ? `MAC ledger on (${c.macPool.rangeStart}-${c.macPool.rangeEnd}) in namespace ${c.macNamespace}` : 'MAC ledger off (no macPool)');
  return { name: 'config', status: 'ok', detail: parts.join(', ') };
}

/** `0.1.0-1.0.0`, or the single version. */
const versionSpan = (v: string[]) => (v.length === 0 ? 'no versions' : v.length === 1 ? v[0]! : `${v[0]}-${v[v.length - 1]}`);

interface Use {
  /** Where the type is used: `delegate cluster`, `NAD default/green`. */
  where: string;
  cniVersion: string;
}

function usesOf(nets: NetworkFact[]): Map<string, Use[]> {
  const uses = new Map<string, Use[]>();
  for (const n of nets) {
    if (!n.network) continue;
    for (const t of pluginTypes(n.network)) uses.set(t, [...(uses.get(t) ?? []), { where: n.what, cniVersion: n.network.cniVersion }]);
  }
  return uses;
}

/** Problems with one plugin type for its uses: missing, VERSION failed, or a network's cniVersion it does not speak. */
function problems(type: string, probe: PluginProbe | undefined, uses: Use[], dirs: string[]): string[] {
  const where = uses.map((u) => u.where).join(', ');
  if (!probe?.path) return [`${type} not found in ${dirs.join(', ') || '(no directory)'} (used by ${where})`];
  if (probe.error !== undefined || !probe.versions) return [`${type} (${probe.path}) did not answer VERSION: ${probe.error ?? 'no supportedVersions'}`];
  const out: string[] = [];
  for (const u of uses) {
    if (!probe.versions.includes(u.cniVersion)) out.push(`${type} does not support cniVersion ${u.cniVersion} of ${u.where} (it supports ${probe.versions.join(', ')})`);
  }
  return out;
}

export function delegatesCheck(f: Facts): Check {
  if (!f.conf) return { name: 'delegates', status: 'skip', detail: 'the config did not load' };
  const broken = f.networks.filter((n) => n.error !== undefined);
  const mine = usesOf(f.networks);
  const nadNets = (f.nads?.items ?? []).filter((n) => n.network);
  const theirs = usesOf(nadNets);
  const fails = broken.map((n) => `${n.what}: ${n.error}`);
  for (const [type, uses] of mine) fails.push(...problems(type, f.probes[type], uses, f.dirs));
  const warns: string[] = [];
  for (const [type, uses] of theirs) {
    // A NAD's plugin may be installed only on the nodes its pods run on: a warning. One the config uses too
    // and that is missing or silent has failed above already.
    const p = f.probes[type];
    if (mine.has(type) && !(p?.path && p.versions)) continue;
    warns.push(...problems(type, p, uses, f.dirs));
  }
  const plugins = [...new Set([...mine.keys(), ...theirs.keys()])].sort().map((type) => {
    const p = f.probes[type];
    return {
      type,
      ...(p?.path ? { path: p.path } : {}),
      ...(p?.versions ? { supportedVersions: p.versions } : {}),
      ...(p?.error ? { error: p.error } : {}),
      usedBy: [...(mine.get(type) ?? []), ...(theirs.get(type) ?? [])].map((u) => u.where),
    };
  });
  const data = { dirs: f.dirs, plugins };
  const found = plugins.filter((p) => p.supportedVersions).map((p) => `${p.type} ${versionSpan(p.supportedVersions!)}`);
  const nadNote = f.nads === undefined ? '; NAD plugins not checked (API unavailable)' : '';
  const where = `${f.dirs.join(', ')}${f.dirsNote ? ` (${f.dirsNote})` : ''}`;
  if (fails.length) {
    return {
      name: 'delegates',
      status: 'fail',
      detail: fails.join('; '),
      hint: delegatesHint(fails, f.conf.binDir ?? f.dirs[0] ?? '/opt/cni/bin'),
      data,
    };
  }
  if (warns.length) {
    return {
      name: 'delegates',
      status: 'warn',
      detail: `${warns.join('; ')}; found ${found.join(', ')}`,
      hint: 'pods on this node that use these NADs will fail at ADD: install the plugins here, or keep those pods off this node',
      data,
    };
  }
  return { name: 'delegates', status: 'ok', detail: `${found.join(', ')} in ${where}${nadNote}`, data };
}

export function environmentCheck(f: Facts): Check {
  const ca = f.env.nodeExtraCaCerts;
  if (ca !== undefined) {
    return {
      name: 'environment',
      status: 'warn',
      detail: `NODE_EXTRA_CA_CERTS=${ca} is set: every macmux start (each CNI call) costs about 45 ms more`,
      hint: 'unset it for the runtime and for kubelet; macmux takes its CA from the kubeconfig (certificate-authority), not from the environment',
    };
  }
  return { name: 'environment', status: 'ok', detail: 'NODE_EXTRA_CA_CERTS is not set' };
}

/** What to do about the delegate problems found: install plugins, fix a plugin, fix a version, fix a network file. */
function delegatesHint(fails: string[], binDir: string): string {
  const todo: string[] = [];
  if (fails.some((x) => / not found in /.test(x))) todo.push(`install the missing plugins into ${binDir} (or point binDir at where they are)`);
  if (fails.some((x) => /did not answer VERSION/.test(x))) todo.push('replace the plugins that do not answer VERSION (a broken or foreign binary)');
  if (fails.some((x) => /does not support cniVersion/.test(x))) todo.push("set each network's cniVersion to one its plugins support (or upgrade the plugins)");
  if (todo.length === 0) todo.push('fix the networks named above');
  return `${todo.join('; ')}; then rerun`;
}
