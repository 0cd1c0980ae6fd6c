// kubeconfig.ts: every field kubectl supports for a plugin's kubeconfig, every error (code 7 naming the kubeconfig and the field), exec plugins, in-cluster, and agreement with @kubernetes/client-node.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { KubeConfig } from '@kubernetes/client-node';
import { credentialsFromKubeconfig, inClusterCredentials, type ExecRequest, type KubeconfigIO } from '../../src/k8s/kubeconfig';
import { EXEC_TIMEOUT_MS, loadCredentials, type Credentials } from '../../src/k8s/credentials';
import { CniError } from '../../src/cni/errors';

const KC = '/etc/kc/config';
const b64 = (s: string) => Buffer.from(s).toString('base64');
const CA = '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n';
const CERT = '-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n';

/** In-memory files and an exec that answers with `answer` (and records what it was asked). */
function fakeIO(files: Record<string, string>, answer: (req: ExecRequest) => Promise<string> = () => Promise.reject(new Error('no exec expected'))): KubeconfigIO & { execs: ExecRequest[]; reads: string[] } {
  const execs: ExecRequest[] = [];
  const reads: string[] = [];
  return {
    execs,
    reads,
    readFile(path) {
      reads.push(path);
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
      return Buffer.from(text);
    },
    exec(req) {
      execs.push(req);
      return answer(req);
    },
  };
}

/** A kubeconfig document: cluster `c`, user `u` (when given), context `x` naming them, current. */
function doc(cluster: object, user?: object): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster }],
    users: user ? [{ name: 'u', user }] : [],
    contexts: [{ name: 'x', context: { cluster: 'c', ...(user ? { user: 'u' } : {}) } }],
    'current-context': 'x',
  };
}

const SERVER = { server: 'https://10.0.0.1:6443' };

function resolve(d: unknown, io: KubeconfigIO = fakeIO({})): Promise<Credentials> {
  return credentialsFromKubeconfig(d, KC, io);
}

/** Rejects with one code-7 error that names the kubeconfig once, then the field, matching `re`. */
async function fails(p: Promise<unknown>, field: string, re: RegExp = /./): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CniError, `a CniError, not ${String(e)}`);
    assert.equal(e.code, 7, e.message);
    assert.ok(e.message.startsWith(`kubeconfig ${KC}: ${field}`), `${JSON.stringify(e.message)} names the kubeconfig, then ${field}`);
    assert.equal(e.message.split(`kubeconfig ${KC}:`).length, 2, `never wrapped twice: ${e.message}`);
    assert.match(e.message, re);
    return true;
  });
}

describe('cluster', () => {
  it('server (a trailing slash dropped), verification on, nothing else', async () => {
    assert.deepEqual(await resolve(doc({ server: 'https://api.example:6443/' })), { server: 'https://api.example:6443', rejectUnauthorized: true });
  });

  it('certificate-authority: relative to the kubeconfig directory, or absolute', async () => {
    const io = fakeIO({ '/etc/kc/pki/ca.crt': CA, '/abs/ca.crt': 'abs' });
    assert.equal((await resolve(doc({ ...SERVER, 'certificate-authority': 'pki/ca.crt' }), io)).ca?.toString(), CA);
    assert.equal((await resolve(doc({ ...SERVER, 'certificate-authority': '/abs/ca.crt' }), io)).ca?.toString(), 'abs');
  });

  it('certificate-authority-data (base64, wrapped lines too); it wins over the file, which is then not read', async () => {
    const io = fakeIO({});
    const wrapped = b64(CA).replace(/(.{20})/g, '$1\n');
    assert.equal((await resolve(doc({ ...SERVER, 'certificate-authority-data': wrapped, 'certificate-authority': 'missing.crt' }), io)).ca?.toString(), CA);
    assert.deepEqual(io.reads, []);
  });

  it('insecure-skip-tls-verify and tls-server-name', async () => {
    const c = await resolve(doc({ ...SERVER, 'insecure-skip-tls-verify': true, 'tls-server-name': 'kubernetes.default' }));
    assert.equal(c.rejectUnauthorized, false);
    assert.equal(c.servername, 'kubernetes.default');
    assert.equal((await resolve(doc({ ...SERVER, 'insecure-skip-tls-verify': false }))).rejectUnauthorized, true);
  });

  it('errors: no server, not a URL, a missing CA file, bad base64, wrong types', async () => {
    await fails(resolve(doc({})), 'clusters[0].cluster.server', /not set/);
    await fails(resolve(doc({ server: '10.0.0.1:6443' })), 'clusters[0].cluster.server', /not an https/);
    await fails(resolve(doc({ server: 'ftp://x' })), 'clusters[0].cluster.server', /not an https/);
    await fails(resolve(doc({ ...SERVER, 'certificate-authority': 'ca.crt' })), 'clusters[0].cluster.certificate-authority', /\/etc\/kc\/ca\.crt: ENOENT/);
    await fails(resolve(doc({ ...SERVER, 'certificate-authority-data': 'not base64!' })), 'clusters[0].cluster.certificate-authority-data', /not base64/);
    await fails(resolve(doc({ ...SERVER, 'insecure-skip-tls-verify': 'yes' })), 'clusters[0].cluster.insecure-skip-tls-verify', /true or false/);
    await fails(resolve(doc({ server: 6443 })), 'clusters[0].cluster.server', /a string expected/);
  });
});

