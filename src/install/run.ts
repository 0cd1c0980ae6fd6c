// The `macmux install` script: install once; unless --once, serve the endpoints and re-check on a timer and on file changes until SIGTERM.
import { watch, type FSWatcher } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { isSea } from 'node:sea';
import { CliFailure, Exit, type CliIo } from '../cli/io';
import { createExporter } from '../metrics/exporter';
import { exitOf, Installer, type Status } from './check';
import { readNodeShare } from './kube';
import { installLog } from './log';
import { startRetentionSweep } from './retention';
import { local, readPluginSettings, resolveSettings, targets, type InstallFlags } from './paths';
import { close, serve } from './server';

/** The file install copies into the CNI bin dir: this very executable. */
function selfExecutable(): string {
  if (!isSea()) {
    throw new CliFailure(Exit.Usage, 'install copies the running executable into the CNI bin dir, but this process is plain node; run install from the built macmux binary');
  }
  return process.execPath;
}

/** Resolves on the first SIGTERM or SIGINT. */
function signalled(): { promise: Promise<string>; dispose: () => void } {
  let dispose = () => {};
  const promise = new Promise<string>((resolve) => {
    const on = (sig: string) => () => resolve(sig);
    const term = on('SIGTERM');
    const int = on('SIGINT');
    process.once('SIGTERM', term);
    process.once('SIGINT', int);
    dispose = () => {
      process.off('SIGTERM', term);
      process.off('SIGINT', int);
    };
  });
  return { promise, dispose };
}

export async function runInstall(flags: InstallFlags, io: CliIo): Promise<void> {
  const s = resolveSettings(flags, io.getenv);
  const log = installLog(io.err);
  const source = selfExecutable();
  const apiBudgetMs = Math.min(10, Math.max(2, s.intervalSec)) * 1000;
  const installer = new Installer(s, source, log, apiBudgetMs);

  if (s.once) {
    const st = await installer.check(false);
    if (!st.ready) throw new CliFailure(exitOf(st.problems), `install incomplete: ${st.reason}`);
    return;
  }

  const signal = signalled();
  let graceSec = 600;
  try {
    const g = readPluginSettings(s.configFile).macGracePeriod;
    if (typeof g === 'number') graceSec = g;
  } catch {
    // the first check reports a bad --config
  }
  const exporter = createExporter({
    statsFile: local(s, targets(s).stats),
    // The same node name the plugin's ledger uses: nodeName from NODE_NAME, else the host name.
    readLedger: readNodeShare(s, apiBudgetMs, s.nodeName ?? hostname()),
    node: s.nodeName ?? hostname(),
    graceSec,
    scanIntervalSec: s.scanIntervalSec,
    warn: (m) => log.warn(`metrics: ${m}`),
  });
  let status: Status | undefined;
  const { server, host, port } = await serve(
    {
      notReady: () => (status === undefined ? 'starting' : status.ready ? undefined : status.reason),
      metrics: () => exporter.metrics(),
      metricsContentType: exporter.contentType,
    },
    s.listen.host,
    s.listen.port,
  );
  log.info(`listening on http://${host.includes(':') ? `[${host}]` : host}:${port}`);
  exporter.start();
  const stopRetention = startRetentionSweep({ api: s, budgetMs: 60_000, node: s.nodeName, graceSec, intervalSec: s.scanIntervalSec, log });

  // Re-checks never overlap: a request during a pass runs one more pass after it.
  let stopped = false;
  let again = false;
  let current: Promise<void> | undefined;
  const recheck = (): void => {
    if (stopped) return;
    if (current) {
      again = true;
      return;
    }
    current = (async () => {
      do {
        again = false;
        try {
          status = await installer.check();
        } catch (e) {
          status = { ready: false, reason: (e as Error).message, problems: [{ kind: 'failed', msg: (e as Error).message }] };
          log.error(`check failed: ${(e as Error).message}`);
        }
      } while (again && !stopped);
      current = undefined;
    })();
  };
  let debounce: NodeJS.Timeout | undefined;
  const soon = (): void => {
    clearTimeout(debounce);
    debounce = setTimeout(recheck, 200);
  };
  const watchers: FSWatcher[] = [];
  for (const dir of new Set([local(s, s.confDir), dirname(s.tokenFile), dirname(s.caFile), ...(s.configFile ? [dirname(s.configFile)] : [])])) {
    try {
      const w = watch(dir, { persistent: false }, soon);
      w.on('error', () => w.close()); // the timer still re-checks
      watchers.push(w);
    } catch {
      // not there (yet): the timer re-checks
    }
  }
  const timer = setInterval(recheck, s.intervalSec * 1000);
  recheck();

  const sig = await signal.promise;
  signal.dispose();
  stopped = true;
  log.info(`${sig}: stopping`);
  clearInterval(timer);
  clearTimeout(debounce);
  for (const w of watchers) w.close();
  exporter.stop();
  stopRetention();
  await current;
  if (s.cleanupOnExit && installer.removeConflist()) log.info(`removed ${local(s, targets(s).conflist)} (--cleanup-on-exit)`);
  await close(server);
  log.info('stopped');
}
