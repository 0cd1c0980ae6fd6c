// Integration: `macmux install` (the built executable) against a temporary host root and the API test
// server: the files it writes and their modes, never wrapping itself, idempotence, the long-running
// mode (re-writes on a changed primary, /healthz, SIGTERM), the endpoint bound only where --listen
// says (loopback by default), and a token rotated under a running install picked up by a real CNI
// ADD through the written conflist.
import { describe, it, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { startApiServer, type ApiServer } from '../apiserver/server';
import { BINARY, PLUGIN_DIR, Sandbox, cniAsync, httpText, links } from './harness';
import { macmuxConf } from '../../src/cli/setup';
import { deviceName } from '../../src/util/names';

const NS = 'kube-system';
const POOL = { RANGE_START: '02:ab:00:00:00:00', RANGE_END: '02:ab:00:00:00:ff', BLOCK_SIZE: '16' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let api: ApiServer;

before(async () => {
  api = await startApiServer({ namespaces: ['default', NS, 'nopool'] });
  api.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'macmux-pool', namespace: NS }, data: POOL });
});
after(async () => api?.stop());

// ---------------------------------------------------------------- helpers

interface Done {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Spawns `macmux install args` (asynchronously: the API test server lives in this process). */
function spawnInstall(args: string[], env: Record<string, string> = {}): { child: ChildProcess; stderr: () => string; done: Promise<Done> } {
  const child = spawn(BINARY, ['install', ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (b: Buffer) => out.push(b));
  child.stderr!.on('data', (b: Buffer) => err.push(b));
  const done = new Promise<Done>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
  return { child, stderr: () => Buffer.concat(err).toString('utf8'), done };
}

const apiFlags = (a: ApiServer = api) => ['--server', a.url, '--token-file', a.tokenFile, '--ca-file', a.caFile];

function once(root: string, extra: string[] = [], a: ApiServer = api): Promise<Done> {
  return spawnInstall(['--root', root, '--once', ...apiFlags(a), ...extra]).done;
}

/** A temp host root with <root>/etc/cni/net.d, removed after the test. */
function hostRoot(t: TestContext): string {
  const root = mkdtempSync(join(tmpdir(), 'macmux-install-'));
  mkdirSync(join(root, 'etc/cni/net.d'), { recursive: true });
  t.after(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

const bridgePrimary = (subnet: string, bridge = 'cni0', dataDir?: string): Record<string, unknown> => ({
  cniVersion: '1.0.0',
  name: 'cbr0',
  plugins: [
    { type: 'bridge', bridge, isGateway: true, ipMasq: false, ipam: { type: 'host-local', subnet, ...(dataDir ? { dataDir } : {}) } },
    { type: 'portmap', capabilities: { portMappings: true } },
    { type: 'bandwidth', capabilities: { bandwidth: true } },
  ],
});

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value, null, 2));
}
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
const mode = (path: string) => statSync(path).mode & 0o777;
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
let binarySha: string | undefined;
const builtSha = () => (binarySha ??= sha(BINARY));

type Plugin = Record<string, unknown> & { delegates: Array<Record<string, unknown>> };
const pluginOf = (conflist: Record<string, unknown>) => (conflist.plugins as Plugin[])[0]!;

/** Polls `fn` until it returns something truthy; fails with `what` after `ms`. */
async function until<T>(what: string, fn: () => T | Promise<T>, ms = 20_000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(100);
  }
}

const fetch = httpText;

/** Starts a long-running install; resolves once it printed its address. Killed after the test if still running. */
async function serveInstall(t: TestContext, args: string[], a: ApiServer = api): Promise<{ port: number; child: ChildProcess; stderr: () => string; done: Promise<Done> }> {
  const run = spawnInstall(['--listen', '127.0.0.1:0', '--interval', '1', ...apiFlags(a), ...args]);
  t.after(() => {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
  });
  const port = await until('install to listen', () => {
    if (run.child.exitCode !== null) throw new Error(`install exited ${run.child.exitCode}: ${run.stderr()}`);
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(run.stderr());
    return m ? Number(m[1]) : undefined;
  });
  return { port, ...run };
}

