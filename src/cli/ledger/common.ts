// What every `macmux ledger` command shares: settings and the API from the global flags, the census, MAC and owner arguments, errors.
import { existsSync } from 'node:fs';
import { CniError, Code } from '../../cni/errors';
import { connect, type KubeApi } from '../../k8s/api';
import { kubeStore } from '../../k8s/cmstore';
import { parseMac } from '../../mac/address';
import { census, type Census } from '../../mac/census';
import { ClusterLedger } from '../../mac/cluster';
import { recordHistory, type HistoryRecord } from '../../mac/history';
import { LEDGER_LABEL } from '../../mac/home';
import { journalDir, withJournalLock } from '../../mac/journal';
import type { Cm } from '../../mac/store';
import { CliFailure, Exit, type CliIo } from '../io';
import { cliSettings, type CliSettings, type GlobalOpts } from '../setup';

export interface LedgerOpts extends GlobalOpts {
  /** Seconds to keep retrying the API before giving up (exit 4). */
  timeout?: string;
}

export const OUTPUTS = ['table', 'json'];
export const nowSec = () => Math.floor(Date.now() / 1000);

/** One open session of a ledger command: its settings and the API. */
export interface Session {
  io: CliIo;
  opts: LedgerOpts;
  s: CliSettings;
  api: KubeApi;
}

/** Runs `fn` with the settings and the API; the API is closed after, and errors get exit codes that say what to do. */
export async function withSession<T>(io: CliIo, opts: LedgerOpts, fn: (x: Session) => Promise<T>): Promise<T> {
  if (opts.output !== undefined && !OUTPUTS.includes(opts.output)) throw new CliFailure(Exit.Usage, `-o ${opts.output}: the output format is table or json`);
  const s = cliSettings(opts, io.getenv);
  const timeoutSec = opts.timeout === undefined ? 30 : Number(opts.timeout);
  if (!Number.isFinite(timeoutSec) || timeoutSec <= 0) throw new CliFailure(Exit.Usage, `--timeout ${opts.timeout}: give the seconds to keep retrying the API, e.g. --timeout 30`);
  if (!s.kubeconfig && !io.getenv('KUBERNETES_SERVICE_HOST')) {
    throw new CliFailure(Exit.Usage, 'no API credentials: pass --kubeconfig, or --config with the macmux conflist whose kubeconfig to use');
  }
  let api: KubeApi | undefined;
  try {
    api = await connect(s.kubeconfig, io.getenv, timeoutSec * 1000, Date.now() + timeoutSec * 1000);
    return await fn({ io, opts, s, api });
  } catch (e) {
    throw explain(e);
  } finally {
    api?.close();
  }
}

/** CNI errors as the operator's exit codes, with the next step named. */
function explain(e: unknown): unknown {
  if (!(e instanceof CniError)) return e;
  if (e.code === Code.TryAgainLater) {
    const hint = /unreachable/.test(e.message) ? 'check --kubeconfig and that the API server is reachable, then run it again' : 'run it again later';
    return new CliFailure(Exit.Unavailable, `${e.message}; ${hint}`);
  }
  if (e.code === Code.ApiRefused) return new CliFailure(Exit.Failed, `${e.message}${e.details ? ` (${e.details})` : ''}; the credentials need get/list/update on ConfigMaps in the macmux namespace and get on pods`);
  return e;
}

/** Every ledger ConfigMap (pool, node ledgers, claims shards) in the macmux namespace. */
export async function ledgerCms(x: Session): Promise<Cm[]> {
  return kubeStore(x.api, x.s.namespace).list(LEDGER_LABEL);
}

export async function takeCensus(x: Session): Promise<{ cms: Cm[]; c: Census }> {
  const cms = await ledgerCms(x);
  return { cms, c: census(cms, nowSec(), x.s.graceSec) };
}

/** A cluster ledger that writes as this node (the operator's releases name the holding's node, not this one). */
export function clusterOf(x: Session): ClusterLedger {
  return new ClusterLedger(kubeStore(x.api, x.s.namespace), { node: x.s.node, graceSec: x.s.graceSec });
}

/** The MAC argument in canonical form; exit 2 naming it when it is not one. */
export function macArg(s: string): string {
  const mac = parseMac(s.trim());
  if (!mac) throw new CliFailure(Exit.Usage, `"${s}" is not a MAC address: give 6 octets, e.g. 02:aa:00:00:00:01`);
  return mac;
}

/** The pod an owner `namespace/pod/attachment` belongs to. */
export function podOfOwner(owner: string): { namespace: string; name: string } | undefined {
  const [namespace, name, attachment] = owner.split('/');
  return namespace && name && attachment !== undefined ? { namespace, name } : undefined;
}

/** Epoch seconds as ISO 8601 ('-' for 0, the date of a forced release). */
export const timeText = (sec: number) => (sec > 0 ? new Date(sec * 1000).toISOString().replace(/\.000Z$/, 'Z') : '-');

/**
 * Appends operator records to this node's history (the config's cacheDir), under the ledger lock, when this
 * machine has a node ledger; otherwise, or on failure, says so on stderr: history never fails a command.
 */
export async function operatorHistory(x: Session, records: HistoryRecord[]): Promise<void> {
  if (records.length === 0) return;
  const dir = journalDir(x.s.cacheDir);
  if (!existsSync(dir)) {
    x.io.err(`macmux: history not recorded: no node ledger at ${dir} (run on a node, or pass --config with its conflist)\n`);
    return;
  }
  const warn = (m: string) => x.io.err(`macmux: ${m}\n`);
  const timeoutMs = Math.min(x.s.conf?.lockTimeout ?? 10, 10) * 1000;
  await withJournalLock(x.s.cacheDir, timeoutMs, async () => recordHistory(x.s.cacheDir, records, warn)).catch((e: Error) => warn(`history not recorded: ${e.message}`));
}
