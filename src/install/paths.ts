// `macmux install` settings: flags and environment resolved into host paths (as configs name them) and local paths (under --root).
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, posix } from 'node:path';
import { CliFailure, Exit } from '../cli/io';
import { jsonSyntaxError } from '../util/parse-errors';

/** The flags as commander parses them. */
export interface InstallFlags {
  root: string;
  binDir: string;
  confDir: string;
  stateDir: string;
  conflistName: string;
  primary?: string;
  config?: string;
  namespace?: string;
  server?: string;
  tokenFile: string;
  caFile: string;
  listen: string;
  interval: string;
  scanInterval: string;
  cleanupOnExit?: boolean;
  once?: boolean;
}

export const DEFAULT_CONFIG_FILE = '/etc/macmux/config.json';

export interface InstallSettings {
  root: string;
  /** Host paths, written into the conflist and the kubeconfig. */
  binDir: string;
  confDir: string;
  stateDir: string;
  conflistName: string;
  primary?: string;
  /** The --config file (a container path), when there is one to read. */
  configFile?: string;
  namespace: string;
  server: string;
  tokenFile: string;
  caFile: string;
  nodeName?: string;
  listen: { host: string; port: number };
  intervalSec: number;
  scanIntervalSec: number;
  cleanupOnExit: boolean;
  once: boolean;
}

/** A host path as this process sees it: under the host root. */
export const local = (s: Pick<InstallSettings, 'root'>, hostPath: string): string => join(s.root, hostPath);

/** The host paths of what install writes. */
export function targets(s: InstallSettings): { binary: string; conflist: string; kubeconfig: string; token: string; ca: string; stats: string } {
  return {
    binary: posix.join(s.binDir, 'macmux'),
    conflist: posix.join(s.confDir, s.conflistName),
    kubeconfig: posix.join(s.stateDir, 'kubeconfig'),
    token: posix.join(s.stateDir, 'token'),
    ca: posix.join(s.stateDir, 'ca.crt'),
    stats: posix.join(s.stateDir, 'stats.json'),
  };
}

const usage = (msg: string) => new CliFailure(Exit.Usage, msg);

function seconds(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 86400) throw usage(`${flag} ${value}: give a number of seconds above 0`);
  return n;
}

/**
 * Parses `ip:port`, `[ip]:port` (IPv6 always, IPv4 allowed, so `[$(POD_IP)]:port` fits both
 * families) or `:port` (every address). The host must be an IP literal: a name could resolve to
 * anything, and an unexpanded `$(POD_IP)` (the variable missing from the container) is named.
 */
export function parseListen(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw usage(`--listen ${addr}: give ip:port, e.g. 127.0.0.1:9733, [fd00::1]:9733 or :9733 for every address (port 0 picks a free port)`);
  const host = m[1] ?? m[2]!;
  if (m[1] === undefined && host === '') return { host: '0.0.0.0', port };
  if (host.includes('$(')) throw usage(`--listen ${addr}: ${host} was not expanded; set the variable in the container's env (POD_IP from the downward API, fieldPath status.podIP)`);
  if (isIP(host) === 0) throw usage(`--listen ${addr}: ${host} is not an IP address; give the address to serve on, e.g. 127.0.0.1:9733 or [fd00::1]:9733`);
  return { host, port };
}

function absolute(p: string, flag: string): string {
  if (!p.startsWith('/')) throw usage(`${flag} ${p}: give an absolute host path`);
  return posix.normalize(p);
}

export function resolveSettings(f: InstallFlags, getenv: (k: string) => string | undefined): InstallSettings {
  const host = getenv('KUBERNETES_SERVICE_HOST');
  const port = getenv('KUBERNETES_SERVICE_PORT') ?? '443';
  const server = f.server ?? (host ? `https://${host.includes(':') ? `[${host}]` : host}:${port}` : undefined);
  if (!server) throw usage('no API server: pass --server https://<host>:<port> (KUBERNETES_SERVICE_HOST is not set)');
  try {
    new URL(server);
  } catch {
    throw usage(`--server ${server}: not a URL; give e.g. https://10.96.0.1:443`);
  }
  if (f.conflistName.includes('/') || !/\.(conflist)$/.test(f.conflistName)) throw usage(`--conflist-name ${f.conflistName}: give a file name ending in .conflist`);
  if (f.primary !== undefined && (f.primary.includes('/') || f.primary === f.conflistName)) throw usage(`--primary ${f.primary}: give the file name of the primary network config in the conf dir, not macmux's own`);
  const configFile = f.config ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  const nodeName = getenv('NODE_NAME');
  return {
    root: f.root,
    binDir: absolute(f.binDir, '--bin-dir'),
    confDir: absolute(f.confDir, '--conf-dir'),
    stateDir: absolute(f.stateDir, '--state-dir'),
    conflistName: f.conflistName,
    ...(f.primary !== undefined ? { primary: f.primary } : {}),
    ...(configFile !== undefined ? { configFile } : {}),
    namespace: f.namespace ?? getenv('POD_NAMESPACE') ?? 'kube-system',
    server,
    tokenFile: f.tokenFile,
    caFile: f.caFile,
    ...(nodeName ? { nodeName } : {}),
    listen: parseListen(f.listen),
    intervalSec: seconds(f.interval, '--interval'),
    scanIntervalSec: seconds(f.scanInterval, '--scan-interval'),
    cleanupOnExit: f.cleanupOnExit === true,
    once: f.once === true,
  };
}

/** The --config file's JSON object of plugin settings ({} without one); re-read on every check. */
export function readPluginSettings(file: string | undefined): Record<string, unknown> {
  if (file === undefined) return {};
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw usage(`--config ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; give a JSON file of macmux plugin settings`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw usage(`--config ${file}: not JSON (${jsonSyntaxError(e, text)})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw usage(`--config ${file}: give a JSON object, e.g. {"macGracePeriod":600}`);
  return value as Record<string, unknown>;
}
