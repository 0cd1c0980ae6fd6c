// Integration: retained MACs (macmux.io/mac-retention: owner) outlive the grace period while their owner exists, and are freed
// once it is gone: by `macmux ledger gc`, and by a running `macmux install`'s sweep of its own node's homes only. The built
// executable against the API test server, which serves StatefulSets, VirtualMachineInstances and VirtualMachines.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer, type ApiServer } from '../apiserver/server';
import { BINARY, cliAsync } from './harness';
import { decodeHolding, encodeHolding, macKey, type Holding } from '../../src/mac/holding';

const MACNS = 'kube-system';
const LEDGER = 'macmux.io/ledger';
const POOL = { RANGE_START: '02:ab:00:00:00:00', RANGE_END: '02:ab:00:00:00:ff', BLOCK_SIZE: '16' };
/** Long past the grace period (600 s). */
const SINCE = Math.floor(Date.now() / 1000) - 3600;
const VMI_UID = '0b4c1c7e-8d55-4f55-a1c9-5a3a1e0c9d11';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const kept = (owner: string, node: string, retain: string, uid?: string): string =>
  encodeHolding({ owner, state: 'released', node, since: SINCE, retain, ...(uid ? { uid } : {}) } as Holding);

/** The cluster: a pool leasing blocks 0 (legacy) and 1 (new-style) to node-a and 2 to node-b, with retained MACs in each home. */
async function world(t: TestContext): Promise<{ api: ApiServer; dir: string; conflist: string }> {
  const api = await startApiServer({ namespaces: ['default', MACNS, 't'] });
  const dir = mkdtempSync(join(tmpdir(), 'macmux-retention-'));
  t.after(async () => {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const cm = (name: string, kind: string, data: Record<string, string>) => api.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: MACNS, labels: { [LEDGER]: kind } }, data });
  cm('macmux-pool', 'pool', { ...POOL, LEASES: JSON.stringify({ '0': 'node-a', '1': 'node-a.b1', '2': 'node-b.b2' }) });
  cm('macmux-ledger-node-a', 'node', {
    [macKey('02:ab:00:00:00:01')]: kept('t/web-0/green', 'node-a', 'StatefulSet/web'),
    [macKey('02:ab:00:00:00:02')]: kept('t/web-1/green', 'node-a', 'StatefulSet/web'),
    [macKey('02:ab:00:00:00:03')]: kept('t/virt-launcher-vm1-abcde/green', 'node-a', 'VirtualMachineInstance/vm1', VMI_UID),
    [macKey('02:ab:00:00:00:04')]: encodeHolding({ owner: 't/old-0/green', state: 'released', node: 'node-a', since: SINCE }),
  });
  cm('macmux-ledger-node-a.b1', 'block', { [macKey('02:ab:00:00:00:11')]: kept('t/db-0/green', 'node-a', 'StatefulSet/db') });
  cm('macmux-ledger-node-b.b2', 'block', { [macKey('02:ab:00:00:00:21')]: kept('t/db-1/green', 'node-b', 'StatefulSet/db') });
  api.put({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'web', namespace: 't' }, spec: { replicas: 2 } });
  api.put({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name: 'vm1', namespace: 't', uid: VMI_UID } });
  const conflist = join(dir, 'op.conflist');
  const conf = { type: 'macmux', cacheDir: join(dir, 'cache'), kubeconfig: api.kubeconfig, nodeName: 'op', macGracePeriod: 600, delegates: [{ name: 'lo', type: 'loopback', cniVersion: '1.0.0' }] };
  writeFileSync(conflist, JSON.stringify({ cniVersion: '1.0.0', name: 'macmux', plugins: [conf] }));
  return { api, dir, conflist };
}

