// STATUS (CNI 1.1.0): 51 when pods on the node are degraded, 50 when macmux cannot serve an ADD, else the 1.1.0 delegates' own STATUS; within timeBudget.status.
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { asCniError, CniError, Code } from '../cni/errors';
import { compareVersions } from '../cni/versions';
import { locatePlugin, requireDirs, searchDirs } from '../delegate/find';
import { statusNetwork } from '../delegate/network';
import { pluginSelfReason } from '../delegate/self';
import { POOL_CM } from '../mac/home';
import { journalDir } from '../mac/journal';
import { connect } from '../k8s/api';
import { cacheDirOf } from '../state/cache';
import { invocationFor, ledgerOn, staticPlan, targetOf, type VerbContext } from './context';
import { degradedPods, hostDeviceExists } from './degraded';
import type { Attachment } from '../state/attachment';
import { hostDevices, listed, verdict, type Problem } from './readiness';

/** How long past the budget the API check may take to report its own error before STATUS stops waiting for it. */
const GRACE_MS = 250;

export async function cmdStatus(ctx: VerbContext): Promise<void> {
  const { conf, env } = ctx;
  if (compareVersions(conf.cniVersion, '1.1.0') < 0) {
    throw new CniError(Code.IncompatibleVersion, `cniVersion ${conf.cniVersion} does not support STATUS (needs 1.1.0)`);
  }
  const deadline = ctx.started + conf.timeBudget.status * 1000;
  const plan = planProblems(ctx, searchDirs(conf.binDir, env.path));
  // The API is asked while the node is looked at and the delegates are asked.
  const api = apiProblems(ctx, deadline);
  const degraded = listed(degradedPods(ctx)).map((msg): Problem => ({ kind: 'degraded', msg }));
  const dirs = dirProblems(ctx);
  const delegates = await forward(ctx, plan.ready, deadline);
  const problems = [...degraded, ...(await api), ...dirs, ...plan.problems, ...delegates];
  for (const p of problems) ctx.log.info(`STATUS: ${p.kind}: ${p.msg}`);
  const err = verdict(problems);
  if (err) throw err;
}

/**
 * The API an ADD needs, when one is configured (a kubeconfig, or the in-cluster environment): one
 * cheap GET of what an ADD reads, within the budget even against a server that never answers.
 */
async function apiProblems(ctx: VerbContext, deadline: number): Promise<Problem[]> {
  const { conf, getenv } = ctx;
  if (!conf.kubeconfig && !getenv('KUBERNETES_SERVICE_HOST')) return [];
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Problem[]>((resolve) => {
    timer = setTimeout(
      () => resolve([{ kind: 'unavailable', msg: `the Kubernetes API is unreachable: no answer within the ${conf.timeBudget.status}s time budget` }]),
      Math.max(0, deadline - Date.now()) + GRACE_MS,
    );
  });
  try {
    return await Promise.race([probeApi(ctx, deadline), late]);
  } finally {
    clearTimeout(timer);
  }
}

async function probeApi(ctx: VerbContext, deadline: number): Promise<Problem[]> {
  const { conf } = ctx;
  let api: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    api = await connect(conf.kubeconfig, ctx.getenv, conf.timeBudget.status * 1000, deadline, (m) => ctx.log.debug(m));
    // With the ledger on, the pool ConfigMap an ADD reads first; else the macmux namespace. A 404 is an answer too.
    if (ledgerOn(ctx)) await api.getConfigMap(conf.macNamespace, POOL_CM);
    else await api.namespaceLabels(conf.macNamespace);
    return [];
  } catch (e) {
    const msg = asCniError(e).message;
    return [{ kind: 'unavailable', msg: /^Kubernetes API/.test(msg) ? msg : `Kubernetes API: ${msg}` }];
  } finally {
    api?.close();
  }
}

/** The directories an ADD writes: the state dir, its cache, and the ledger journal when the ledger is on. */
function dirProblems(ctx: VerbContext): Problem[] {
  const { conf } = ctx;
  const state = notWritable(conf.cacheDir);
  if (state) return [{ kind: 'unavailable', msg: `state dir ${state}` }];
  const checks: Array<[string, string]> = [['cache dir', cacheDirOf(conf.cacheDir)]];
  if (ledgerOn(ctx)) checks.push(['ledger dir', journalDir(conf.cacheDir)]);
  return checks.flatMap(([what, dir]): Problem[] => {
    const why = notWritable(dir);
    return why ? [{ kind: 'unavailable', msg: `${what} ${why}` }] : [];
  });
}

