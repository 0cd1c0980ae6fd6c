// Integration: inputs are bounded: stdin (4 MiB), each API response (16 MiB) and each annotation macmux parses (256 KiB); a capped input leaves nothing behind.
import { describe, it, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { startApiServer, type ApiServer } from '../apiserver/server';
import { Sandbox, cniAsync, linkNames, macmuxConf } from './harness';

const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
let api: ApiServer;

before(async () => {
  api = await startApiServer();
});
after(async () => api?.stop());

function setup(t: TestContext): { sb: Sandbox; conf: Record<string, unknown>; env(name: string, annotations: Record<string, string>): Record<string, string> } {
  const sb = new Sandbox();
  t.after(() => sb.cleanup());
  api.clearFaults();
  api.clearRequests();
  const conf = macmuxConf(sb, '1.0.0', [], { kubeconfig: api.kubeconfig });
  return {
    sb,
    conf,
    env(name, annotations) {
      const obj = api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `${name}-${sb.id}`, namespace: 'default', annotations } });
      return { ...sb.env('c1'), CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${name}-${sb.id};K8S_POD_UID=${obj.metadata!.uid!}` };
    },
  };
}

/** Nothing left behind: no interface but lo in the netns, no cache entry. */
function nothingLeft(sb: Sandbox): void {
  assert.deepEqual(linkNames(sb.ns), ['lo']);
  assert.deepEqual(sb.cacheEntries(), []);
}

describe('bounds', () => {
  it('a stdin over 4 MiB is code 6 naming the limit, read no further', async (t) => {
    const { sb, conf } = setup(t);
    const text = JSON.stringify({ ...conf, padding: 'x'.repeat(5 * 1024 * 1024) });
    const r = await cniAsync('ADD', text, sb.env('c1'));
    assert.equal(r.json.code, 6, r.stdout);
    assert.match(String(r.json.msg), /stdin is larger than 4194304 bytes \(4 MiB\)/);
    nothingLeft(sb);
    // Just under the limit still works (as a config error: the padding field is unknown or ignored, not a size error).
    const ok = await cniAsync('VERSION', JSON.stringify({ cniVersion: '1.0.0', padding: 'x'.repeat(4 * 1024 * 1024 - 100) }), {});
    assert.equal(ok.status, 0, ok.stdout);
  });

  it('an API response over 16 MiB is code 5 naming the limit, not retried, and leaves nothing', async (t) => {
    const { sb, conf, env } = setup(t);
    const e = env('huge', {});
    api.fault({ match: /\/pods\/huge-/, method: 'GET', hugeBody: 17 * 1024 * 1024 });
    const r = await cniAsync('ADD', conf, e);
    assert.equal(r.json.code, 5, r.stdout);
    assert.match(String(r.json.msg), /get pods.*larger than 16777216 bytes \(16 MiB\)/);
    assert.equal(api.requests.filter((q) => q.method === 'GET' && q.path.includes('/pods/huge-')).length, 1);
    nothingLeft(sb);
  });

  it('an annotation over 256 KiB is code 7 naming the annotation and the limit, and leaves nothing', async (t) => {
    const { sb, conf, env } = setup(t);
    for (const [key, value] of [
      [NETWORKS, Array.from({ length: 30000 }, (_, i) => `net${i}`).join(', ')],
      ['v1.multus-cni.io/default-network', JSON.stringify({ name: 'x', pad: 'y'.repeat(300 * 1024) })],
    ] as const) {
      const r = await cniAsync('ADD', conf, env(`ann${key.length}`, { [key]: value }));
      assert.equal(r.json.code, 7, r.stdout);
      assert.match(String(r.json.msg), new RegExp(`annotation ${key.replace(/\./g, '\\.')}: is \\d+ bytes long; macmux reads at most 262144 bytes`));
      nothingLeft(sb);
    }
  });
});
