// loadCredentials: token, tokenFile (re-read each time), client certificates, CA as file or data, and clear errors.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCredentials } from '../../src/k8s/credentials';
import { tlsMaterial } from '../apiserver/tls';
import { CniError } from '../../src/cni/errors';

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