describe('context', () => {
  const two = (current: unknown) => ({
    clusters: [
      { name: 'a', cluster: { server: 'https://a:1' } },
      { name: 'b', cluster: { server: 'https://b:2' } },
    ],
    users: [
      { name: 'ua', user: { token: 'ta' } },
      { name: 'ub', user: { token: 'tb' } },
    ],
    contexts: [
      { name: 'ca', context: { cluster: 'a', user: 'ua' } },
      { name: 'cb', context: { cluster: 'b', user: 'ub', namespace: 'ignored' } },
    ],
    'current-context': current,
  });

  it('current-context picks the context, its cluster and its user', async () => {
    const c = await resolve(two('cb'));
    assert.equal(c.server, 'https://b:2');
    assert.equal(c.authorization, 'Bearer tb');
  });

  it('a context without a user is anonymous', async () => {
    const c = await resolve(doc(SERVER));
    assert.equal(c.authorization, undefined);
    assert.equal(c.headers, undefined);
  });

  it('errors: current-context unset or unknown, a context naming no cluster or user, not a mapping', async () => {
    await fails(resolve(two(undefined)), 'current-context', /not set/);
    await fails(resolve(two('')), 'current-context', /not set/);
    await fails(resolve(null), 'current-context', /not set/);
    await fails(resolve(two('nope')), 'current-context', /"nope" names no entry of contexts \(there: "ca", "cb"\)/);
    await fails(resolve({ ...two('cb'), contexts: [{ name: 'cb', context: { user: 'ub' } }] }), 'contexts[0].context.cluster', /not set/);
    await fails(resolve({ ...two('cb'), contexts: [{ name: 'cb', context: { cluster: 'z' } }] }), 'contexts[0].context.cluster', /"z" names no entry of clusters/);
    await fails(resolve({ ...two('cb'), contexts: [{ name: 'cb', context: { cluster: 'a', user: 'z' } }] }), 'contexts[0].context.user', /"z" names no entry of users/);
    await fails(resolve({ ...two('cb'), contexts: [{ name: 'cb' }] }), 'contexts[0].context', /missing/);
    await fails(resolve({ ...two('cb'), clusters: { a: 1 } }), 'clusters', /a list expected/);
    await fails(resolve(['a list']), '', /not a kubeconfig/);
  });
});