/** The holding of `mac` in ConfigMap `cm`, as the server holds it. */
function held(api: ApiServer, cm: string, mac: string): Holding | undefined {
  const v = (api.get('ConfigMap', MACNS, cm) as { data?: Record<string, string> } | undefined)?.data?.[macKey(mac)];
  return v === undefined ? undefined : decodeHolding(v);
}

interface Row {
  mac: string;
  owner: string;
  action: string;
  retainedFor?: string;
  reason?: string;
}

async function gc(conflist: string, ...extra: string[]): Promise<Row[]> {
  const r = await cliAsync(['ledger', 'gc', '--config', conflist, '-o', 'json', ...extra]);
  assert.equal(r.status, 0, `gc: ${r.status}: ${r.stdout} ${r.stderr}`);
  return (JSON.parse(r.stdout) as Row[]).sort((a, b) => a.mac.localeCompare(b.mac));
}
const rows = (out: Row[]) => out.map((r) => [r.mac, r.action, r.retainedFor]);

describe('retained MACs', () => {
  it('ledger gc keeps a retained MAC while its owner exists and frees it once gone, asking each owner once; the VMI/VM rule', async (t) => {
    const { api, conflist } = await world(t);
    const owners = () => api.requests.filter((r) => ['statefulsets', 'virtualmachineinstances', 'virtualmachines'].includes(r.resource)).map((r) => `${r.resource} ${r.namespace}/${r.name}`).sort();

    // --dry-run: the MACs of the StatefulSet db (never there) would be freed, on every node's home; nothing written.
    api.clearRequests();
    assert.deepEqual(rows(await gc(conflist, '--dry-run')), [
      ['02:ab:00:00:00:11', 'would-free', 't/StatefulSet/db'],
      ['02:ab:00:00:00:21', 'would-free', 't/StatefulSet/db'],
    ]);
    assert.deepEqual(owners(), ['statefulsets t/db', 'statefulsets t/web', 'virtualmachineinstances t/vm1'], 'each owner asked once; a running VMI needs no VM');
    assert.equal(api.requests.filter((r) => r.method === 'PUT').length, 0, 'a dry run writes nothing');
    assert.equal(held(api, 'macmux-ledger-node-a.b1', '02:ab:00:00:00:11')?.retain, 'StatefulSet/db');

    // gc frees them at once (no grace period); the MACs of web and vm1 stay, retained, long past the grace period.
    assert.deepEqual(rows(await gc(conflist)), [
      ['02:ab:00:00:00:11', 'freed', 't/StatefulSet/db'],
      ['02:ab:00:00:00:21', 'freed', 't/StatefulSet/db'],
    ]);
    assert.equal(held(api, 'macmux-ledger-node-a.b1', '02:ab:00:00:00:11'), undefined);
    assert.equal(held(api, 'macmux-ledger-node-b.b2', '02:ab:00:00:00:21'), undefined);
    for (const mac of ['02:ab:00:00:00:01', '02:ab:00:00:00:02', '02:ab:00:00:00:03']) assert.ok(held(api, 'macmux-ledger-node-a', mac)?.retain, mac);
    assert.equal(held(api, 'macmux-ledger-node-a', '02:ab:00:00:00:04')?.owner, 't/old-0/green', 'a plain released holding is left to the grace period');

    // The VM stopped: no VMI, the VirtualMachine still there: its MAC stays.
    api.remove('VirtualMachineInstance', 't', 'vm1');
    api.put({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: 'vm1', namespace: 't' } });
    api.clearRequests();
    assert.deepEqual(await gc(conflist), []);
    assert.deepEqual(owners(), ['statefulsets t/web', 'virtualmachineinstances t/vm1', 'virtualmachines t/vm1']);

    // The StatefulSet deleted: both its MACs freed. Then the VirtualMachine deleted: its MAC freed.
    api.remove('StatefulSet', 't', 'web');
    assert.deepEqual(rows(await gc(conflist)), [
      ['02:ab:00:00:00:01', 'freed', 't/StatefulSet/web'],
      ['02:ab:00:00:00:02', 'freed', 't/StatefulSet/web'],
    ]);
    assert.ok(held(api, 'macmux-ledger-node-a', '02:ab:00:00:00:03')?.retain);
    api.remove('VirtualMachine', 't', 'vm1');
    assert.deepEqual(rows(await gc(conflist)), [['02:ab:00:00:00:03', 'freed', 't/VirtualMachineInstance/vm1']]);
    assert.deepEqual(Object.keys((api.get('ConfigMap', MACNS, 'macmux-ledger-node-a') as { data: Record<string, string> }).data), [macKey('02:ab:00:00:00:04')]);
  });

  it('ledger gc keeps a retained MAC whose owner it may not check (403), and says why', async (t) => {
    const { api, conflist } = await world(t);
    api.deny('get', 'statefulsets');
    const out = await gc(conflist);
    assert.deepEqual(rows(out), [
      ['02:ab:00:00:00:01', 'kept', 't/StatefulSet/web'],
      ['02:ab:00:00:00:02', 'kept', 't/StatefulSet/web'],
      ['02:ab:00:00:00:11', 'kept', 't/StatefulSet/db'],
      ['02:ab:00:00:00:21', 'kept', 't/StatefulSet/db'],
    ]);
    assert.match(out[0]!.reason!, /could not be checked/);
    assert.ok(held(api, 'macmux-ledger-node-a.b1', '02:ab:00:00:00:11')?.retain, 'not freed');
    const text = await cliAsync(['ledger', 'gc', '--config', conflist]);
    assert.match(text.stdout, /kept 02:ab:00:00:00:11 of t\/db-0\/green: whether its owner t\/StatefulSet\/db exists could not be checked/);
  });

  it("install's periodic sweep frees the retained MACs of gone owners in its own node's homes only, reading no other node's", async (t) => {
    const { api, dir } = await world(t);
    const root = join(dir, 'root');
    mkdirSync(join(root, 'etc/cni/net.d'), { recursive: true });
    writeFileSync(join(root, 'etc/cni/net.d/10-lo.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'lo', type: 'loopback' }));
    api.clearRequests();
    const args = ['install', '--root', root, '--listen', '127.0.0.1:0', '--interval', '5', '--scan-interval', '1', '--server', api.url, '--token-file', api.tokenFile, '--ca-file', api.caFile, '--namespace', MACNS];
    const child: ChildProcess = spawn(BINARY, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_NAME: 'node-a' }, stdio: ['ignore', 'ignore', 'pipe'] });
    t.after(() => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')));
    const err: Buffer[] = [];
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    const end = Date.now() + 15_000;
    while (held(api, 'macmux-ledger-node-a.b1', '02:ab:00:00:00:11') !== undefined) {
      assert.ok(Date.now() < end, `the sweep did not free node-a's MAC of the gone StatefulSet db: ${Buffer.concat(err).toString('utf8')}`);
      await sleep(200);
    }
    assert.match(Buffer.concat(err).toString('utf8'), /retention: freed MAC 02:ab:00:00:00:11 of t\/db-0\/green: its owner t\/StatefulSet\/db is gone/);
    for (const mac of ['02:ab:00:00:00:01', '02:ab:00:00:00:02', '02:ab:00:00:00:03']) assert.ok(held(api, 'macmux-ledger-node-a', mac)?.retain, `${mac}: its owner exists`);
    assert.ok(held(api, 'macmux-ledger-node-b.b2', '02:ab:00:00:00:21')?.retain, "node-b's MAC is node-b's sweep's");
    // (The metrics census lists the ledger today; the sweep itself only GETs this node's homes.)
    const nodeB = api.requests.filter((r) => r.resource === 'configmaps' && r.name === 'macmux-ledger-node-b.b2');
    assert.deepEqual(nodeB, [], "the sweep never GETs node-b's home");
    child.kill('SIGTERM');
  });
});
