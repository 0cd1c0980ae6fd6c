// Gathers what doctor judges: the config, the plugins (asked for VERSION), the API's answers, the ConfigMaps and this node's journal (read-only).
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CniError } from '../../cni/errors';
import { LATEST_VERSION } from '../../cni/versions';
import { findConfFile } from '../../config/confdir';
import { DEFAULT_CONF_DIR, toNetworkList, type Conf } from '../../config/load';
import { nadNetwork } from '../../config/nad';
import { loadNetworkFile } from '../../config/netfile';
import { execPlugin } from '../../delegate/exec';
import { locatePlugin, searchDirs } from '../../delegate/find';
import { API_PERMISSIONS, KubeApi, type Nad } from '../../k8s/api';
import { kubeStore } from '../../k8s/cmstore';
import { loadCredentials } from '../../k8s/credentials';
import { ApiTransport } from '../../k8s/http';
import { LEDGER_LABEL } from '../../mac/home';
import { OWNERS_LABEL } from '../../mac/owners';
import { journalDir, type Journal } from '../../mac/journal';
import { cliSettings, DEFAULT_CONFIG, type CliSettings, type GlobalOpts } from '../setup';
import { pluginTypes } from './check-local';
import type { ApiFact, Facts, JournalFact, NadFact, NetworkFact, PluginProbe, RbacFact } from './types';

/** How long a plugin may take to answer VERSION. */
const VERSION_TIMEOUT_MS = 5000;
const FALLBACK_BIN_DIR = '/opt/cni/bin';

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
const codeOf = (e: unknown) => (e instanceof CniError ? e.code : undefined);

/** Everything doctor needs, gathered with `apiTimeoutMs` per phase of API requests. */
export async function gather(opts: GlobalOpts, getenv: (k: string) => string | undefined, apiTimeoutMs: number): Promise<Facts> {
  const configFile = opts.config ?? getenv('MACMUX_CONFIG') ?? DEFAULT_CONFIG;
  let s: CliSettings;
  let configError: string | undefined;
  try {
    s = cliSettings(opts, getenv);
    if (!s.conf) configError = `${configFile} does not exist`;
  } catch (e) {
    configError = message(e);
    s = {
      ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}),
      namespace: opts.namespace ?? 'kube-system',
      cacheDir: '/var/lib/macmux',
      node: opts.node ?? getenv('NODE_NAME') ?? hostname(),
      graceSec: 600,
    };
  }
  const conf = configError === undefined ? s.conf : undefined;
  const networks = conf ? configNetworks(conf) : [];

  const { api, fact } = await openApi(s, getenv, apiTimeoutMs, configError !== undefined);
  let rbac: RbacFact[] | undefined;
  let nads: Facts['nads'];
  let cms: Facts['cms'];
  if (api) {
    try {
      rbac = await permissions(api, s.namespace);
      api.renewBudget();
      nads = await nadFacts(api, conf);
      api.renewBudget();
      const store = kubeStore(api, s.namespace);
      // The ledger, and the owner-index objects (counted per kind, never read as holdings).
      cms = await Promise.all([store.list(LEDGER_LABEL), store.list(OWNERS_LABEL)]).then(
        ([ledger, index]) => ({ items: [...ledger, ...index] }),
        (e: unknown) => ({ error: message(e), items: [] }),
      );
    } finally {
      api.close();
    }
  }

  const cniPath = (getenv('CNI_PATH') ?? '').split(':').filter(Boolean);
  let dirs = searchDirs(conf?.binDir, cniPath);
  const dirsNote = dirs.length === 0 ? `CNI_PATH is not set and the config has no binDir: looked in ${FALLBACK_BIN_DIR}` : undefined;
  if (dirs.length === 0) dirs = [FALLBACK_BIN_DIR];
  const types = new Set([...networks, ...(nads?.items ?? [])].flatMap((n) => (n.network ? pluginTypes(n.network) : [])));
  const probes = Object.fromEntries(await Promise.all([...types].map(async (t) => [t, await probe(t, dirs, conf?.cniVersion ?? LATEST_VERSION, getenv)] as const)));

  return {
    configFile,
    ...(conf ? { conf } : {}),
    ...(configError !== undefined ? { configError } : {}),
    networks,
    dirs,
    ...(dirsNote ? { dirsNote } : {}),
    probes,
    namespace: s.namespace,
    node: s.node,
    graceSec: s.graceSec,
    now: Math.floor(Date.now() / 1000),
    api: fact,
    ...(rbac ? { rbac } : {}),
    ...(nads ? { nads } : {}),
    ...(cms ? { cms } : {}),
    ...(conf ? { journal: readJournalFile(conf.cacheDir) } : {}),
    env: { ...(getenv('NODE_EXTRA_CA_CERTS') !== undefined ? { nodeExtraCaCerts: getenv('NODE_EXTRA_CA_CERTS') } : {}) },
  };
}

/** The config's delegates and its clusterNetwork file, each parsed as the plugin would. */
function configNetworks(conf: Conf): NetworkFact[] {
  const out: NetworkFact[] = conf.delegates.map((d, i) => {
    const what = `delegate ${typeof d.name === 'string' ? d.name : `#${i}`}`;
    try {
      return { what, network: toNetworkList(d, what, conf.cniVersion) };
    } catch (e) {
      return { what, error: message(e) };
    }
  });
  if (conf.clusterNetwork) {
    const what = `clusterNetwork ${conf.clusterNetwork}`;
    try {
      out.push({ what, network: loadNetworkFile(conf.clusterNetwork, 'clusterNetwork', conf.cniVersion) });
    } catch (e) {
      out.push({ what, error: message(e) });
    }
  }
  return out;
}

