// Integration: the test Kubernetes API server over real HTTPS, driven by node:https and @kubernetes/client-node.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest, Agent } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ApiException, CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { type ApiServer, startApiServer } from '../apiserver/server';
import { generateTls } from '../apiserver/tls';
import { writeKubeconfig } from '../apiserver/kubeconfig';

type Json = any; // parsed response bodies, asserted field by field
const TOKEN = 'token-one';
const USER = 'system:serviceaccount:kube-system:macmux';
const NAD = { group: 'k8s.cni.cncf.io', version: 'v1', plural: 'network-attachment-definitions' };
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Json;
}

interface ReqOpts {
  body?: unknown;
  contentType?: string;
  /** null sends no Authorization header; default: the accepted token */
  token?: string | null;
  /** null trusts only the system CAs; default: the server's CA */
  ca?: Buffer | null;
  servername?: string;
  agent?: Agent;
}

/** One request with node:https. */
function call(api: ApiServer, method: string, path: string, o: ReqOpts = {}): Promise<Reply> {
  const token = o.token === undefined ? api.token : o.token;
  const data = o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  if (data !== undefined) {
    headers['Content-Type'] = o.contentType ?? 'application/json';
    headers['Content-Length'] = String(Buffer.byteLength(data)); // node sends DELETE bodies unframed otherwise
  }
  return new Promise((resolvePromise, reject) => {
    const req = httpsRequest(
      `${api.url}${path}`,
      {
        method,
        headers,
        ca: o.ca === null ? undefined : o.ca ?? readFileSync(api.caFile),
        servername: o.servername,
        agent: o.agent ?? false,
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: text ? (JSON.parse(text) as Json) : undefined }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end(data);
  });
}

function clients(kubeconfig: string): { kc: KubeConfig; core: CoreV1Api; custom: CustomObjectsApi } {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { kc, core: kc.makeApiClient(CoreV1Api), custom: kc.makeApiClient(CustomObjectsApi) };
}

/** The ApiException a client-node call fails with: its code and the Status body (parsed). */
async function apiError(p: Promise<unknown>): Promise<{ code: number; body: Json }> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof ApiException)) throw e;
    const b: unknown = e.body;
    return { code: e.code, body: typeof b === 'string' && b ? (JSON.parse(b) as Json) : b };
  }
  assert.fail('expected an ApiException');
}

const status = (code: number, reason: string, message: string, details?: Record<string, unknown>): Json => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message,
  reason,
  ...(details ? { details } : {}),
  code,
});

/** The `tokenFile` of a kubeconfig this server wrote (JSON, as macmux install writes it). */
function tokenFileOf(kubeconfig: string): string {
  const kc = JSON.parse(readFileSync(kubeconfig, 'utf8')) as { users: Array<{ user: { tokenFile?: string } }> };
  const file = kc.users[0]?.user.tokenFile;
  assert.ok(file, 'kubeconfig has a tokenFile');
  return file;
}

let api: ApiServer;
let scratch: string;

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'macmux-apiserver-test-'));
  api = await startApiServer({ token: TOKEN });
});

