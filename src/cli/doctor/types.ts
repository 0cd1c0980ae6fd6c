// What `macmux doctor` reports (one check per concern) and the facts it judges, gathered apart by I/O.
import type { Conf, NetworkList } from '../../config/load';
import type { Journal } from '../../mac/journal';
import type { Cm } from '../../mac/store';

export type Status = 'ok' | 'warn' | 'fail' | 'skip';

/** The checks, in the order they are reported. */
export const CHECKS = ['config', 'delegates', 'api', 'rbac', 'nads', 'integrity', 'agreement', 'duplicates', 'environment'] as const;
export type CheckName = (typeof CHECKS)[number];

export interface Check {
  name: CheckName;
  status: Status;
  /** One line: what was found. */
  detail: string;
  /** One line: what to do next (for fail and warn). */
  hint?: string;
  /** Details for scripts (`-o json`), such as each plugin's versions or each duplicate's holders. */
  data?: Record<string, unknown>;
}

export interface Report {
  ok: boolean;
  checks: Check[];
}

/** A network of the config (a delegate, the clusterNetwork file) or of a NAD, parsed or not. */
export interface NetworkFact {
  /** `delegate cluster`, `clusterNetwork /etc/cni/net.d/10-flannel.conflist`, `NAD default/green`. */
  what: string;
  network?: NetworkList;
  error?: string;
}

export interface NadFact extends NetworkFact {
  ref: string;
}

/** A plugin binary looked up in the search dirs and asked for its versions (CNI_COMMAND=VERSION). */
export interface PluginProbe {
  type: string;
  path?: string;
  versions?: string[];
  error?: string;
}

export type ApiFact =
  | { state: 'skipped'; why: string }
  | { state: 'failed'; error: string; code?: number; kubeconfig?: string }
  | { state: 'ok'; server: string; version?: string; kubeconfig?: string };

export interface RbacFact {
  verb: string;
  resource: string;
  group: string;
  namespace?: string;
  allowed?: boolean;
  error?: string;
}

export type JournalFact = { file: string; missing: true } | { file: string; error: string } | { file: string; journal: Journal };

export interface Facts {
  configFile: string;
  conf?: Conf;
  configError?: string;
  /** The config's delegates and clusterNetwork file. */
  networks: NetworkFact[];
  /** Where plugins were looked for, and how that list came about when neither binDir nor CNI_PATH gave it. */
  dirs: string[];
  dirsNote?: string;
  probes: Record<string, PluginProbe>;
  namespace: string;
  node: string;
  graceSec: number;
  /** Epoch seconds. */
  now: number;
  api: ApiFact;
  rbac?: RbacFact[];
  nads?: { error?: string; items: NadFact[] };
  cms?: { error?: string; items: Cm[] };
  journal?: JournalFact;
  env: { nodeExtraCaCerts?: string };
}