/** The API with the config's credentials, proven by GET /version (which any authenticated user may read). */
async function openApi(s: CliSettings, getenv: (k: string) => string | undefined, timeoutMs: number, configFailed: boolean): Promise<{ api?: KubeApi; fact: ApiFact }> {
  const kubeconfig = s.kubeconfig;
  if (!kubeconfig && !getenv('KUBERNETES_SERVICE_HOST') && configFailed) {
    return { fact: { state: 'skipped', why: 'no kubeconfig: the config did not load; pass --kubeconfig to check the API anyway' } };
  }
  const via = kubeconfig ? { kubeconfig } : {};
  let transport: ApiTransport | undefined;
  try {
    const creds = await loadCredentials(kubeconfig, getenv);
    transport = new ApiTransport(creds, timeoutMs);
    const res = await transport.send({ method: 'GET', path: '/version', verb: 'get', resource: '/version' });
    if (res.status !== 200) throw new Error(`Kubernetes API at ${creds.server}: GET /version answered HTTP ${res.status}`);
    const version = typeof res.body.gitVersion === 'string' ? res.body.gitVersion : undefined;
    return { api: new KubeApi(transport), fact: { state: 'ok', server: creds.server, ...(version ? { version } : {}), ...via } };
  } catch (e) {
    transport?.close();
    const code = codeOf(e);
    return { fact: { state: 'failed', error: message(e), ...(code !== undefined ? { code } : {}), ...via } };
  }
}

/** One SelfSubjectAccessReview per verb macmux uses; ConfigMaps in the ledger namespace. */
async function permissions(api: KubeApi, namespace: string): Promise<RbacFact[]> {
  const asks = API_PERMISSIONS.flatMap((p) => p.verbs.map((verb) => ({ verb, resource: p.resource, group: p.group ?? '', ...(p.namespaced ? { namespace } : {}) })));
  return Promise.all(
    asks.map(async (a): Promise<RbacFact> => {
      try {
        const r = await api.canI(a.verb, a.resource, a.group, a.namespace);
        return { ...a, allowed: r.allowed };
      } catch (e) {
        return { ...a, error: message(e) };
      }
    }),
  );
}

/** Every NAD's network, parsed as the plugin would (an empty spec.config is looked up in the conf dir). */
async function nadFacts(api: KubeApi, conf: Conf | undefined): Promise<{ error?: string; items: NadFact[] }> {
  let list: Nad[];
  try {
    list = await api.listNads();
  } catch (e) {
    return { error: message(e), items: [] };
  }
  const version = conf?.cniVersion ?? LATEST_VERSION;
  const confDir = conf?.confDir ?? DEFAULT_CONF_DIR;
  return {
    items: list.map((n) => {
      const ref = { namespace: n.metadata.namespace ?? 'default', name: n.metadata.name };
      const name = `${ref.namespace}/${ref.name}`;
      const what = `NAD ${name}`;
      const config = n.spec?.config;
      try {
        if (config !== undefined && typeof config !== 'string') throw new Error(`NetworkAttachmentDefinition ${name}: spec.config is not a string`);
        if (config) return { ref: name, what, network: nadNetwork(ref, config, version) };
        const file = findConfFile(confDir, ref.name);
        if (!file) throw new Error(`NetworkAttachmentDefinition ${name}: spec.config is empty and ${confDir} has no config named "${ref.name}" on this node`);
        return { ref: name, what, network: nadNetwork(ref, file.text, version, file.path) };
      } catch (e) {
        return { ref: name, what, error: message(e) };
      }
    }),
  };
}

/** Finds `type` and asks it for its versions, as a runtime would (CNI_COMMAND=VERSION). */
async function probe(type: string, dirs: string[], cniVersion: string, getenv: (k: string) => string | undefined): Promise<PluginProbe> {
  const path = locatePlugin(type, dirs);
  if (!path) return { type };
  try {
    const out = await execPlugin({
      command: path,
      env: { CNI_COMMAND: 'VERSION', PATH: getenv('PATH') ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
      stdin: JSON.stringify({ cniVersion }),
      timeoutMs: VERSION_TIMEOUT_MS,
      what: `${type} VERSION`,
    });
    const versions = (JSON.parse(out) as { supportedVersions?: unknown }).supportedVersions;
    if (!Array.isArray(versions) || !versions.every((v) => typeof v === 'string')) return { type, path, error: 'its answer has no supportedVersions list' };
    return { type, path, versions: versions as string[] };
  } catch (e) {
    return { type, path, error: message(e) };
  }
}

/** This node's journal, read without taking the lock or moving a damaged one aside (the plugin's own reader does that). */
function readJournalFile(cacheDir: string): JournalFact {
  const file = join(journalDir(cacheDir), 'journal.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { file, missing: true };
    return { file, error: `cannot read it: ${message(e)}` };
  }
  try {
    const j = JSON.parse(text) as Partial<Journal>;
    if (j.format !== 1 || typeof j.entries !== 'object' || j.entries === null) return { file, error: `unknown format ${String(j.format)}` };
    return { file, journal: { format: 1, entries: j.entries, intents: j.intents ?? [], seen: j.seen ?? {} } };
  } catch (e) {
    return { file, error: message(e) };
  }
}