after(async () => {
  await api?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

beforeEach(() => {
  api.allowAll();
  api.clearFaults();
  api.setToken(TOKEN, { writeFile: true });
  api.clearRequests();
  for (const ns of ['default', 'kube-system']) for (const kind of ['Pod', 'ConfigMap', 'NetworkAttachmentDefinition']) for (const o of api.list(kind, ns)) api.remove(kind, ns, o.metadata?.name as string);
});

describe('TLS', () => {
  it('serves a certificate for 127.0.0.1 and localhost signed by the generated CA', async () => {
    assert.match(api.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(readFileSync(api.caFile, 'utf8'), /^-----BEGIN CERTIFICATE-----/);
    assert.equal((await call(api, 'GET', '/api/v1/namespaces/default')).status, 200);
    assert.equal((await call(api, 'GET', '/api/v1/namespaces/default', { servername: 'localhost' })).status, 200);
    const { core } = clients(api.kubeconfig);
    assert.equal((await core.readNamespace({ name: 'default' })).metadata?.name, 'default');
  });

  it('is refused by clients that do not trust the CA', async () => {
    await assert.rejects(call(api, 'GET', '/api/v1/namespaces', { ca: null }), (e: NodeJS.ErrnoException) => {
      assert.match(String(e.code), /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/);
      return true;
    });
    const other = join(scratch, 'other-ca.crt');
    writeFileSync(other, (await generateTls()).caPem);
    await assert.rejects(call(api, 'GET', '/api/v1/namespaces', { ca: readFileSync(other) }));
    const kc = writeKubeconfig(join(scratch, 'kubeconfig-other-ca'), { server: api.url, caFile: other, token: api.token });
    const err = await clients(kc).core.listNamespace().catch((e: unknown) => e);
    assert.ok(err instanceof Error && !(err instanceof ApiException), `expected a TLS failure, got ${String(err)}`);
    assert.match(`${err.message} ${String((err as { cause?: unknown }).cause ?? '')}`, /certificate/i);
  });
});

describe('authentication', () => {
  it('answers 401 with a Status to a wrong or missing token', async () => {
    for (const token of ['wrong', null]) {
      const r = await call(api, 'GET', '/api/v1/namespaces/default/pods', { token });
      assert.equal(r.status, 401);
      assert.deepEqual(r.body, status(401, 'Unauthorized', 'Unauthorized'));
    }
    const kc = writeKubeconfig(join(scratch, 'kubeconfig-wrong'), { server: api.url, caFile: api.caFile, token: 'wrong' });
    assert.equal((await apiError(clients(kc).core.listNamespacedPod({ namespace: 'default' }))).code, 401);
    assert.deepEqual(api.requests.map((r) => [r.status, r.auth]), [[401, 'wrong'], [401, undefined], [401, 'wrong']]);
  });

  it('rotates the token; clients of the tokenFile kubeconfig follow the rewritten file', async () => {
    const file = tokenFileOf(api.kubeconfigTokenFile);
    assert.equal(file, api.tokenFile);
    assert.equal(readFileSync(file, 'utf8'), TOKEN);
    const viaFile = (): Promise<Reply> => call(api, 'GET', '/api/v1/namespaces/kube-system', { token: readFileSync(file, 'utf8').trim() });
    assert.equal((await viaFile()).status, 200);

    api.setToken('token-two');
    assert.equal(api.token, 'token-two');
    assert.equal((await viaFile()).status, 401, 'the file still holds the old token');
    api.writeTokenFile();
    assert.equal((await viaFile()).status, 200);
    assert.equal((await call(api, 'GET', '/api/v1/namespaces/kube-system', { token: TOKEN })).status, 401, 'the old token is no longer accepted');

    // @kubernetes/client-node 1.4.0 reads only `token-file`, not client-go's `tokenFile`: it sends no token at all.
    assert.equal((await apiError(clients(api.kubeconfigTokenFile).core.readNamespace({ name: 'default' }))).code, 401);
    // so a client-node user reads tokenFile itself, and again after a rotation
    const load = (): CoreV1Api => {
      const { kc } = clients(api.kubeconfigTokenFile);
      kc.users = kc.users.map((u) => ({ ...u, token: readFileSync(tokenFileOf(api.kubeconfigTokenFile), 'utf8').trim() }));
      return kc.makeApiClient(CoreV1Api);
    };
    const before = load();
    assert.equal((await before.readNamespace({ name: 'default' })).metadata?.name, 'default');
    api.setToken('token-three', { writeFile: true });
    assert.equal((await apiError(before.readNamespace({ name: 'default' }))).code, 401);
    assert.equal((await load().readNamespace({ name: 'default' })).metadata?.name, 'default');
  });
});

describe('authorization', () => {
  it('answers 403 with the real Status to denied verbs and resources', async () => {
    api.put({ kind: 'Pod', metadata: { name: 'x', namespace: 'default' } });
    api.deny('patch', 'pods', 'default');
    const { core, custom } = clients(api.kubeconfig);
    const e = await apiError(core.patchNamespacedPod({ name: 'x', namespace: 'default', body: { metadata: { labels: { a: 'b' } } } }, MERGE));
    assert.equal(e.code, 403);
    assert.deepEqual(e.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'pods "x" is forbidden: User "system:serviceaccount:kube-system:macmux" cannot patch resource "pods" in API group "" in the namespace "default"',
      reason: 'Forbidden',
      details: { name: 'x', kind: 'pods' },
      code: 403,
    });
    assert.equal((await core.readNamespacedPod({ name: 'x', namespace: 'default' })).metadata?.name, 'x', 'other verbs still work');

    api.deny('list', 'Namespace');
    api.deny('*', 'network-attachment-definitions', 'kube-system');
    const ns = await call(api, 'GET', '/api/v1/namespaces');
    assert.deepEqual(ns.body, status(403, 'Forbidden', `namespaces is forbidden: User "${USER}" cannot list resource "namespaces" in API group "" at the cluster scope`, { kind: 'namespaces' }));
    const nad = await apiError(custom.getNamespacedCustomObject({ ...NAD, namespace: 'kube-system', name: 'green' }));
    assert.deepEqual(
      nad.body,
      status(403, 'Forbidden', `network-attachment-definitions.k8s.cni.cncf.io "green" is forbidden: User "${USER}" cannot get resource "network-attachment-definitions" in API group "k8s.cni.cncf.io" in the namespace "kube-system"`, {
        name: 'green',
        group: 'k8s.cni.cncf.io',
        kind: 'network-attachment-definitions',
      }),
    );
    assert.equal((await apiError(custom.getNamespacedCustomObject({ ...NAD, namespace: 'default', name: 'green' }))).code, 404, 'another namespace is allowed');

    api.allowAll();
    assert.equal((await call(api, 'GET', '/api/v1/namespaces')).status, 200);
  });
});

describe('resources', () => {
  it('GETs pods and namespaces, and answers 404 with the real Status', async () => {
    api.put({ kind: 'Pod', metadata: { name: 'web', namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/networks': 'green' } }, spec: { nodeName: 'n1' } });
    const { core, custom } = clients(api.kubeconfig);
    const pod = await core.readNamespacedPod({ name: 'web', namespace: 'default' });
    assert.equal(pod.metadata?.annotations?.['k8s.v1.cni.cncf.io/networks'], 'green');
    assert.equal(pod.spec?.nodeName, 'n1');
    assert.match(pod.metadata?.uid ?? '', /^[0-9a-f-]{36}$/);

    const missing = await apiError(core.readNamespacedPod({ name: 'x', namespace: 'default' }));
    assert.equal(missing.code, 404);
    assert.deepEqual(missing.body, status(404, 'NotFound', 'pods "x" not found', { name: 'x', kind: 'pods' }));
    const nad = await call(api, 'GET', '/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/blue');
    assert.deepEqual(nad.body, status(404, 'NotFound', 'network-attachment-definitions.k8s.cni.cncf.io "blue" not found', { name: 'blue', group: 'k8s.cni.cncf.io', kind: 'network-attachment-definitions' }));
    assert.equal((await apiError(custom.getNamespacedCustomObject({ ...NAD, namespace: 'default', name: 'blue' }))).code, 404);
    const bogus = await call(api, 'GET', '/api/v1/namespaces/default/secrets/s');
    assert.deepEqual(bogus.body, status(404, 'NotFound', 'the server could not find the requested resource', {}));
  });

  it('LISTs with label and field selectors', async () => {
    api.put({ kind: 'Namespace', metadata: { name: 'team-a', labels: { team: 'a', tier: 'prod' } } });
    api.put({ kind: 'Namespace', metadata: { name: 'team-b', labels: { team: 'b' } } });
    const pods: Array<{ name: string; labels: Record<string, string>; node: string }> = [
      { name: 'p1', labels: { app: 'web', tier: 'front' }, node: 'n1' },
      { name: 'p2', labels: { app: 'web' }, node: 'n2' },
      { name: 'p3', labels: { app: 'db', tier: 'back' }, node: 'n1' },
      { name: 'p4', labels: {}, node: 'n2' },
    ];
    for (const p of pods) api.put({ kind: 'Pod', metadata: { name: p.name, namespace: 'default', labels: p.labels }, spec: { nodeName: p.node } });
    try {
      const names = async (selector: string, field = ''): Promise<string[]> => {
        const q = new URLSearchParams({ labelSelector: selector, ...(field ? { fieldSelector: field } : {}) });
        const r = await call(api, 'GET', `/api/v1/namespaces/default/pods?${q}`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        return (r.body.items as Json[]).map((i) => i.metadata.name as string);
      };
      assert.deepEqual(await names(''), ['p1', 'p2', 'p3', 'p4']);
      assert.deepEqual(await names('app=web'), ['p1', 'p2']);
      assert.deepEqual(await names('app==web'), ['p1', 'p2']);
      assert.deepEqual(await names('app!=web'), ['p3', 'p4'], '!= also matches pods without the label');
      assert.deepEqual(await names('tier'), ['p1', 'p3']);
      assert.deepEqual(await names('!tier'), ['p2', 'p4']);
      assert.deepEqual(await names('app=web,tier'), ['p1']);
      assert.deepEqual(await names('app=web, !tier'), ['p2']);
      assert.deepEqual(await names('tier in (front,back),app'), ['p1', 'p3']);
      assert.deepEqual(await names('app notin (web)'), ['p3', 'p4']);
      assert.deepEqual(await names('', 'spec.nodeName=n1'), ['p1', 'p3']);
      assert.deepEqual(await names('app=web', 'spec.nodeName!=n1'), ['p2']);
      const bad = await call(api, 'GET', '/api/v1/namespaces/default/pods?labelSelector=a%3D%3D%3Db');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.reason, 'BadRequest');

      const list = await call(api, 'GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Ddb');
      assert.equal(list.body.kind, 'PodList');
      assert.equal(list.body.apiVersion, 'v1');
      assert.equal(list.body.metadata.resourceVersion, api.resourceVersion);
      assert.equal(list.body.items[0].kind, undefined, 'built-in list items carry no kind, as from the real server');

      const { core } = clients(api.kubeconfig);
      const nsList = await core.listNamespace({ labelSelector: 'team' });
      assert.deepEqual(nsList.items.map((n) => n.metadata?.name), ['team-a', 'team-b']);
      assert.deepEqual((await core.listNamespace({ labelSelector: 'team=a,tier=prod' })).items.map((n) => n.metadata?.name), ['team-a']);
      assert.deepEqual((await core.listNamespace({ labelSelector: 'kubernetes.io/metadata.name=kube-system' })).items.map((n) => n.metadata?.name), ['kube-system']);
      const all = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=n2' });
      assert.deepEqual(all.items.map((p) => p.metadata?.name), ['p2', 'p4']);
    } finally {
      api.remove('Namespace', undefined, 'team-a');
      api.remove('Namespace', undefined, 'team-b');
    }
  });

  it('CREATEs, UPDATEs with a 409 on a stale resourceVersion, and DELETEs ConfigMaps', async () => {
    const { core } = clients(api.kubeconfig);
    const rv0 = Number(api.resourceVersion);
    const created = await core.createNamespacedConfigMap({ namespace: 'kube-system', body: { metadata: { name: 'macmux-pool', labels: { app: 'macmux' } }, data: { next: '1' } } });
    assert.match(created.metadata?.uid ?? '', /^[0-9a-f-]{36}$/);
    assert.ok(created.metadata?.creationTimestamp instanceof Date);
    assert.equal(created.metadata?.namespace, 'kube-system');
    assert.ok(Number(created.metadata?.resourceVersion) > rv0);
    assert.equal(api.requests.at(-1)?.status, 201);

    const dup = await apiError(core.createNamespacedConfigMap({ namespace: 'kube-system', body: { metadata: { name: 'macmux-pool' } } }));
    assert.deepEqual(dup.body, status(409, 'AlreadyExists', 'configmaps "macmux-pool" already exists', { name: 'macmux-pool', kind: 'configmaps' }));
    const noNs = await apiError(core.createNamespacedConfigMap({ namespace: 'nope', body: { metadata: { name: 'c' } } }));
    assert.deepEqual(noNs.body, status(404, 'NotFound', 'namespaces "nope" not found', { name: 'nope', kind: 'namespaces' }));

    const updated = await core.replaceNamespacedConfigMap({ name: 'macmux-pool', namespace: 'kube-system', body: { ...created, data: { next: '2' } } });
    assert.equal(updated.data?.next, '2');
    assert.equal(updated.metadata?.uid, created.metadata?.uid);
    assert.ok(Number(updated.metadata?.resourceVersion) > Number(created.metadata?.resourceVersion));

    const stale = await apiError(core.replaceNamespacedConfigMap({ name: 'macmux-pool', namespace: 'kube-system', body: { ...created, data: { next: '3' } } }));
    assert.equal(stale.code, 409);
    assert.deepEqual(
      stale.body,
      status(409, 'Conflict', 'Operation cannot be fulfilled on configmaps "macmux-pool": the object has been modified; please apply your changes to the latest version and try again', {
        name: 'macmux-pool',
        kind: 'configmaps',
      }),
    );
    assert.deepEqual(api.get('ConfigMap', 'kube-system', 'macmux-pool')?.data, { next: '2' }, 'the stale update changed nothing');

    const same = await core.replaceNamespacedConfigMap({ name: 'macmux-pool', namespace: 'kube-system', body: updated });
    assert.equal(same.metadata?.resourceVersion, updated.metadata?.resourceVersion, 'a no-op update keeps the resourceVersion');

    const precond = await call(api, 'DELETE', '/api/v1/namespaces/kube-system/configmaps/macmux-pool', { body: { preconditions: { resourceVersion: created.metadata?.resourceVersion } } });
    assert.equal(precond.status, 409);
    assert.match(precond.body.message, /Precondition failed: ResourceVersion in precondition/);

    const gone = await core.deleteNamespacedConfigMap({ name: 'macmux-pool', namespace: 'kube-system' });
    assert.equal(gone.status, 'Success');
    assert.equal(gone.details?.uid, created.metadata?.uid);
    assert.equal((await apiError(core.readNamespacedConfigMap({ name: 'macmux-pool', namespace: 'kube-system' }))).code, 404);
    assert.equal((await apiError(core.deleteNamespacedConfigMap({ name: 'macmux-pool', namespace: 'kube-system' }))).code, 404);
  });

  it('applies merge PATCHes (null deletes) with a resourceVersion precondition', async () => {
    api.put({ kind: 'Pod', metadata: { name: 'web', namespace: 'default', labels: { a: '1', b: '2' }, annotations: { keep: 'yes' } }, spec: { nodeName: 'n1' } });
    const { core } = clients(api.kubeconfig);
    const rv0 = api.get('Pod', 'default', 'web')?.metadata?.resourceVersion;
    const patched = await core.patchNamespacedPod(
      { name: 'web', namespace: 'default', body: { metadata: { labels: { a: null, c: '3' }, annotations: { 'k8s.v1.cni.cncf.io/network-status': '[]' } } } },
      MERGE,
    );
    assert.deepEqual(patched.metadata?.labels, { b: '2', c: '3' });
    assert.deepEqual(patched.metadata?.annotations, { keep: 'yes', 'k8s.v1.cni.cncf.io/network-status': '[]' });
    assert.equal(patched.spec?.nodeName, 'n1');
    assert.ok(Number(patched.metadata?.resourceVersion) > Number(rv0));
    const log = api.requests.at(-1);
    assert.equal(log?.contentType, 'application/merge-patch+json');
    assert.deepEqual(log?.body, { metadata: { labels: { a: null, c: '3' }, annotations: { 'k8s.v1.cni.cncf.io/network-status': '[]' } } });

    const noop = await core.patchNamespacedPod({ name: 'web', namespace: 'default', body: { metadata: { labels: { c: '3' } } } }, MERGE);
    assert.equal(noop.metadata?.resourceVersion, patched.metadata?.resourceVersion, 'a no-op patch keeps the resourceVersion');

    const stale = await apiError(core.patchNamespacedPod({ name: 'web', namespace: 'default', body: { metadata: { resourceVersion: rv0, labels: { d: '4' } } } }, MERGE));
    assert.equal(stale.code, 409);
    assert.equal(stale.body.reason, 'Conflict');
    const fresh = await core.patchNamespacedPod({ name: 'web', namespace: 'default', body: { metadata: { resourceVersion: patched.metadata?.resourceVersion, labels: { d: '4' } } } }, MERGE);
    assert.equal(fresh.metadata?.labels?.d, '4');

    const json = await call(api, 'PATCH', '/api/v1/namespaces/default/pods/web', { body: [{ op: 'add', path: '/metadata/labels/e', value: '5' }], contentType: 'application/json-patch+json' });
    assert.equal(json.status, 415);
    assert.equal(json.body.reason, 'UnsupportedMediaType');
    const missing = await apiError(core.patchNamespacedPod({ name: 'nope', namespace: 'default', body: { metadata: { labels: { a: 'b' } } } }, MERGE));
    assert.deepEqual(missing.body, status(404, 'NotFound', 'pods "nope" not found', { name: 'nope', kind: 'pods' }));

    const deleted = await core.deleteNamespacedPod({ name: 'web', namespace: 'default' });
    assert.equal(deleted.metadata?.name, 'web', 'pods answer DELETE with the object');
    assert.equal(api.get('Pod', 'default', 'web'), undefined);
  });

  it('serves NetworkAttachmentDefinitions through CustomObjectsApi', async () => {
    const { custom } = clients(api.kubeconfig);
    const config = JSON.stringify({ cniVersion: '1.0.0', type: 'macvlan', master: 'eth1' });
    const body = { apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'green', labels: { net: 'green' } }, spec: { config } };
    const created = (await custom.createNamespacedCustomObject({ ...NAD, namespace: 'default', body })) as Json;
    assert.equal(created.spec.config, config);
    assert.equal(api.requests.at(-1)?.path, '/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions');
    const got = (await custom.getNamespacedCustomObject({ ...NAD, namespace: 'default', name: 'green' })) as Json;
    assert.equal(got.metadata.uid, created.metadata.uid);
    const list = (await custom.listNamespacedCustomObject({ ...NAD, namespace: 'default', labelSelector: 'net=green' })) as Json;
    assert.equal(list.kind, 'NetworkAttachmentDefinitionList');
    assert.equal(list.items[0].kind, 'NetworkAttachmentDefinition', 'custom resource list items keep their kind');
    const patched = (await custom.patchNamespacedCustomObject({ ...NAD, namespace: 'default', name: 'green', body: { metadata: { annotations: { a: 'b' } } } }, MERGE)) as Json;
    assert.deepEqual(patched.metadata.annotations, { a: 'b' });
    assert.equal(patched.spec.config, config);

    const noRv = await apiError(custom.replaceNamespacedCustomObject({ ...NAD, namespace: 'default', name: 'green', body }));
    assert.equal(noRv.code, 422, 'custom resources need metadata.resourceVersion on update');
    const stale = await apiError(custom.replaceNamespacedCustomObject({ ...NAD, namespace: 'default', name: 'green', body: { ...body, metadata: { ...body.metadata, resourceVersion: created.metadata.resourceVersion } } }));
    assert.equal(stale.body.message, 'Operation cannot be fulfilled on network-attachment-definitions.k8s.cni.cncf.io "green": the object has been modified; please apply your changes to the latest version and try again');
    const deleted = (await custom.deleteNamespacedCustomObject({ ...NAD, namespace: 'default', name: 'green' })) as Json;
    assert.equal(deleted.metadata.name, 'green');
    assert.equal(api.list('NetworkAttachmentDefinition').length, 0);
  });

  it('raises one global resourceVersion on every write', async () => {
    const rvs: number[] = [Number(api.resourceVersion)];
    const write = async (method: string, path: string, body?: unknown, contentType?: string): Promise<Reply> => {
      const r = await call(api, method, path, { body, contentType });
      assert.ok(r.status < 300, `${method} ${path}: ${JSON.stringify(r.body)}`);
      rvs.push(Number(api.resourceVersion));
      return r;
    };
    const c = await write('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'a' } });
    assert.equal(c.body.metadata.resourceVersion, api.resourceVersion);
    await write('POST', '/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions', { metadata: { name: 'n' }, spec: { config: '{}' } });
    await write('PATCH', '/api/v1/namespaces/default/configmaps/a', { data: { k: 'v' } }, 'application/merge-patch+json');
    await write('PUT', '/api/v1/namespaces/default/configmaps/a', { metadata: { name: 'a' }, data: { k: 'w' } });
    await write('DELETE', '/api/v1/namespaces/default/configmaps/a');
    api.put({ kind: 'ConfigMap', metadata: { name: 'b' } });
    rvs.push(Number(api.resourceVersion));
    api.remove('ConfigMap', 'default', 'b');
    rvs.push(Number(api.resourceVersion));
    for (let i = 1; i < rvs.length; i++) assert.ok(rvs[i] > rvs[i - 1], `resourceVersions rise: ${rvs.join(' ')}`);
    const list = await call(api, 'GET', '/api/v1/namespaces/default/configmaps');
    assert.equal(list.body.metadata.resourceVersion, String(rvs.at(-1)));
  });

  it('answers 400 to a body that is not JSON', async () => {
    const r = await call(api, 'POST', '/api/v1/namespaces/default/configmaps', { body: '{"metadata": {' });
    assert.equal(r.status, 400);
    assert.equal(r.body.kind, 'Status');
    assert.equal(r.body.reason, 'BadRequest');
    assert.match(r.body.message, /json parse error/);
    assert.equal(api.requests.at(-1)?.body, undefined);
    const p = await call(api, 'PATCH', '/api/v1/namespaces/default/configmaps/x', { body: 'nope', contentType: 'application/merge-patch+json' });
    assert.equal(p.status, 400);
  });
});

describe('faults', () => {
  it('delays a request, then serves it normally', async () => {
    api.put({ kind: 'Pod', metadata: { name: 'slow' } });
    const f = api.fault({ match: /\/pods\/slow$/, delay: 300, times: 1 });
    const { core } = clients(api.kubeconfig);
    let t = Date.now();
    assert.equal((await core.readNamespacedPod({ name: 'slow', namespace: 'default' })).metadata?.name, 'slow');
    assert.ok(Date.now() - t >= 280, `delayed ${Date.now() - t} ms`);
    t = Date.now();
    await core.readNamespacedPod({ name: 'slow', namespace: 'default' });
    assert.ok(Date.now() - t < 250, 'only once');
    assert.equal(f.hits, 1);
  });

  it('answers 500 and 429 (with Retry-After) Status bodies', async () => {
    api.put({ kind: 'Pod', metadata: { name: 'p' } });
    const { core } = clients(api.kubeconfig);
    const f500 = api.fault({ match: (r) => r.verb === 'get' && r.resource === 'pods', status: 500, times: 2 });
    for (let i = 0; i < 2; i++) {
      const e = await apiError(core.readNamespacedPod({ name: 'p', namespace: 'default' }));
      assert.equal(e.code, 500);
      assert.equal(e.body.reason, 'InternalError');
    }
    assert.equal((await core.readNamespacedPod({ name: 'p', namespace: 'default' })).metadata?.name, 'p');
    assert.equal(f500.hits, 2);

    api.fault({ match: /\/configmaps$/, method: 'post', status: 429 });
    const r = await call(api, 'POST', '/api/v1/namespaces/default/configmaps', { body: { metadata: { name: 'c' } } });
    assert.equal(r.status, 429);
    assert.equal(r.headers['retry-after'], '1');
    assert.deepEqual(r.body, status(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds: 1 }));
    assert.equal((await call(api, 'GET', '/api/v1/namespaces/default/configmaps')).status, 200, 'other methods pass');
    assert.equal((await call(api, 'POST', '/api/v1/namespaces/default/configmaps', { body: { metadata: { name: 'c' } } })).status, 429, 'unlimited without times');
    api.clearFaults();
    assert.equal((await call(api, 'POST', '/api/v1/namespaces/default/configmaps', { body: { metadata: { name: 'c' } } })).status, 201);
  });

  it('drops the connection without an answer', async () => {
    api.put({ kind: 'Pod', metadata: { name: 'p' } });
    api.fault({ match: /\/pods\/p$/, drop: true, times: 2 });
    await assert.rejects(call(api, 'GET', '/api/v1/namespaces/default/pods/p'), (e: NodeJS.ErrnoException) => {
      assert.match(`${e.code} ${e.message}`, /ECONNRESET|socket hang up/);
      return true;
    });
    const err = await clients(api.kubeconfig)
      .core.readNamespacedPod({ name: 'p', namespace: 'default' })
      .catch((e: unknown) => e);
    assert.ok(err instanceof Error && !(err instanceof ApiException), `expected a network error, got ${String(err)}`);
    assert.deepEqual(api.requests.map((r) => r.status), [0, 0]);
    assert.equal((await call(api, 'GET', '/api/v1/namespaces/default/pods/p')).status, 200);
  });
});

describe('request log and direct access', () => {
  it('records each request as the server saw it', async () => {
    api.put({ kind: 'Pod', metadata: { name: 'p' } });
    const { core } = clients(api.kubeconfig);
    await core.patchNamespacedPod({ name: 'p', namespace: 'default', body: { metadata: { labels: { x: 'y' } } } }, MERGE);
    await core.listNamespacedConfigMap({ namespace: 'kube-system', labelSelector: 'app=macmux' });
    await call(api, 'GET', '/api/v1/namespaces/kube-system');
    await call(api, 'DELETE', '/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/n');
    const [{ bytes, ...patch }, list, get, del] = api.requests;
    // The response body's size: the patched pod as stored.
    assert.equal(bytes, Buffer.byteLength(JSON.stringify(api.get('Pod', 'default', 'p'))));
    assert.deepEqual(patch, {
      method: 'PATCH',
      path: '/api/v1/namespaces/default/pods/p',
      query: {},
      verb: 'patch',
      resource: 'pods',
      namespace: 'default',
      name: 'p',
      contentType: 'application/merge-patch+json',
      accept: 'application/json, */*;q=0.8',
      body: { metadata: { labels: { x: 'y' } } },
      status: 200,
      auth: TOKEN,
    });
    assert.deepEqual([list.verb, list.resource, list.namespace, list.name, list.query, list.status, list.body], ['list', 'configmaps', 'kube-system', undefined, { labelSelector: 'app=macmux' }, 200, undefined]);
    assert.deepEqual([get.verb, get.resource, get.namespace, get.name], ['get', 'namespaces', undefined, 'kube-system']);
    assert.deepEqual([del.verb, del.resource, del.name, del.status], ['delete', 'network-attachment-definitions', 'n', 404]);
    api.clearRequests();
    assert.equal(api.requests.length, 0);
  });

  it('seeds and inspects objects without HTTP', async () => {
    const put = api.put({ kind: 'ConfigMap', metadata: { name: 'seed', namespace: 'kube-system' }, data: { a: '1' } });
    assert.equal(put.apiVersion, 'v1');
    assert.equal(put.metadata?.resourceVersion, api.resourceVersion);
    assert.match(put.metadata?.uid ?? '', /^[0-9a-f-]{36}$/);
    const again = api.put({ ...put, data: { a: '2' } });
    assert.equal(again.metadata?.uid, put.metadata?.uid);
    assert.ok(Number(again.metadata?.resourceVersion) > Number(put.metadata?.resourceVersion));
    const served = await clients(api.kubeconfig).core.readNamespacedConfigMap({ name: 'seed', namespace: 'kube-system' });
    assert.equal(served.data?.a, '2');
    assert.deepEqual(api.list('configmaps', 'kube-system').map((o) => o.metadata?.name), ['seed']);
    const copy = api.get('ConfigMap', 'kube-system', 'seed');
    (copy?.data as Json).a = 'mutated';
    assert.equal((api.get('ConfigMap', 'kube-system', 'seed')?.data as Json).a, '2', 'get returns a copy');
    assert.equal(api.remove('ConfigMap', 'kube-system', 'seed'), true);
    assert.equal(api.remove('ConfigMap', 'kube-system', 'seed'), false);
    assert.equal(api.get('ConfigMap', 'kube-system', 'seed'), undefined);
    assert.deepEqual(api.list('Namespace').map((n) => n.metadata?.name), ['default', 'kube-system']);
    assert.throws(() => api.put({ kind: 'Secret', metadata: { name: 's' } }), /unknown kind/);
  });
});

describe('lifecycle', () => {
  it('stop() closes keep-alive and pending connections promptly and removes its temp dir', async () => {
    const own = await startApiServer();
    const agent = new Agent({ keepAlive: true });
    const ca = readFileSync(own.caFile);
    try {
      assert.ok(existsSync(own.kubeconfig) && existsSync(own.kubeconfigTokenFile) && existsSync(own.tokenFile));
      assert.equal((await call(own, 'GET', '/api/v1/namespaces', { agent })).status, 200);
      own.fault({ match: /slow/, delay: 30_000 });
      const pending = call(own, 'GET', '/api/v1/namespaces/slow', { agent: new Agent({ keepAlive: true }) }).catch((e: Error) => e);
      await new Promise((r) => setTimeout(r, 50));
      const t = Date.now();
      await own.stop();
      assert.ok(Date.now() - t < 1000, `stop took ${Date.now() - t} ms`);
      assert.ok((await pending) instanceof Error, 'the pending request fails');
      assert.equal(existsSync(own.dir), false);
      await assert.rejects(call(own, 'GET', '/api/v1/namespaces', { ca }), /ECONNREFUSED/);
    } finally {
      agent.destroy();
      await own.stop();
    }
  });

  it('keeps a given dir, and the launcher serves seeded objects until SIGTERM', async () => {
    const dir = join(scratch, 'launcher');
    const seed = join(scratch, 'seed.json');
    writeFileSync(seed, JSON.stringify([{ kind: 'Pod', metadata: { name: 'seeded', namespace: 'default' }, spec: { nodeName: 'n1' } }]));
    const main = resolve(__dirname, '..', 'apiserver', 'main.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', main, '--dir', dir, seed], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const kubeconfig = await new Promise<string>((res, rej) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('\n')) res(out.trim());
        });
        child.once('exit', (code) => rej(new Error(`launcher exited ${code}`)));
      });
      assert.equal(kubeconfig, join(dir, 'kubeconfig'));
      const pod = await clients(kubeconfig).core.readNamespacedPod({ name: 'seeded', namespace: 'default' });
      assert.equal(pod.spec?.nodeName, 'n1');
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.ok(existsSync(kubeconfig), 'a given dir is kept');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
