// Integration harness: runs dist/macmux as a runtime does and inspects network namespaces with `ip -n`.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { get as httpGet } from 'node:http';

export const ROOT = resolve(__dirname, '..', '..');
/** The built executable; MACMUX_BINARY points the tests at another build. */
export const BINARY = process.env.MACMUX_BINARY ?? join(ROOT, 'dist', 'macmux');
export const PLUGIN_DIR = process.env.MACMUX_TEST_CNI_PATH ?? '/usr/lib/cni';

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (every macmux answer is JSON). */
  json: Record<string, unknown>;
}

/** The environment a runtime gives the plugin: PATH, CNI_COMMAND and `env` (undefined values left out). */
function runtimeEnv(command: string, env: Record<string, string | undefined>): Record<string, string> {
  const full: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: command };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) full[k] = v;
  return full;
}

/** Every macmux answer on stdout is JSON (or nothing); anything else fails the test. */
function result(status: number | null, stdout: string, stderr: string): RunResult {
  let json: Record<string, unknown> = {};
  if (stdout.trim()) {
    try {
      json = JSON.parse(stdout) as Record<string, unknown>;
    } catch {
      throw new Error(`macmux printed non-JSON on stdout: ${JSON.stringify(stdout)}`);
    }
  }
  return { status: status ?? -1, stdout, stderr, json };
}

const stdinOf = (conf: unknown) => (typeof conf === 'string' ? conf : JSON.stringify(conf));

/** Runs dist/macmux with CNI env vars and `conf` on stdin, exactly as a runtime would. */
export function cni(command: string, conf: unknown, env: Record<string, string | undefined> = {}): RunResult {
  const r = spawnSync(BINARY, [], { input: stdinOf(conf), env: runtimeEnv(command, env), encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  return result(r.status, r.stdout, r.stderr);
}

/**
 * Like cni(), without blocking the event loop: needed when the API test server runs in this process.
 */
export function cniAsync(command: string, conf: unknown, env: Record<string, string | undefined> = {}): Promise<RunResult> {
  return cniAsyncWith([BINARY], command, conf, env);
}

/** Like cniAsync(), running `argv` (a plugin binary, or a launcher followed by it) instead of dist/macmux. */
export function cniAsyncWith(argv: string[], command: string, conf: unknown, env: Record<string, string | undefined> = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: runtimeEnv(command, env), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (status) => {
      try {
        resolve(result(status, Buffer.concat(out).toString('utf8'), Buffer.concat(err).toString('utf8')));
      } catch (e) {
        reject(e);
      }
    });
    // A run refused before it reads stdin (a bad CNI_COMMAND) closes the pipe early: not a test failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdinOf(conf));
  });
}

export interface CliRun {
  status: number;
  stdout: string;
  stderr: string;
  /** Wall time of the run, in ms. */
  ms: number;
}

/**
 * Runs the built executable as the operator CLI (no CNI_COMMAND) with exactly PATH plus `env`, so that
 * nothing leaks in from the test's environment (NODE_EXTRA_CA_CERTS, CNI_PATH); without blocking the event loop.
 */
export function cliAsync(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(BINARY, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status: status ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ms: Date.now() - started }));
  });
}

/** GET http://127.0.0.1:<port><path> (install's endpoints). */
export function httpText(port: number, path: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = httpGet({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), type: String(res.headers['content-type'] ?? '') }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function trySh(cmd: string, args: string[]): void {
  try {
    sh(cmd, args);
  } catch {
    // cleanup of something already gone
  }
}

export interface Link {
  ifname: string;
  address: string;
  operstate: string;
  link_type: string;
  addr_info?: Array<{ family: string; local: string; prefixlen: number }>;
  linkinfo?: { info_kind?: string };
}

/** `ip -n NS -d -j addr`: every link in the namespace with its MAC and addresses. */
export function links(ns: string): Link[] {
  return JSON.parse(sh('ip', ['-n', ns, '-d', '-j', 'addr'])) as Link[];
}

export function linkNames(ns: string): string[] {
  return links(ns).map((l) => l.ifname).sort();
}

export function ipv4(l: Link | undefined): string[] {
  return (l?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
}

/**
 * One test's world: a fresh netns standing for the pod, host bridges, a private cache and IPAM dir.
 * Everything is removed by cleanup(), which tests register with t.after so it runs even on failure.
 */
export class Sandbox {
  private static seq = 0;
  readonly id: string;
  readonly ns: string;
  readonly netnsPath: string;
  readonly dir: string;
  readonly cacheDir: string;
  readonly ipamDir: string;
  private hostLinks: string[] = [];

  constructor() {
    this.id = `${process.pid % 10000}x${Sandbox.seq++}`;
    this.ns = `mmt-${this.id}`;
    this.netnsPath = `/run/netns/${this.ns}`;
    this.dir = mkdtempSync(join(tmpdir(), 'macmux-it-'));
    this.cacheDir = join(this.dir, 'state');
    this.ipamDir = join(this.dir, 'ipam');
    sh('ip', ['netns', 'add', this.ns]);
  }

  /** A host bridge (the only lower device macvlan accepts here), named uniquely and cleaned up. */
  bridge(tag: string): string {
    const name = `mm${tag}${this.id}`.slice(0, 15);
    sh('ip', ['link', 'add', name, 'type', 'bridge']);
    sh('ip', ['link', 'set', name, 'up']);
    this.hostLinks.push(name);
    return name;
  }

  /** A bridge a delegate will create; only registered for cleanup. */
  bridgeName(tag: string): string {
    const name = `mm${tag}${this.id}`.slice(0, 15);
    this.hostLinks.push(name);
    return name;
  }

  env(containerID: string, ifName = 'eth0'): Record<string, string> {
    return { CNI_CONTAINERID: containerID, CNI_NETNS: this.netnsPath, CNI_IFNAME: ifName, CNI_PATH: PLUGIN_DIR };
  }

  cacheEntries(): string[] {
    const d = join(this.cacheDir, 'cache');
    return existsSync(d) ? readdirSync(d) : [];
  }

  cacheEntry(containerID: string): Record<string, unknown> {
    return JSON.parse(readFileSync(join(this.cacheDir, 'cache', containerID), 'utf8')) as Record<string, unknown>;
  }

  /** IPs host-local still holds (files named after addresses) across all IPAM networks. */
  ipamLeases(): string[] {
    if (!existsSync(this.ipamDir)) return [];
    return readdirSync(this.ipamDir).flatMap((net) =>
      readdirSync(join(this.ipamDir, net)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f) || f.includes(':')).map((f) => `${net}/${f}`),
    );
  }

  deleteNetns(): void {
    trySh('ip', ['netns', 'del', this.ns]);
  }

  cleanup(): void {
    this.deleteNetns();
    for (const l of this.hostLinks) trySh('ip', ['link', 'del', l]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A macmux config: eth0 on bridge + host-local, then the given secondary delegates. */
export function macmuxConf(sb: Sandbox, cniVersion: string, secondaries: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cniVersion,
    name: 'macmux',
    type: 'macmux',
    cacheDir: sb.cacheDir,
    delegates: [
      {
        name: 'cluster',
        masterPlugin: true,
        type: 'bridge',
        bridge: sb.bridgeName('c'),
        isGateway: true,
        ipMasq: false,
        ipam: { type: 'host-local', subnet: '10.250.0.0/24', dataDir: sb.ipamDir },
      },
      ...secondaries,
    ],
    ...extra,
  };
}
