// Fuzz cases: what each one runs (built against one worker's world) and the error it must answer with.

export type Kind = 'config' | 'annotation' | 'cni-args' | 'env' | 'nad' | 'secret' | 'trust';

/** The namespace of the fuzz pods and NADs, and another one for cross-namespace references. */
export const NS = 'fuzz';
export const OTHER_NS = 'other';
/** A namespace no config of the corpus lists in globalNamespaces: namespace isolation refuses its NADs. */
export const FOREIGN_NS = 'infra';
/** Well-formed macvlan NADs every worker's API server holds: GOOD_NADS in NS, GOOD_OTHER in OTHER_NS. */
export const GOOD_NADS = ['good-a', 'good-b'] as const;
export const GOOD_OTHER = 'good-c';
/** The type under which CNI_PATH holds a copy of macmux: not macmux by name nor by inode, only by the mark in its environment. */
export const COPY_TYPE = 'cni-helper';
/** Replaced in CNI_ARGS by the uid of the pod the case created. */
export const UID = '@UID@';

/** One worker's world: its own API server, cache dir, network namespace and host bridge. */
export interface Frame {
  cacheDir: string;
  /** An empty directory: NADs with an empty spec.config find nothing there. */
  confDir: string;
  kubeconfig: string;
  nodeName: string;
  netnsPath: string;
  /** The host bridge macvlan delegates use as master. */
  master: string;
  /** CNI_PATH: a dir holding macmux (a link to the binary under test) and a copy of it named COPY_TYPE, then the plugins. */
  cniPath: string;
  /** A path no run may create: what a NAD's own binDir, logFile, cacheDir or payload would write to, were it obeyed. */
  canary: string;
  /** A pod in NS that exists, with a well-formed annotation (GOOD_NADS[0]). */
  basePod: { name: string; uid: string };
}

export interface PodSpec {
  name: string;
  annotations: Record<string, string>;
}

export interface NadSpec {
  namespace: string;
  name: string;
  /** The NAD's spec; absent means no spec at all. */
  spec?: unknown;
}

/** One invocation, as a runtime would make it. */
export interface Plan {
  /** CNI_COMMAND (set as given, even when malformed). */
  command: string;
  stdin: string | Buffer;
  /** The CNI_ variables; undefined leaves one out. PATH is added by the runner. */
  env: Record<string, string | undefined>;
  /** A pod to create in NS before the run (and remove after); CNI_ARGS may name its uid as UID. */
  pod?: PodSpec;
  nads?: NadSpec[];
  /** Seconds the verb may spend (its config's timeBudget), before the runner's slack. */
  budget: number;
  /** A secret the input carries: the run logs at level 3 to a file, and neither stdout, stderr nor that file may show it. */
  secret?: string;
  /** The run must be refused before it asks the API for any NetworkAttachmentDefinition. */
  noNadRequests?: boolean;
}

export interface Expect {
  /** The codes the error may carry. */
  codes: number[];
  /** Substrings the message (msg + details) must contain. */
  mention: string[];
}

/** What a kind's generator makes of one random stream. */
export interface CaseBody {
  /** What was broken, for the failure report. */
  what: string;
  expect: Expect;
  build(frame: Frame): Plan;
  /** The same invocation as DEL must succeed (CNI_ARGS cases: DEL reads CNI_ARGS leniently). */
  delMustSucceed?: boolean;
}

export interface FuzzCase extends CaseBody {
  index: number;
  /** The run's seed (the case's own stream derives from it and the index). */
  seed: number;
  kind: Kind;
}
