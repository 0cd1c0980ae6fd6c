// Runs ADD, DEL, CHECK, GC or STATUS for the dispatcher: loads the config, routes to the verb (hot-plug when K8S_POD_NETWORK is set), prints its result or error.
import { asCniError, type CniError } from '../cni/errors';
import { argValue, podOf, readEnv } from '../cni/env';
import { formatResult } from '../cni/result';
import { isSupported, LATEST_VERSION } from '../cni/versions';
import { parseJson } from '../cni/json';
import { registerSecretsIn } from '../util/secrets';
import { Logger, logSettings, makeSink } from '../log';
import { loadConf } from '../config/load';
import type { VerbContext } from '../plugin/context';
import { Tally } from '../plugin/chain';
import { cmdAdd } from '../plugin/add';
import { cmdDel } from '../plugin/del';
import { cmdCheck } from '../plugin/check';
import { cmdGc } from '../plugin/gc';
import { cmdStatus } from '../plugin/status';
import { hotplugAdd, hotplugDel } from '../plugin/hotplug';
import { recordInvocation } from '../metrics/stats';
import { phaseLine, recordingPhases, recordPhases, span, timed } from '../util/phases';
import type { Io } from './dispatch';

/**
 * Runs `command` (anything but VERSION, already read from the environment) on the config in `text`,
 * logging to `early` (the dispatcher's logger) until the config's settings are known. Returns the
 * exit code and catches everything: the one error JSON is printed here.
 */
export async function runVerb(io: Io, command: string, text: string, started: number, early: Logger): Promise<number> {
  let cniVersion = LATEST_VERSION;
  let log = early;
  /** Set once the config is loaded: only then is the invocation counted in the stats file. */
  let ctx: VerbContext | undefined;
  const tally = new Tally();
  let code = 0;
  /** Where the phase line goes: the environment's settings until the config's are known. */
  let settings = logSettings(io.getenv);
  try {
    cniVersion = peekVersion(text) ?? cniVersion;
    const env = readEnv(io.getenv);
    const pod = podOf(env);
    const logCtx = { verb: command, containerID: env.containerID || '-', ...(pod ? { pod: `${pod.namespace}/${pod.name}` } : {}) };
    log.with(logCtx);
    const configRead = span('config');
    const raw = parseJson(text, 'network config');
    registerSecretsIn(raw);
    const conf = loadConf(raw);
    configRead();
    settings = logSettings(io.getenv, conf);
    recordPhases(recordingPhases() && settings.level >= 3);
    log = new Logger(settings.level, makeSink(settings.file, io.stderr)).with(logCtx);
    const verbCtx: VerbContext = { env, conf, raw, log, baseEnv: inherited(io), getenv: io.getenv, started };
    ctx = verbCtx;
    log.debug(`start netns=${env.netns || '-'} ifname=${env.ifName || '-'}`);

    // Hot-plug adds or deletes one network of a running pod: never a whole-pod ADD or DEL.
    const hotplug = argValue(env.args, 'K8S_POD_NETWORK');
    switch (env.command) {
      case 'ADD': {
        const result = hotplug !== undefined ? await hotplugAdd(verbCtx, tally, hotplug) : await cmdAdd(verbCtx, tally);
        io.stdout.write(JSON.stringify(formatResult(result, conf.cniVersion)));
        break;
      }
      case 'DEL':
        await (hotplug !== undefined ? hotplugDel(verbCtx, tally, hotplug) : cmdDel(verbCtx, tally));
        break;
      case 'CHECK':
        await cmdCheck(verbCtx);
        break;
      case 'GC':
        await cmdGc(verbCtx, tally);
        break;
      case 'STATUS':
        await cmdStatus(verbCtx);
        break;
    }
    log.info('done');
    return 0;
  } catch (e) {
    const err: CniError = asCniError(e);
    log.error(`code ${err.code}: ${err.message}${err.details ? ` (${err.details})` : ''}`);
    if (err.code === 999 && e instanceof Error && e.stack) log.debug(e.stack);
    io.stdout.write(JSON.stringify(err.toJSON(cniVersion)));
    code = err.code;
    return 1;
  } finally {
    if (ctx) await timed('stats', () => recordStats(ctx!, tally, code));
    // Without the pod's name: the line carries only what macmux chose (phases, resource kinds, plugin types) and numbers.
    if (recordingPhases()) new Logger(settings.level, makeSink(settings.file, io.stderr)).with({ verb: command, containerID: io.getenv('CNI_CONTAINERID') || '-' }).debug(phaseLine(code));
  }
}

/** Adds this invocation to the node's stats file (metrics); never fails the verb, never prints to stdout. */
async function recordStats(ctx: VerbContext, tally: Tally, code: number): Promise<void> {
  try {
    const seconds = (Date.now() - ctx.started) / 1000;
    await recordInvocation(ctx.conf.cacheDir, { verb: ctx.env.command, result: code === 0 ? 'success' : 'failure', code, seconds, counts: tally.counts }, ctx.log);
  } catch (e) {
    ctx.log.error(`stats not recorded: ${(e as Error).message}`);
  }
}

/** The config's cniVersion when it is readable and supported, so that even early errors are printed in it. */
function peekVersion(text: string): string | undefined {
  try {
    const v = (JSON.parse(text) as { cniVersion?: unknown }).cniVersion;
    return typeof v === 'string' && isSupported(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** What delegates inherit: macmux's environment without the CNI_ variables, which are set per delegate. */
function inherited(io: Io): Record<string, string> {
  const all = io.environ?.() ?? { PATH: io.getenv('PATH') };
  return Object.fromEntries(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined && !e[0].startsWith('CNI_')));
}