const healthz = async (port: number, status: number, includes = '') =>
  until(`/healthz ${status}${includes ? ` with "${includes}"` : ''}`, async () => {
    const r = await fetch(port, '/healthz');
    return r.status === status && r.body.includes(includes) ? r : undefined;
  });

// ---------------------------------------------------------------- tests

describe('macmux install --once', () => {
  it('writes the binary, the conflist wrapping the primary, the kubeconfig and the token copy, with their modes', async (t) => {
    const root = hostRoot(t);
    const primary = bridgePrimary('10.244.1.0/24');
    writeJson(join(root, 'etc/cni/net.d/10-bridge.conflist'), primary);
    const cfg = join(root, 'config.json');
    writeJson(cfg, { macGracePeriod: 120, logLevel: 2 });
    api.clearRequests();

    const r = await once(root, ['--config', cfg]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '', 'install prints nothing on stdout');
    assert.ok(!r.stderr.includes(api.token), 'the token is never logged');

    const bin = join(root, 'opt/cni/bin/macmux');
    assert.equal(mode(bin), 0o755);
    assert.equal(sha(bin), builtSha(), 'the installed binary is the running executable, byte for byte');
    assert.deepEqual(readdirSync(join(root, 'opt/cni/bin')), ['macmux'], 'no temp file left behind');

    const conflistPath = join(root, 'etc/cni/net.d/00-macmux.conflist');
    assert.equal(mode(conflistPath), 0o644);
    const conflist = readJson(conflistPath);
    assert.deepEqual(conflist, {
      cniVersion: '1.0.0',
      name: 'macmux',
      plugins: [
        {
          type: 'macmux',
          kubeconfig: '/var/lib/macmux/kubeconfig',
          cacheDir: '/var/lib/macmux',
          binDir: '/opt/cni/bin',
          confDir: '/etc/cni/net.d',
          macNamespace: NS,
          delegates: [{ ...primary, masterPlugin: true }],
          capabilities: { portMappings: true, bandwidth: true },
          macPool: { rangeStart: POOL.RANGE_START, rangeEnd: POOL.RANGE_END, blockSize: 16 },
          macGracePeriod: 120,
          logLevel: 2,
        },
      ],
    });
    // macmux's own validation accepts it (the CLI reads the installed conflist the same way).
    const conf = macmuxConf(conflist, conflistPath);
    assert.equal(conf.macGracePeriod, 120);
    assert.deepEqual(readdirSync(join(root, 'etc/cni/net.d')).sort(), ['00-macmux.conflist', '10-bridge.conflist']);

    const kcPath = join(root, 'var/lib/macmux/kubeconfig');
    assert.equal(mode(kcPath), 0o600);
    const kcText = readFileSync(kcPath, 'utf8');
    assert.ok(!kcText.includes(api.token), 'no inline token');
    assert.doesNotThrow(() => JSON.parse(kcText), 'the kubeconfig is JSON (which is YAML): the plugin reads it without a YAML parser');
    const kc = load(kcText) as { clusters: Array<{ cluster: Record<string, string> }>; users: Array<{ user: Record<string, string> }>; contexts: Array<{ context: Record<string, string> }> };
    assert.deepEqual(kc.users[0]!.user, { tokenFile: '/var/lib/macmux/token' });
    assert.deepEqual(kc.clusters[0]!.cluster, { server: api.url, 'certificate-authority': '/var/lib/macmux/ca.crt' });
    assert.equal(kc.contexts[0]!.context.namespace, NS);

    const token = join(root, 'var/lib/macmux/token');
    assert.equal(mode(token), 0o600);
    assert.equal(readFileSync(token, 'utf8'), api.token);
    assert.equal(readFileSync(join(root, 'var/lib/macmux/ca.crt'), 'utf8'), readFileSync(api.caFile, 'utf8'));

    const poolReads = api.requests.filter((q) => q.verb === 'get' && q.resource === 'configmaps' && q.name === 'macmux-pool');
    assert.equal(poolReads.length, 1);
    assert.equal(poolReads[0]!.auth, api.token, 'install read the pool with the projected token');
  });

  it('is idempotent: a second run leaves every file as it was, the binary not even rewritten', async (t) => {
    const root = hostRoot(t);
    writeJson(join(root, 'etc/cni/net.d/10-bridge.conflist'), bridgePrimary('10.244.2.0/24'));
    assert.equal((await once(root)).status, 0);
    const files = ['opt/cni/bin/macmux', 'etc/cni/net.d/00-macmux.conflist', 'var/lib/macmux/kubeconfig', 'var/lib/macmux/token', 'var/lib/macmux/ca.crt'].map((f) => join(root, f));
    const before = files.map((f) => ({ f, sha: sha(f), ino: statSync(f).ino, mtime: statSync(f).mtimeMs, mode: mode(f) }));
    await sleep(20);
    const r = await once(root);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      files.map((f) => ({ f, sha: sha(f), ino: statSync(f).ino, mtime: statSync(f).mtimeMs, mode: mode(f) })),
      before,
      'same content, same inode, same mtime, same mode',
    );
    assert.ok(!/installed|wrote|refreshed/.test(r.stderr), `nothing was written: ${r.stderr}`);
  });

  it('never wraps itself: a macmux config is skipped, its own conflist is never nested, no primary means not done', async (t) => {
    const root = hostRoot(t);
    const dir = join(root, 'etc/cni/net.d');
    const conflistPath = join(dir, '00-macmux.conflist');
    // Only a macmux config: nothing to wrap, no conflist written.
    writeJson(join(dir, '05-other.conf'), { cniVersion: '1.0.0', name: 'mm', type: 'macmux', delegates: [{ name: 'lo', type: 'loopback' }] });
    let r = await once(root);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /no primary network config in .*net\.d/);
    assert.match(r.stderr, /05-other\.conf is a macmux config/);
    assert.ok(!existsSync(conflistPath), 'no conflist without a primary');

    // A real primary after it: wrapped; the macmux config is not.
    writeJson(join(dir, '10-bridge.conflist'), bridgePrimary('10.244.3.0/24'));
    r = await once(root);
    assert.equal(r.status, 0, r.stderr);
    const first = readFileSync(conflistPath, 'utf8');
    assert.equal(pluginOf(JSON.parse(first)).delegates[0]!.name, 'cbr0');

    // The primary gone: its own conflist is never taken as the primary; it stays as it was.
    rmSync(join(dir, '10-bridge.conflist'));
    r = await once(root);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /no primary network config/);
    assert.equal(readFileSync(conflistPath, 'utf8'), first, 'not rewritten, not nested');

    // --primary naming a macmux config is refused.
    writeJson(join(dir, '10-bridge.conflist'), bridgePrimary('10.244.3.0/24'));
    r = await once(root, ['--primary', '05-other.conf']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /cannot be wrapped: 05-other\.conf is a macmux config/);
    r = await once(root, ['--primary', '00-macmux.conflist']);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(readFileSync(conflistPath, 'utf8'), first);
    for (const f of readdirSync(dir).filter((n) => n !== '05-other.conf')) {
      assert.ok(!readFileSync(join(dir, f), 'utf8').match(/"type":\s*"macmux"[^]*"type":\s*"macmux"/), `${f} does not nest macmux`);
    }
  });

  it('writes no conflist while the binary or the token cannot be put in place: the runtime never sees a conflist without them', async (t) => {
    const root = hostRoot(t);
    writeJson(join(root, 'etc/cni/net.d/10-bridge.conflist'), bridgePrimary('10.22.0.0/16'));
    const conflist = join(root, 'etc/cni/net.d/00-macmux.conflist');
    // No projected token yet.
    const noToken = await spawnInstall(['--root', root, '--once', '--server', api.url, '--token-file', join(root, 'no-such-token'), '--ca-file', api.caFile]).done;
    assert.notEqual(noToken.status, 0, noToken.stderr);
    assert.match(noToken.stderr, /not written/);
    assert.equal(existsSync(conflist), false);
    // The bin dir cannot be written (a file stands where the directory should be).
    rmSync(join(root, 'opt/cni/bin'), { recursive: true, force: true });
    mkdirSync(join(root, 'opt/cni'), { recursive: true });
    writeFileSync(join(root, 'opt/cni/bin'), 'not a directory');
    const noBinary = await once(root);
    assert.notEqual(noBinary.status, 0, noBinary.stderr);
    assert.equal(existsSync(conflist), false);
    // Once both are possible, everything is written.
    rmSync(join(root, 'opt/cni/bin'));
    const ok = await once(root);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(existsSync(conflist), true);
  });

  it('warns when the primary sorts before the conflist, and --primary picks another file', async (t) => {
    const root = hostRoot(t);
    const dir = join(root, 'etc/cni/net.d');
    writeJson(join(dir, '00-aaa.conf'), { cniVersion: '0.4.0', name: 'early', type: 'bridge', bridge: 'cni9', ipam: { type: 'host-local', subnet: '10.244.9.0/24' } });
    writeJson(join(dir, '20-bridge.conflist'), bridgePrimary('10.244.4.0/24'));
    let r = await once(root);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /00-aaa\.conf sorts before 00-macmux\.conflist: the runtime uses it directly/);
    let conflist = readJson(join(dir, '00-macmux.conflist'));
    assert.equal(conflist.cniVersion, '0.4.0', "the conflist speaks the primary's CNI version");
    assert.equal(pluginOf(conflist).delegates[0]!.name, 'early');
    assert.equal(pluginOf(conflist).capabilities, undefined, 'no capabilities when the primary declares none');

    r = await once(root, ['--primary', '20-bridge.conflist']);
    assert.equal(r.status, 0, r.stderr);
    conflist = readJson(join(dir, '00-macmux.conflist'));
    assert.equal(pluginOf(conflist).delegates[0]!.name, 'cbr0');
  });

  it('without a pool ConfigMap writes no macPool unless --config sets one; an unreachable API is exit 4', async (t) => {
    const root = hostRoot(t);
    const dir = join(root, 'etc/cni/net.d');
    writeJson(join(dir, '10-bridge.conflist'), bridgePrimary('10.244.5.0/24'));
    let r = await once(root, ['--namespace', 'nopool']);
    assert.equal(r.status, 0, r.stderr);
    let plugin = pluginOf(readJson(join(dir, '00-macmux.conflist')));
    assert.equal(plugin.macNamespace, 'nopool');
    assert.equal(plugin.macPool, undefined, 'ledger off');

    const cfg = join(root, 'config.json');
    const macPool = { rangeStart: '02:cd:00:00:00:00', rangeEnd: '02:cd:00:00:ff:ff' };
    writeJson(cfg, { macPool });
    r = await once(root, ['--namespace', 'nopool', '--config', cfg]);
    assert.equal(r.status, 0, r.stderr);
    plugin = pluginOf(readJson(join(dir, '00-macmux.conflist')));
    assert.deepEqual(plugin.macPool, macPool);

    writeJson(cfg, { macGracePeriod: 'soon' });
    r = await once(root, ['--namespace', 'nopool', '--config', cfg]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /macGracePeriod/);
    assert.deepEqual(pluginOf(readJson(join(dir, '00-macmux.conflist'))).macPool, macPool, 'an invalid result is never written');

    const fault = api.fault({ match: /configmaps\/macmux-pool/, drop: true });
    t.after(() => fault.cancel());
    r = await once(root, ['--interval', '1']);
    assert.equal(r.status, 4, r.stderr);
    assert.match(r.stderr, /unreachable/);
  });
});