describe('user', () => {
  it('token (trimmed)', async () => {
    assert.equal((await resolve(doc(SERVER, { token: 'abc\n' }))).authorization, 'Bearer abc');
  });

  it('tokenFile: relative to the kubeconfig, trimmed, read on every resolution; an inline token wins', async () => {
    const files: Record<string, string> = { '/etc/kc/token': 'first\n' };
    const io = fakeIO(files);
    const d = doc(SERVER, { tokenFile: 'token' });
    assert.equal((await resolve(d, io)).authorization, 'Bearer first');
    files['/etc/kc/token'] = 'second';
    assert.equal((await resolve(d, io)).authorization, 'Bearer second');
    assert.equal((await resolve(doc(SERVER, { token: 'inline', tokenFile: 'token' }), io)).authorization, 'Bearer inline');
  });

  it('tokenFile errors name the file: missing, empty', async () => {
    await fails(resolve(doc(SERVER, { tokenFile: '/run/tok' })), 'users[0].user.tokenFile', /\/run\/tok: ENOENT/);
    await fails(resolve(doc(SERVER, { tokenFile: 'tok' }), fakeIO({ '/etc/kc/tok': ' \n' })), 'users[0].user.tokenFile', /\/etc\/kc\/tok is empty/);
  });

  it('username and password: Basic', async () => {
    assert.equal((await resolve(doc(SERVER, { username: 'admin', password: 's3cret' }))).authorization, `Basic ${b64('admin:s3cret')}`);
  });

  it('client-certificate and client-key as files (relative) and as data', async () => {
    const io = fakeIO({ '/etc/kc/c.crt': CERT, '/etc/kc/c.key': KEY });
    const files = await resolve(doc(SERVER, { 'client-certificate': 'c.crt', 'client-key': 'c.key' }), io);
    assert.equal(files.cert?.toString(), CERT);
    assert.equal(files.key?.toString(), KEY);
    const data = await resolve(doc(SERVER, { 'client-certificate-data': b64(CERT), 'client-key-data': b64(KEY) }));
    assert.equal(data.cert?.toString(), CERT);
    assert.equal(data.key?.toString(), KEY);
    assert.equal(data.authorization, undefined);
  });

  it('client certificate errors: file and data both, one without the other, a missing file, bad data', async () => {
    const io = fakeIO({ '/etc/kc/c.crt': CERT });
    await fails(resolve(doc(SERVER, { 'client-certificate': 'c.crt', 'client-certificate-data': b64(CERT), 'client-key-data': b64(KEY) }), io), 'users[0].user.client-certificate-data', /client-certificate is set too/);
    await fails(resolve(doc(SERVER, { 'client-certificate': 'c.crt' }), io), 'users[0].user.client-key', /not set/);
    await fails(resolve(doc(SERVER, { 'client-key-data': b64(KEY) }), io), 'users[0].user.client-certificate', /not set/);
    await fails(resolve(doc(SERVER, { 'client-certificate': 'c.crt', 'client-key': 'c.key' }), io), 'users[0].user.client-key', /\/etc\/kc\/c\.key: ENOENT/);
    await fails(resolve(doc(SERVER, { 'client-certificate-data': b64(CERT), 'client-key-data': '%%%' }), io), 'users[0].user.client-key-data', /not base64/);
  });

  it('as, as-uid, as-groups and as-user-extra become Impersonate-* headers (extra keys escaped as client-go does)', async () => {
    const c = await resolve(doc(SERVER, { token: 't', as: 'jane', 'as-uid': '42', 'as-groups': ['devs'], 'as-user-extra': { 'acme.com/project': ['p1'], scopes: ['view'] } }));
    assert.deepEqual(c.headers, {
      'Impersonate-User': 'jane',
      'Impersonate-Uid': '42',
      'Impersonate-Group': 'devs',
      'Impersonate-Extra-acme.com%2Fproject': 'p1',
      'Impersonate-Extra-scopes': 'view',
    });
    assert.equal(c.authorization, 'Bearer t');
  });

  it('impersonation errors: more than one group or extra value, wrong types', async () => {
    await fails(resolve(doc(SERVER, { as: 'jane', 'as-groups': ['a', 'b'] })), 'users[0].user.as-groups', /2 groups/);
    await fails(resolve(doc(SERVER, { as: 'jane', 'as-user-extra': { k: ['a', 'b'] } })), 'users[0].user.as-user-extra.k', /2 values/);
    await fails(resolve(doc(SERVER, { as: 'jane', 'as-groups': 'devs' })), 'users[0].user.as-groups', /a list of strings/);
    await fails(resolve(doc(SERVER, { as: 'jane', 'as-groups': ['a', 1] })), 'users[0].user.as-groups[1]', /a string expected/);
  });

  it('errors: auth-provider refused, a token and basic auth together, wrong types', async () => {
    await fails(resolve(doc(SERVER, { 'auth-provider': { name: 'oidc', config: {} } })), 'users[0].user.auth-provider', /"oidc" is not supported.*token, tokenFile or exec/);
    await fails(resolve(doc(SERVER, { token: 't', username: 'u', password: 'p' })), 'users[0].user', /more than one authentication method/);
    await fails(resolve(doc(SERVER, { token: 5 })), 'users[0].user.token', /a string expected, found a number$/);
    await fails(resolve(doc(SERVER, { exec: 'aws' })), 'users[0].user.exec', /a mapping expected/);
  });
});

