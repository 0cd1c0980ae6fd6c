// One install pass: binary, token and CA copies, kubeconfig, pool range, conflist; says whether all is in place and why not.
import { existsSync, rmSync } from 'node:fs';
import { CniError, Code } from '../cni/errors';
import { CliFailure, Exit } from '../cli/io';
import { installBinary, signature } from './binary';
import { readConfDir, readIfExists, writeIfChanged } from './files';
import { writeKubeconfig } from './kubeconfig';
import { readPool, withApi } from './kube';
import type { InstallLog } from './log';
import { local, readPluginSettings, targets, type InstallSettings } from './paths';
import { choosePrimary, isMacmuxText, poolOf, renderConflist, wrap, type MacPool } from './primary';
import { copyCa, copyToken } from './token';

/** What keeps the node from being ready: 'usage' is a bad flag or config, 'api' the API server, 'failed' anything else. */
export interface Problem {
  kind: 'usage' | 'api' | 'failed';
  msg: string;
}

export interface Status {
  ready: boolean;
  /** Why not ready ('' when ready). */
  reason: string;
  problems: Problem[];
}

/** The exit code of `install --once` for these problems: a fixable setup first, "try again later" only when the API alone failed. */
export function exitOf(problems: Problem[]): number {
  if (problems.some((p) => p.kind === 'usage')) return Exit.Usage;
  if (problems.some((p) => p.kind === 'failed')) return Exit.Failed;
  return problems.length ? Exit.Unavailable : Exit.Ok;
}

function classify(e: unknown): Problem {
  const msg = (e as Error).message ?? String(e);
  if (e instanceof CliFailure) return { kind: e.exit === Exit.Usage ? 'usage' : 'failed', msg };
  if (e instanceof CniError && e.code === Code.TryAgainLater) return { kind: 'api', msg };
  return { kind: 'failed', msg };
}

export class Installer {
  private binarySig?: string;
  /** The pool range last read from the API (undefined inside: no pool ConfigMap). */
  private knownPool?: { pool?: MacPool };
  private warnings = new Set<string>();
  private lastReason: string | undefined;

  constructor(
    private readonly s: InstallSettings,
    private readonly source: string,
    private readonly log: InstallLog,
    /** Milliseconds one round of API calls may take, retries included. */
    private readonly apiBudgetMs: number,
  ) {}

  /** One pass; `logReason` logs a change of readiness (the long-running mode; --once reports by its exit). */
  async check(logReason = true): Promise<Status> {
    const s = this.s;
    const t = targets(s);
    const at = (p: string) => local(s, p);
    const problems: Problem[] = [];
    const attempt = <T>(fn: () => T): T | undefined => {
      try {
        return fn();
      } catch (e) {
        problems.push(classify(e));
        return undefined;
      }
    };

    attempt(() => {
      const sig = signature(at(t.binary));
      if (sig !== undefined && sig === this.binarySig) return;
      if (installBinary(this.source, at(t.binary))) this.log.info(`installed ${at(t.binary)}`);
      this.binarySig = signature(at(t.binary));
    });
    attempt(() => copyToken(s.tokenFile, at(t.token)) && this.log.info(`refreshed the token copy ${at(t.token)} from ${s.tokenFile}`));
    attempt(() => copyCa(s.caFile, at(t.ca)) && this.log.info(`refreshed the CA copy ${at(t.ca)} from ${s.caFile}`));
    attempt(() => writeKubeconfig(at(t.kubeconfig), { server: s.server, caFile: t.ca, tokenFile: t.token, namespace: s.namespace }) && this.log.info(`wrote ${at(t.kubeconfig)}`));
    const settings = attempt(() => readPluginSettings(s.configFile));
    // The runtime must never see a conflist whose binary, token or kubeconfig is missing.
    const prerequisites = problems.length === 0;

    try {
      const pool = await withApi(s, this.apiBudgetMs, (api) => readPool(api, s.namespace));
      if (this.knownPool === undefined || JSON.stringify(pool) !== JSON.stringify(this.knownPool.pool)) {
        this.log.info(pool ? `MAC pool ${pool.rangeStart}-${pool.rangeEnd} from ConfigMap ${s.namespace}/macmux-pool` : `no ConfigMap ${s.namespace}/macmux-pool: the MAC ledger stays off unless --config sets macPool`);
      }
      this.knownPool = pool ? { pool } : {};
    } catch (e) {
      problems.push(classify(e));
    }

    attempt(() => {
      const confDir = at(s.confDir);
      const primary = choosePrimary(readConfDir(confDir), s.conflistName, confDir, s.primary);
      this.warn(primary.warnings);
      if (!primary.ok) throw new CliFailure(Exit.Failed, primary.reason);
      if (!settings) return; // already reported
      if (!prerequisites) {
        problems.push({ kind: 'failed', msg: `${at(t.conflist)} not written: the binary, token or kubeconfig above is not in place` });
        return;
      }
      const existing = readIfExists(at(t.conflist))?.toString('utf8');
      const known = this.knownPool ?? (existing !== undefined ? poolOf(existing) : undefined);
      if (!known && settings.macPool === undefined) {
        problems.push({ kind: 'api', msg: `${at(t.conflist)} not written: the pool ConfigMap ${s.namespace}/macmux-pool could not be read yet` });
        return;
      }
      let text: string;
      try {
        text = renderConflist(
          wrap({
            network: primary.network,
            kubeconfig: t.kubeconfig,
            stateDir: s.stateDir,
            binDir: s.binDir,
            confDir: s.confDir,
            namespace: s.namespace,
            ...(s.nodeName ? { nodeName: s.nodeName } : {}),
            ...(known?.pool ? { pool: known.pool } : {}),
            settings,
          }),
        );
      } catch (e) {
        throw new CliFailure(Exit.Usage, `the conflist wrapping ${confDir}/${primary.file} would be invalid: ${(e as Error).message}; fix --config or the primary config`);
      }
      if (writeIfChanged(at(t.conflist), text, 0o644)) this.log.info(`wrote ${at(t.conflist)} wrapping ${primary.file}`);
    });

    if (!problems.length) {
      const missing = [t.binary, t.conflist, t.kubeconfig, t.token].map(at).filter((p) => !existsSync(p));
      if (missing.length) problems.push({ kind: 'failed', msg: `missing ${missing.join(', ')}` });
      else if (!isMacmuxText(readIfExists(at(t.conflist))?.toString('utf8') ?? '')) problems.push({ kind: 'failed', msg: `${at(t.conflist)} is not macmux's conflist` });
    }
    const reason = [...new Set(problems.map((p) => p.msg))].join('; ');
    if (reason !== this.lastReason && logReason) {
      if (reason) this.log.warn(`not ready: ${reason}`);
      else this.log.info('ready: binary, conflist and kubeconfig in place');
      this.lastReason = reason;
    }
    return { ready: problems.length === 0, reason, problems };
  }

  /** Logs warnings once each, until they go away and come back. */
  private warn(list: string[]): void {
    const now = new Set(list);
    for (const w of now) if (!this.warnings.has(w)) this.log.warn(w);
    this.warnings = now;
  }

  /** Removes the conflist if it is macmux's (on SIGTERM with --cleanup-on-exit); true when removed. */
  removeConflist(): boolean {
    const path = local(this.s, targets(this.s).conflist);
    const text = readIfExists(path)?.toString('utf8');
    if (text === undefined || !isMacmuxText(text)) return false;
    rmSync(path, { force: true });
    return true;
  }
}
