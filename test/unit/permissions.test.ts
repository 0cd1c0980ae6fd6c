// API_PERMISSIONS (which the RBAC manifests are checked against) is exactly what KubeApi's methods request, both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { API_PERMISSIONS, KubeApi } from '../../src/k8s/api';
import type { ApiTransport } from '../../src/k8s/http';

interface Sent {
  method: string;
  path: string;
  verb: string;
}

/** Calls every KubeApi method with a transport that records what it would send and answers 200 {}. */
async function everyRequest(): Promise<Sent[]> {
  const sent: Sent[] = [];
  const transport = { send: async (r: Sent) => (sent.push(r), { status: 200, body: {} }), renew() {}, close() {} } as unknown as ApiTransport;
  const api = new KubeApi(transport);
  const names = Object.getOwnPropertyNames(KubeApi.prototype).filter((n) => n !== 'constructor');
  const calls: Record<string, () => Promise<unknown>> = {
    getPod: () => api.getPod('ns', 'p'),
    getNad: () => api.getNad('ns', 'n'),
    patchPodAnnotations: () => api.patchPodAnnotations('ns', 'p', { a: 'b' }),
    namespaceLabels: () => api.namespaceLabels('ns'),
    nodeState: () => api.nodeState('node-a'),
    statefulSetState: () => api.statefulSetState('ns', 'web'),
    virtualMachineInstanceState: () => api.virtualMachineInstanceState('ns', 'vm1'),
    virtualMachineState: () => api.virtualMachineState('ns', 'vm1'),
    getConfigMap: () => api.getConfigMap('kube-system', 'c'),
    createConfigMap: () => api.createConfigMap('kube-system', { metadata: { name: 'c' } }),
    updateConfigMap: () => api.updateConfigMap('kube-system', { metadata: { name: 'c' } }),
    deleteConfigMap: () => api.deleteConfigMap('kube-system', 'c', '7'),
    listConfigMaps: () => api.listConfigMaps('kube-system', 'k'),
    listNads: () => api.listNads(),
    canI: () => api.canI('get', 'pods'),
  };
  const untested = names.filter((n) => !(n in calls) && !['renewBudget', 'preconnect', 'close'].includes(n));
  assert.deepEqual(untested, [], 'every KubeApi method that makes a request is listed here');
  for (const call of Object.values(calls)) await call();
  return sent;
}

/** The RBAC (group, resource, verb) of a request, from its path; SelfSubjectAccessReviews need no grant. */
function rbacOf(r: Sent): string | undefined {
  const m = r.path.split('?')[0]!.match(/^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)(?:\/namespaces\/[^/]+)?\/([^/]+)/);
  assert.ok(m, `unexpected path ${r.path}`);
  const group = m[1] ?? '';
  if (group === 'authorization.k8s.io') return undefined;
  return `${group}/${m[2]}/${r.verb}`;
}

test('API_PERMISSIONS lists exactly the verbs and resources KubeApi requests', async () => {
  const used = new Set((await everyRequest()).map(rbacOf).filter((x): x is string => x !== undefined));
  const granted = new Set(API_PERMISSIONS.flatMap((p) => p.verbs.map((v) => `${p.group ?? ''}/${p.resource}/${v}`)));
  assert.deepEqual([...used].sort(), [...granted].sort());
});

test('the verb each request declares matches its HTTP method', async () => {
  const expected: Record<string, string[]> = { GET: ['get', 'list'], PATCH: ['patch'], POST: ['create'], PUT: ['update'], DELETE: ['delete'] };
  for (const r of await everyRequest()) assert.ok(expected[r.method]?.includes(r.verb), `${r.method} ${r.path} declared ${r.verb}`);
});