describe('exec plugins (through a fake runner)', () => {
  const v1 = 'client.authentication.k8s.io/v1';
  const answer = (status: object, apiVersion = v1) => () => Promise.resolve(JSON.stringify({ apiVersion, kind: 'ExecCredential', status }));

  it('runs command with args and env, says it is not interactive, and uses status.token', async () => {
    const io = fakeIO({}, answer({ token: 'from-plugin' }));
    const c = await resolve(doc(SERVER, { exec: { apiVersion: v1, command: 'get-token', args: ['--cluster', 'c'], env: [{ name: 'REGION', value: 'eu' }, { name: 'EMPTY' }], interactiveMode: 'Never' } }), io);
    assert.equal(c.authorization, 'Bearer from-plugin');
    const req = io.execs[0]!;
    assert.equal(req.command, 'get-token', 'a bare name is left to PATH');
    assert.deepEqual(req.args, ['--cluster', 'c']);
    assert.equal(req.env.REGION, 'eu');
    assert.equal(req.env.EMPTY, '');
    assert.deepEqual(JSON.parse(req.env.KUBERNETES_EXEC_INFO!), { apiVersion: v1, kind: 'ExecCredential', spec: { interactive: false } });
  });

  it('v1beta1, a command with a slash relative to the kubeconfig, provideClusterInfo, and a client certificate', async () => {
    const beta = 'client.authentication.k8s.io/v1beta1';
    const io = fakeIO({ '/etc/kc/ca.crt': CA }, answer({ clientCertificateData: CERT, clientKeyData: KEY }, beta));
    const cluster = { ...SERVER, 'certificate-authority': 'ca.crt', 'tls-server-name': 'k', extensions: { 'client.authentication.k8s.io/exec': { audience: 'x' } } };
    const c = await resolve(doc(cluster, { exec: { apiVersion: beta, command: 'bin/plugin', provideClusterInfo: true } }), io);
    assert.equal(c.cert?.toString(), CERT);
    assert.equal(c.key?.toString(), KEY);
    assert.equal(c.authorization, undefined);
    assert.equal(io.execs[0]!.command, '/etc/kc/bin/plugin');
    assert.deepEqual(JSON.parse(io.execs[0]!.env.KUBERNETES_EXEC_INFO!).spec, {
      interactive: false,
      cluster: { server: SERVER.server, 'tls-server-name': 'k', 'certificate-authority-data': b64(CA), config: { audience: 'x' } },
    });
  });

  it('errors name the command: it fails, prints no JSON, the wrong apiVersion or kind, no status, half a key pair, nothing usable', async () => {
    const run = (a: (req: ExecRequest) => Promise<string>, exec: object = { apiVersion: v1, command: 'p' }) => resolve(doc(SERVER, { exec }), fakeIO({}, a));
    await fails(run(() => Promise.reject(new Error('exit status 3: denied'))), 'users[0].user.exec', /command "p" failed: exit status 3: denied/);
    await fails(run(() => Promise.resolve('secret-token-not-json')), 'users[0].user.exec', /command "p" printed no ExecCredential JSON \(21 bytes\)$/);
    await fails(run(answer({ token: 't' }, 'client.authentication.k8s.io/v1beta1')), 'users[0].user.exec', /returned apiVersion .*v1beta1.* asks for .*v1"/);
    await fails(run(() => Promise.resolve(JSON.stringify({ apiVersion: v1, kind: 'Pod', status: { token: 't' } }))), 'users[0].user.exec', /kind: ExecCredential expected/);
    await fails(run(() => Promise.resolve(JSON.stringify({ apiVersion: v1, kind: 'ExecCredential' }))), 'users[0].user.exec', /without a status/);
    await fails(run(answer({ clientCertificateData: CERT })), 'users[0].user.exec', /only one of/);
    await fails(run(answer({ expirationTimestamp: '2030-01-01T00:00:00Z' })), 'users[0].user.exec', /neither status.token/);
    await fails(run(answer({ token: 5 })), 'users[0].user.exec', /status.token that is not a string/);
  });

  it('config errors: no command, no or an unsupported apiVersion, a bad env', async () => {
    const run = (exec: object) => resolve(doc(SERVER, { exec }));
    await fails(run({ apiVersion: v1 }), 'users[0].user.exec.command', /not set/);
    await fails(run({ command: 'p' }), 'users[0].user.exec.apiVersion', /not set/);
    await fails(run({ command: 'p', apiVersion: 'client.authentication.k8s.io/v1alpha1' }), 'users[0].user.exec.apiVersion', /not supported/);
    await fails(run({ command: 'p', apiVersion: v1, env: [{ value: 'x' }] }), 'users[0].user.exec.env[0].name', /not set/);
    await fails(run({ command: 'p', apiVersion: v1, env: { A: 'b' } }), 'users[0].user.exec.env', /a list/);
  });
});

function tmp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'macmux-kc-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

describe('exec plugins (a real shell script, through loadCredentials)', () => {
  const v1 = 'client.authentication.k8s.io/v1';
  const script = (d: string, body: string) => {
    const path = join(d, 'plugin.sh');
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  };
  const kubeconfig = (d: string, exec: object) => {
    const path = join(d, 'kubeconfig');
    writeFileSync(path, dump(doc(SERVER, { exec: { apiVersion: v1, ...exec } })));
    return path;
  };

  it('gets a token from the script, which sees its args, its env and KUBERNETES_EXEC_INFO, with stdin closed', async (t) => {
    const d = tmp(t);
    script(d, `printf '%s' "$KUBERNETES_EXEC_INFO" > "${d}/info"; read -r line && echo "stdin had: $line" >&2; printf '{"apiVersion":"${v1}","kind":"ExecCredential","status":{"token":"%s-%s"}}' "$1" "$SUFFIX"`);
    const c = await loadCredentials(kubeconfig(d, { command: './plugin.sh', args: ['tok'], env: [{ name: 'SUFFIX', value: 'abc' }] }), () => undefined);
    assert.equal(c.authorization, 'Bearer tok-abc');
    assert.equal(JSON.parse(readFileSync(join(d, 'info'), 'utf8')).spec.interactive, false);
  });

  it('a failing script: code 7 naming the command and its exit status, never quoting its output (it may hold the credential)', async (t) => {
    const d = tmp(t);
    script(d, 'echo "no credentials for you" >&2; exit 3');
    const path = kubeconfig(d, { command: './plugin.sh' });
    await assert.rejects(loadCredentials(path, () => undefined), (e: unknown) => {
      assert.ok(e instanceof CniError && e.code === 7);
      assert.equal(e.message, `kubeconfig ${path}: users[0].user.exec: command ${JSON.stringify(join(d, 'plugin.sh'))} failed: exit status 3 (23 bytes on stderr, not shown: they may hold a credential)`);
      return true;
    });
  });

  it('a missing command', async (t) => {
    const d = tmp(t);
    const path = kubeconfig(d, { command: 'macmux-no-such-plugin' });
    await assert.rejects(loadCredentials(path, () => undefined), /users\[0\]\.user\.exec: command "macmux-no-such-plugin" failed: cannot run it: ENOENT/);
  });

  it('a script that hangs is killed, with what it started, after the timeout', async (t) => {
    const d = tmp(t);
    script(d, `sleep 60 & echo $! > "${d}/child"; wait`);
    const started = Date.now();
    await assert.rejects(loadCredentials(kubeconfig(d, { command: './plugin.sh' }), () => undefined), /failed: no answer within \d+ s; killed/);
    const took = Date.now() - started;
    assert.ok(took >= EXEC_TIMEOUT_MS - 100 && took < EXEC_TIMEOUT_MS + 3000, `took ${took} ms`);
    const child = Number(readFileSync(join(d, 'child'), 'utf8'));
    await new Promise((r) => setTimeout(r, 100));
    // Gone, or a zombie where the container's init does not reap orphans.
    let state = 'gone';
    try {
      state = readFileSync(`/proc/${child}/stat`, 'utf8').replace(/^.*\) /s, '')[0]!;
    } catch {
      // gone
    }
    assert.ok(state === 'gone' || state === 'Z', `the plugin's own child was killed too (state ${state})`);
  });
});