/**
 * Why files cannot be created in `dir` (or, when it does not exist yet, in the nearest existing
 * parent, where an ADD would create it), found by creating and removing a temp file; undefined if they can.
 */
function notWritable(dir: string): string | undefined {
  let at = dir;
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  const probe = join(at, `.macmux-status-${process.pid}-${Date.now()}`);
  try {
    closeSync(openSync(probe, 'wx', 0o600));
    rmSync(probe, { force: true });
    return undefined;
  } catch (e) {
    const why = (e as Error).message.replace(/, (open|unlink) .*$/, '');
    return `${dir} is not writable${at !== dir ? ` (it would be created in ${at})` : ''}: ${why}`;
  }
}

/**
 * The config's networks: each plugin (and its IPAM plugin) must be installed and not be macmux itself,
 * and a `master` device must exist. Returns the attachments whose plugins were all found, to be asked for their STATUS.
 */
function planProblems(ctx: VerbContext, dirs: string[]): { ready: Attachment[]; problems: Problem[] } {
  let plan: Attachment[];
  try {
    plan = staticPlan(ctx);
  } catch (e) {
    return { ready: [], problems: [{ kind: 'unavailable', msg: asCniError(e).message }] };
  }
  const ready: Attachment[] = [];
  const problems: Problem[] = [];
  for (const att of plan) {
    const what = att.cluster ? `cluster network "${att.name}"` : `delegate "${att.name}"`;
    let found = true;
    for (const p of att.network.plugins) {
      const self = pluginSelfReason(p, dirs);
      if (self) {
        found = false;
        problems.push({ kind: 'unavailable', msg: `${what}: ${self}; macmux never runs itself as a delegate` });
        continue;
      }
      const ipam = (p.ipam as { type?: unknown } | undefined)?.type;
      for (const [type, role] of [[p.type, 'plugin'], ...(typeof ipam === 'string' ? [[ipam, `IPAM plugin of ${p.type}`]] : [])] as Array<[string, string]>) {
        requireDirs(dirs, type);
        if (locatePlugin(type, dirs)) continue;
        found = false;
        problems.push({ kind: 'unavailable', msg: `${what}: ${role} "${type}" not found`, details: `searched: ${dirs.join(', ')}` });
      }
      for (const dev of hostDevices(p)) {
        if (dev.needed && !hostDeviceExists(dev.name)) problems.push({ kind: 'unavailable', msg: `${what}: host device "${dev.name}" (${dev.field} of ${p.type}) does not exist` });
      }
    }
    if (found) ready.push(att);
  }
  return { ready, problems };
}

/**
 * STATUS to every delegate network of cniVersion 1.1.0 or later, as libcni does for a conflist (each
 * plugin in turn with its network's name and cniVersion, stopping at the first error); older ones are
 * skipped. A delegate's error keeps its code; one that does not answer within the budget is a 50.
 */
async function forward(ctx: VerbContext, atts: Attachment[], deadline: number): Promise<Problem[]> {
  const budget = ctx.conf.timeBudget.status;
  const out: Problem[] = [];
  for (const att of atts) {
    if (compareVersions(att.network.cniVersion, '1.1.0') < 0) continue;
    const what = att.cluster ? `cluster network "${att.name}"` : `delegate "${att.name}"`;
    const left = deadline - Date.now();
    if (left <= 0) {
      out.push({ kind: 'unavailable', msg: `${what}: STATUS not asked, the ${budget}s time budget ran out` });
      continue;
    }
    // STATUS carries no runtimeConfig and no container (libcni's empty RuntimeConf).
    const { runtimeConfig: _none, ...inv } = invocationFor(ctx, targetOf(ctx), att);
    try {
      await statusNetwork(att.network, { ...inv, timeoutMs: left });
    } catch (e) {
      const err = asCniError(e);
      if (err.code === Code.TryAgainLater && Date.now() >= deadline) {
        out.push({ kind: 'unavailable', msg: `${what}: no STATUS answer within the ${budget}s time budget (${err.message})` });
      } else {
        out.push({ kind: 'delegate', code: err.code, msg: err.message, ...(err.details ? { details: err.details } : {}) });
      }
    }
  }
  return out;
}
