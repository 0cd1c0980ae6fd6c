// loadCredentials: token, tokenFile (re-read each time), client certificates, CA as file or data, and clear errors.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCredentials } from '../../src/k8s/credentials';
import { tlsMaterial } from '../apiserver/tls';
import { CniError } from '../../src/cni/errors';
import { renderKubeconfig } from '../../src/install/kubeconfig';

const noEnv = () => undefined;
const b64 = (s: string) => Buffer.from(s).toString('base64');

function dir(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'macmux-cred-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function kubeconfig(d: string, cluster: string, user: string): string {
  const path = join(d, 'kubeconfig');
  writeFileSync(path, `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n${cluster}\nusers:\n- name: u\n  user:\n${user}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n`);
  return path;
}

it('an inline token and a CA file', async (t) => {
  const d = dir(t);
  const { caPem } = await tlsMaterial();
  writeFileSync(join(d, 'ca.crt'), caPem);
  const c = await loadCredentials(kubeconfig(d, '    server: https://10.0.0.1:6443\n    certificate-authority: ca.crt', '    token: abc'), noEnv);
  assert.equal(c.server, 'https://10.0.0.1:6443');
  assert.equal(c.authorization, 'Bearer abc');
  assert.equal(c.ca?.toString(), caPem, 'a relative CA path is read from the kubeconfig directory');
  assert.equal(c.rejectUnauthorized, true);
});

it('tokenFile is read on every load, relative to the kubeconfig, so a rotated token is used', async (t) => {
  const d = dir(t);
  const path = kubeconfig(d, '    server: https://10.0.0.1:6443', '    tokenFile: token');
  writeFileSync(join(d, 'token'), 'first\n');
  assert.equal((await loadCredentials(path, noEnv)).authorization, 'Bearer first');
  writeFileSync(join(d, 'token'), 'second');
  assert.equal((await loadCredentials(path, noEnv)).authorization, 'Bearer second');
});

it('client certificate and key as data, with the CA as data', async (t) => {
  const d = dir(t);
  const { caPem, certPem, keyPem } = await tlsMaterial();
  const c = await loadCredentials(
    kubeconfig(d, `    server: https://10.0.0.1:6443\n    certificate-authority-data: ${b64(caPem)}`, `    client-certificate-data: ${b64(certPem)}\n    client-key-data: ${b64(keyPem)}`),
    noEnv,
  );
  assert.equal(c.ca?.toString(), caPem);
  assert.equal(c.cert?.toString(), certPem);
  assert.equal(c.key?.toString(), keyPem);
  assert.equal(c.authorization, undefined);
});

it('insecure-skip-tls-verify turns verification off', async (t) => {
  const d = dir(t);
  const c = await loadCredentials(kubeconfig(d, '    server: https://10.0.0.1:6443\n    insecure-skip-tls-verify: true', '    token: x'), noEnv);
  assert.equal(c.rejectUnauthorized, false);
});

it('errors name the kubeconfig: a missing tokenFile, a missing file, and no kubeconfig outside a cluster', async (t) => {
  const d = dir(t);
  const path = kubeconfig(d, '    server: https://10.0.0.1:6443', '    tokenFile: /nonexistent/token');
  await assert.rejects(loadCredentials(path, noEnv), (e: unknown) => e instanceof CniError && e.code === 7 && e.message.includes(path) && e.message.includes('/nonexistent/token'));
  await assert.rejects(loadCredentials(join(d, 'nope'), noEnv), (e: unknown) => e instanceof CniError && e.code === 7 && e.message.includes(join(d, 'nope')));
  await assert.rejects(loadCredentials(undefined, noEnv), (e: unknown) => e instanceof CniError && e.code === 7 && /KUBERNETES_SERVICE_HOST/.test(e.message));
});

it('a JSON kubeconfig (what macmux install writes) is read without loading js-yaml', (t) => {
  const d = dir(t);
  writeFileSync(join(d, 'token'), 'tok\n');
  const path = join(d, 'kubeconfig');
  writeFileSync(path, renderKubeconfig({ server: 'https://10.0.0.1:6443', caFile: join(d, 'ca.crt'), tokenFile: join(d, 'token'), namespace: 'kube-system' }));
  writeFileSync(join(d, 'ca.crt'), 'ca');
  assert.doesNotThrow(() => JSON.parse(readFileSync(path, 'utf8')), 'install writes JSON');
  // A fresh node: this one has loaded js-yaml already (the tests import it).
  const script = `
    const { loadCredentials } = require(${JSON.stringify(join(__dirname, '../../src/k8s/credentials.ts'))});
    loadCredentials(${JSON.stringify(path)}, () => undefined).then((c) => {
      const yaml = Object.keys(require.cache).filter((k) => k.includes('js-yaml'));
      process.stdout.write(JSON.stringify({ server: c.server, authorization: c.authorization, ca: c.ca.toString(), yaml }));
    });`;
  const out = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8' })) as Record<string, unknown>;
  assert.deepEqual(out, { server: 'https://10.0.0.1:6443', authorization: 'Bearer tok', ca: 'ca', yaml: [] });
});

it('a YAML flow mapping, which starts like JSON, is still read as YAML', async (t) => {
  const d = dir(t);
  const path = join(d, 'kubeconfig');
  writeFileSync(path, `{apiVersion: v1, clusters: [{name: c, cluster: {server: 'https://10.0.0.1:6443'}}], users: [{name: u, user: {token: abc}}], contexts: [{name: x, context: {cluster: c, user: u}}], current-context: x}\n`);
  const c = await loadCredentials(path, noEnv);
  assert.equal(c.server, 'https://10.0.0.1:6443');
  assert.equal(c.authorization, 'Bearer abc');
});

it('broken JSON gets the YAML error, by line and column, never quoting the token', async (t) => {
  const d = dir(t);
  const path = join(d, 'kubeconfig');
  writeFileSync(path, `{\n  "users": [{"name": "u", "user": {"token": "s3cr3t-json-token"\n  "x": [\n`);
  await assert.rejects(loadCredentials(path, noEnv), (e: unknown) => {
    assert.ok(e instanceof CniError && e.code === 7);
    assert.match(e.message, new RegExp(`^kubeconfig ${path}: not YAML: line \\d+ column \\d+: `));
    assert.ok(!e.message.includes('s3cr3t'), e.message);
    return true;
  });
});
