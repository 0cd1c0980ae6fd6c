// Where operator commands find macmux's config and the API: the installed conflist, overridable by flags.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { CniError, Code } from '../cni/errors';
import { parseJson } from '../cni/json';
import { loadConf, type Conf } from '../config/load';
import { connect, type KubeApi } from '../k8s/api';
import { CliFailure, Exit } from './io';

export const DEFAULT_CONFIG = '/etc/cni/net.d/00-macmux.conflist';

/** The global flags every ledger and doctor command takes. */
export interface GlobalOpts {
  config?: string;
  kubeconfig?: string;
  namespace?: string;
  node?: string;
  output?: string;
}

export interface CliSettings {
  /** The config file read, when there was one. */
  configFile?: string;
  conf?: Conf;
  kubeconfig?: string;
  /** The ledger ConfigMaps' namespace. */
  namespace: string;
  /** The node-local state (journal, cache, stats). */
  cacheDir: string;
  node: string;
  graceSec: number;
}

/**
 * The settings from `--config` (a conflist or a single config containing the macmux plugin; default
 * the installed conflist, or $MACMUX_CONFIG), with flags winning. A missing default file is not an
 * error when `--kubeconfig` or the in-cluster environment gives the API.
 */
export function cliSettings(opts: GlobalOpts, getenv: (k: string) => string | undefined): CliSettings {
  const explicit = opts.config ?? getenv('MACMUX_CONFIG');
  const file = explicit ?? DEFAULT_CONFIG;
  let conf: Conf | undefined;
  try {
    conf = macmuxConf(parseJson(readFileSync(file, 'utf8'), file), file);
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    if (!missing || explicit) {
      if (missing) throw new CliFailure(Exit.Usage, `config ${file} does not exist; pass --config with the macmux conflist (usually ${DEFAULT_CONFIG})`);
      throw e;
    }
  }
  return {
    ...(conf ? { configFile: file, conf } : {}),
    ...(opts.kubeconfig ?? conf?.kubeconfig ? { kubeconfig: opts.kubeconfig ?? conf?.kubeconfig } : {}),
    namespace: opts.namespace ?? conf?.macNamespace ?? 'kube-system',
    cacheDir: conf?.cacheDir ?? '/var/lib/macmux',
    node: opts.node ?? conf?.nodeName ?? getenv('NODE_NAME') ?? hostname(),
    graceSec: conf?.macGracePeriod ?? 600,
  };
}

/** The macmux plugin's config inside a conflist (or the file itself when it is a single config). */
export function macmuxConf(raw: Record<string, unknown>, file: string): Conf {
  const plugins = Array.isArray(raw.plugins) ? (raw.plugins as Array<Record<string, unknown>>) : [raw];
  const mine = plugins.find((p) => p.type === 'macmux');
  if (!mine) throw new CniError(Code.InvalidConfig, `${file}: no plugin of type "macmux"`);
  return loadConf({ cniVersion: raw.cniVersion, name: raw.name, ...mine });
}

/** The API, with the credentials the plugin uses; 30 s per phase of requests. */
export async function cliApi(s: CliSettings, getenv: (k: string) => string | undefined): Promise<KubeApi> {
  if (!s.kubeconfig && !getenv('KUBERNETES_SERVICE_HOST')) {
    throw new CliFailure(Exit.Usage, 'no API credentials: pass --kubeconfig, or --config with the macmux conflist whose kubeconfig to use');
  }
  return connect(s.kubeconfig, getenv, 30_000, Date.now() + 30_000);
}