describe('macmux install (long-running)', () => {
  it('rewrites the conflist when the primary changes, reports readiness on /healthz, serves /livez and /metrics, and removes its conflist on SIGTERM with --cleanup-on-exit', async (t) => {
    const root = hostRoot(t);
    const dir = join(root, 'etc/cni/net.d');
    const primaryPath = join(dir, '10-bridge.conflist');
    const conflistPath = join(dir, '00-macmux.conflist');
    writeJson(primaryPath, bridgePrimary('10.244.6.0/24'));
    const run = await serveInstall(t, ['--root', root, '--cleanup-on-exit']);

    await healthz(run.port, 200, 'ok');
    assert.equal((await fetch(run.port, '/livez')).status, 200);
    const m = await fetch(run.port, '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.type, /^text\/plain/);
    assert.equal((await fetch(run.port, '/nope')).status, 404);
    assert.equal(mode(conflistPath), 0o644);

    // A new subnet in the primary: the conflist follows.
    writeJson(primaryPath, bridgePrimary('10.244.7.0/24'));
    await until('the conflist to carry the new subnet', () => {
      const d = pluginOf(readJson(conflistPath)).delegates[0] as { plugins: Array<{ ipam?: { subnet?: string } }> };
      return d.plugins[0]!.ipam?.subnet === '10.244.7.0/24';
    });

    // The API unreachable: not ready, and ready again once it answers.
    const fault = api.fault({ match: /configmaps\/macmux-pool/, status: 503, message: 'down for the test' });
    t.after(() => fault.cancel());
    const down = await healthz(run.port, 503, 'unreachable');
    assert.match(down.body, /not ready: .*macmux-pool/);
    fault.cancel();
    await healthz(run.port, 200, 'ok');

    // The primary removed: not ready; the conflist is kept.
    rmSync(primaryPath);
    await healthz(run.port, 503, 'no primary network config');
    assert.ok(existsSync(conflistPath));
    writeJson(primaryPath, bridgePrimary('10.244.7.0/24'));
    await healthz(run.port, 200, 'ok');

    run.child.kill('SIGTERM');
    const done = await run.done;
    assert.equal(done.status, 0, done.stderr);
    assert.ok(!existsSync(conflistPath), '--cleanup-on-exit removed the conflist');
    assert.ok(existsSync(primaryPath), 'the primary is never touched');
    assert.ok(existsSync(join(root, 'opt/cni/bin/macmux')));
    assert.ok(!done.stderr.includes(api.token), 'the token is never logged');
    for (const line of done.stderr.trim().split('\n')) assert.match(line, /^\d{4}-\d\d-\d\dT\S+ macmux install (info|warn|error): /);
  });

  it('keeps its conflist on SIGTERM without --cleanup-on-exit', async (t) => {
    const root = hostRoot(t);
    writeJson(join(root, 'etc/cni/net.d/10-bridge.conflist'), bridgePrimary('10.244.8.0/24'));
    const run = await serveInstall(t, ['--root', root]);
    await healthz(run.port, 200, 'ok');
    run.child.kill('SIGTERM');
    const done = await run.done;
    assert.equal(done.status, 0, done.stderr);
    assert.ok(existsSync(join(root, 'etc/cni/net.d/00-macmux.conflist')));
  });
});

/** GET http://host:port/path: the status, or the connect error's code (ECONNREFUSED). */
function probe(host: string, port: number, path = '/livez'): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpGet({ host, port, path, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/** Whether nothing listens on 127.0.0.1:port and 0.0.0.0:port can be bound (the default port test needs it free). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createTcpServer();
    s.once('error', () => resolve(false));
    s.listen(port, '0.0.0.0', () => s.close(() => resolve(true)));
  });
}

/** Starts a long-running install with exactly these flags; resolves with the address it logged. */
async function listening(t: TestContext, args: string[], env: Record<string, string> = {}): Promise<{ host: string; port: number; child: ChildProcess; done: Promise<Done> }> {
  const run = spawnInstall(['--interval', '1', ...apiFlags(), ...args], env);
  t.after(() => {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
  });
  const [host, port] = await until('install to listen', () => {
    if (run.child.exitCode !== null) throw new Error(`install exited ${run.child.exitCode}: ${run.stderr()}`);
    const m = /listening on http:\/\/(\[[^\]]+\]|[^:/\s]+):(\d+)/.exec(run.stderr());
    return m ? ([m[1]!.replace(/^\[|\]$/g, ''), Number(m[2])] as const) : undefined;
  });
  return { host, port, child: run.child, done: run.done };
}

describe('the endpoint address (--listen)', () => {
  it('serves only on the --listen address: the same port on another local address is refused', async (t) => {
    const root = hostRoot(t);
    writeJson(join(root, 'etc/cni/net.d/10-bridge.conflist'), bridgePrimary('10.244.9.0/24'));
    const v4 = await listening(t, ['--root', root, '--listen', '127.0.0.2:0']);
    assert.equal(v4.host, '127.0.0.2');
    assert.equal(await probe('127.0.0.2', v4.port), 200);
    assert.equal(await probe('127.0.0.1', v4.port), 'ECONNREFUSED', '127.0.0.1 is another address of the same host');
    assert.equal(await probe('::1', v4.port), 'ECONNREFUSED');
    v4.child.kill('SIGTERM');
    assert.equal((await v4.done).status, 0);

    // IPv6 in brackets, as the DaemonSet's --listen=[$(POD_IP)]:9733 gives it on an IPv6 node; and an IPv4 address in brackets.
    const v6 = await listening(t, ['--root', root, '--listen', '[::1]:0']);
    assert.equal(v6.host, '::1');
    assert.equal(await probe('::1', v6.port), 200);
    assert.equal(await probe('127.0.0.1', v6.port), 'ECONNREFUSED');
    v6.child.kill('SIGTERM');
    const bracketed = await listening(t, ['--root', root, '--listen', '[127.0.0.3]:0']);
    assert.equal(bracketed.host, '127.0.0.3');
    assert.equal(await probe('127.0.0.3', bracketed.port), 200);
    assert.equal(await probe('127.0.0.1', bracketed.port), 'ECONNREFUSED');
    bracketed.child.kill('SIGTERM');
  });

  it('without --listen serves on 127.0.0.1:9733 only, never on every address', async (t) => {
    assert.ok(await portFree(9733), 'port 9733 (the default) must be free on this host for this test: stop whatever listens there');
    const root = hostRoot(t);
    writeJson(join(root, 'etc/cni/net.d/10-bridge.conflist'), bridgePrimary('10.244.10.0/24'));
    const run = await listening(t, ['--root', root]);
    assert.deepEqual([run.host, run.port], ['127.0.0.1', 9733]);
    assert.equal(await probe('127.0.0.1', 9733), 200);
    assert.equal(await probe('127.0.0.2', 9733), 'ECONNREFUSED', 'not bound to all interfaces');
    run.child.kill('SIGTERM');
    assert.equal((await run.done).status, 0);
  });

  it('refuses a host that is not an IP address, naming POD_IP when the $(POD_IP) in the DaemonSet was not expanded', async (t) => {
    const root = hostRoot(t);
    const unexpanded = await once(root, ['--listen', '[$(POD_IP)]:9733']);
    assert.equal(unexpanded.status, 2, unexpanded.stderr);
    assert.match(unexpanded.stderr, /--listen \[\$\(POD_IP\)\]:9733: .*POD_IP.*status\.podIP/);
    const name = await once(root, ['--listen', 'localhost:9733']);
    assert.equal(name.status, 2, name.stderr);
    assert.match(name.stderr, /--listen localhost:9733: .*IP address/);
    assert.ok(!existsSync(join(root, 'etc/cni/net.d/00-macmux.conflist')), 'nothing was installed');
  });
});

describe('token rotation', () => {
  it('a rotated projected token reaches the plugin through the written kubeconfig with no reinstall', async (t) => {
    // Its own API server, since the token changes; host paths with --root / so the plugin can run the written config.
    const rot = await startApiServer({ namespaces: ['default', NS] });
    t.after(() => rot.stop());
    rot.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'macmux-pool', namespace: NS }, data: POOL });
    const sb = new Sandbox();
    t.after(() => sb.cleanup());
    const base = join(sb.dir, 'host');
    const [binDir, confDir, stateDir] = ['bin', 'net.d', 'state'].map((d) => join(base, d)) as [string, string, string];
    mkdirSync(confDir, { recursive: true });
    writeJson(join(confDir, '10-bridge.conflist'), bridgePrimary('10.253.0.0/24', sb.bridgeName('c'), sb.ipamDir));
    const lower = sb.bridge('l');
    rot.put({
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name: 'green', namespace: 'default' },
      spec: { config: JSON.stringify({ cniVersion: '1.0.0', name: 'green', type: 'macvlan', master: lower, mode: 'bridge', capabilities: { mac: true } }) },
    });
    const pod = rot.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `rot-${sb.id}`, namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/networks': 'green' } } });
    const env = { ...sb.env('rot1'), CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=rot-${sb.id};K8S_POD_INFRA_CONTAINER_ID=rot1;K8S_POD_UID=${pod.metadata!.uid!}` };

    const run = await serveInstall(t, ['--root', '/', '--bin-dir', binDir, '--conf-dir', confDir, '--state-dir', stateDir], rot);
    await healthz(run.port, 200, 'ok');
    const conflist = readJson(join(confDir, '00-macmux.conflist'));
    const plugin = pluginOf(conflist);
    assert.equal(plugin.kubeconfig, join(stateDir, 'kubeconfig'));
    assert.equal(readFileSync(join(stateDir, 'token'), 'utf8'), rot.token);

    const oldToken = rot.token;
    const newToken = `rotated-${Date.now()}`;
    rot.setToken(newToken, { writeFile: true });
    await until('install to refresh the token copy', () => readFileSync(join(stateDir, 'token'), 'utf8') === newToken);
    assert.deepEqual(readJson(join(confDir, '00-macmux.conflist')), conflist, 'no reinstall: the conflist is unchanged');

    // The runtime's view: the conflist's plugin with the list's name and version, CNI_PATH for the delegates.
    const runtimeConf = { cniVersion: conflist.cniVersion, name: conflist.name, ...plugin };
    rot.clearRequests();
    const add = await cniAsync('ADD', runtimeConf, { ...env, CNI_PATH: PLUGIN_DIR });
    assert.equal(add.status, 0, add.stdout + add.stderr);
    const seen = rot.requests.filter((q) => q.resource !== '');
    assert.ok(seen.some((q) => q.verb === 'get' && q.resource === 'pods'), 'the plugin read the pod');
    assert.ok(seen.some((q) => q.verb === 'patch' && q.resource === 'pods'), 'and wrote network-status');
    assert.ok(seen.every((q) => q.auth === newToken && q.status !== 401), `every plugin request used the new token: ${JSON.stringify(seen.map((q) => [q.verb, q.resource, q.status, q.auth === newToken]))}`);
    const green = links(sb.ns).find((l) => l.ifname === deviceName('green'));
    assert.match(green?.address ?? '', /^02:ab:00:00:00:/, 'the MAC came from the pool range the conflist carries');
    assert.ok(rot.list('ConfigMap', NS).some((c) => c.metadata?.name?.startsWith('macmux-ledger-')), 'the ledger is on, in macNamespace');

    const del = await cniAsync('DEL', runtimeConf, { ...env, CNI_PATH: PLUGIN_DIR });
    assert.equal(del.status, 0, del.stdout + del.stderr);

    // The old token is refused now: a plugin with a kubeconfig carrying it fails with 401.
    const oldKc = rot.writeKubeconfig(join(sb.dir, 'old-kubeconfig'), { token: oldToken });
    rot.clearRequests();
    const stale = await cniAsync('ADD', { ...runtimeConf, kubeconfig: oldKc }, { ...env, CNI_CONTAINERID: 'rot2', CNI_PATH: PLUGIN_DIR });
    assert.equal(stale.status, 1);
    assert.equal(stale.json.code, 102, stale.stdout);
    assert.ok(rot.requests.some((q) => q.status === 401));

    run.child.kill('SIGTERM');
    assert.equal((await run.done).status, 0);
  });
});