describe('in-cluster', () => {
  const SA = '/sa';
  const io = fakeIO({ '/sa/token': 'sa-token\n', '/sa/ca.crt': CA });
  const env = (vars: Record<string, string>) => (k: string) => vars[k];

  it('server from KUBERNETES_SERVICE_HOST and _PORT, token and CA from the service account directory', () => {
    assert.deepEqual(inClusterCredentials(env({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }), io, SA), {
      server: 'https://10.96.0.1:443',
      ca: Buffer.from(CA),
      rejectUnauthorized: true,
      authorization: 'Bearer sa-token',
    });
  });

  it('an IPv6 host is bracketed', () => {
    assert.equal(inClusterCredentials(env({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }), io, SA).server, 'https://[fd00::1]:443');
  });

  it('errors: no port, a missing token or CA names the file', () => {
    const inCluster = /^kubeconfig \(in-cluster\): /;
    assert.throws(() => inClusterCredentials(env({ KUBERNETES_SERVICE_HOST: '10.96.0.1' }), io, SA), (e: unknown) => e instanceof CniError && e.code === 7 && inCluster.test(e.message) && /KUBERNETES_SERVICE_PORT is not set/.test(e.message));
    const on = env({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' });
    assert.throws(() => inClusterCredentials(on, fakeIO({ '/sa/ca.crt': CA }), SA), (e: unknown) => e instanceof CniError && e.code === 7 && e.message === 'kubeconfig (in-cluster): service account token file: /sa/token: ENOENT');
    assert.throws(() => inClusterCredentials(on, fakeIO({ '/sa/token': 't' }), SA), (e: unknown) => e instanceof CniError && e.code === 7 && e.message === 'kubeconfig (in-cluster): service account CA: /sa/ca.crt: ENOENT');
  });

  it('loadCredentials goes in-cluster only without a kubeconfig and with KUBERNETES_SERVICE_HOST', async () => {
    const on = env({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' });
    await assert.rejects(loadCredentials(undefined, on), (e: unknown) => e instanceof CniError && e.code === 7 && e.message.includes('/var/run/secrets/kubernetes.io/serviceaccount/token'));
    await assert.rejects(loadCredentials(undefined, () => undefined), (e: unknown) => e instanceof CniError && e.code === 7 && /KUBERNETES_SERVICE_HOST unset/.test(e.message));
  });
});

describe('loadCredentials file errors', () => {
  it('an unreadable kubeconfig and one that is not YAML', async (t) => {
    const d = tmp(t);
    await assert.rejects(loadCredentials(join(d, 'nope'), () => undefined), (e: unknown) => e instanceof CniError && e.code === 7 && e.message === `kubeconfig ${join(d, 'nope')}: cannot read it: ENOENT`);
    writeFileSync(join(d, 'bad'), 'clusters: [\n');
    await assert.rejects(loadCredentials(join(d, 'bad'), () => undefined), (e: unknown) => e instanceof CniError && e.code === 7 && e.message.startsWith(`kubeconfig ${join(d, 'bad')}: not YAML: `) && !e.message.includes('\n'));
  });
});

describe('the same credentials as @kubernetes/client-node', () => {
  /** What client-node's KubeConfig + applyToHTTPSOptions give, in the shape of Credentials. */
  async function clientNode(path: string): Promise<Credentials> {
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    const opts: { ca?: Buffer; cert?: Buffer | string; key?: Buffer | string; rejectUnauthorized?: boolean; servername?: string; auth?: string; headers?: Record<string, string> } = {};
    await kc.applyToHTTPSOptions(opts);
    const { Authorization, ...headers } = opts.headers ?? {};
    const authorization = Authorization ?? (opts.auth ? `Basic ${b64(opts.auth)}` : undefined);
    return {
      server: kc.getCurrentCluster()!.server,
      ...(opts.ca ? { ca: Buffer.from(opts.ca) } : {}),
      ...(opts.cert ? { cert: Buffer.from(opts.cert) } : {}),
      ...(opts.key ? { key: Buffer.from(opts.key) } : {}),
      rejectUnauthorized: opts.rejectUnauthorized !== false,
      ...(opts.servername ? { servername: opts.servername } : {}),
      ...(authorization ? { authorization } : {}),
      ...(Object.keys(headers).length ? { headers } : {}),
    };
  }

  // client-node does not read kubectl's tokenFile: its kubeconfig gets the file's token inline instead.
  // Not compared: a context without a user (client-node then drops the CA too; kubectl and macmux keep it).
  const CASES: Array<{ name: string; cluster: object; user?: object; theirs?: object }> = [
    { name: 'a token and a relative CA file', cluster: { server: 'https://10.0.0.1:6443/', 'certificate-authority': 'ca.crt' }, user: { token: 'abc' } },
    { name: 'a tokenFile and CA data', cluster: { ...SERVER, 'certificate-authority-data': b64(CA) }, user: { tokenFile: 'token' }, theirs: { token: 'from-file' } },
    { name: 'client certificate files and an absolute CA file', cluster: { ...SERVER, 'certificate-authority': '@/ca.crt' }, user: { 'client-certificate': 'c.crt', 'client-key': '@/c.key' } },
    { name: 'client certificate data and skip-verify', cluster: { ...SERVER, 'insecure-skip-tls-verify': true }, user: { 'client-certificate-data': b64(CERT), 'client-key-data': b64(KEY) } },
    { name: 'tls-server-name and impersonation', cluster: { ...SERVER, 'certificate-authority': 'ca.crt', 'tls-server-name': 'kubernetes' }, user: { token: 't', as: 'system:serviceaccount:kube-system:macmux' } },
    { name: 'basic auth', cluster: SERVER, user: { username: 'admin', password: 'pw' } },
    { name: 'an exec plugin', cluster: SERVER, user: { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: '@/plugin.sh', args: ['x'] } } },
  ];
  for (const c of CASES) {
    it(c.name, async (t) => {
      const d = tmp(t);
      writeFileSync(join(d, 'ca.crt'), CA);
      writeFileSync(join(d, 'c.crt'), CERT);
      writeFileSync(join(d, 'c.key'), KEY);
      writeFileSync(join(d, 'token'), 'from-file\n');
      writeFileSync(join(d, 'plugin.sh'), `#!/bin/sh\nprintf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"exec-%s"}}' "$1"\n`, { mode: 0o755 });
      const abs = (o: object | undefined) => (o ? JSON.parse(JSON.stringify(o).replace(/"@\//g, JSON.stringify(`${d}/`).slice(0, -1))) : undefined);
      const ours = join(d, 'ours.yaml');
      const theirs = join(d, 'theirs.yaml');
      writeFileSync(ours, dump(doc(abs(c.cluster), abs(c.user))));
      writeFileSync(theirs, dump(doc(abs(c.cluster), abs(c.theirs ?? c.user))));
      assert.deepEqual(await loadCredentials(ours, () => undefined), await clientNode(theirs));
    });
  }
});
