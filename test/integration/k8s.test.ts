// Integration: pods served from the API test server, with real delegates in real network namespaces.
import { describe, it, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { startApiServer, type ApiServer } from '../apiserver/server';
import { writeKubeconfig } from '../apiserver/kubeconfig';
import { Sandbox, cniAsync, ipv4, links, linkNames, macmuxConf, sh, PLUGIN_DIR, type Link } from './harness';
import { deviceName } from '../../src/util/names';

const STATUS = 'k8s.v1.cni.cncf.io/network-status';
const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
let api: ApiServer;

before(async () => {
  api = await startApiServer();
  api.put({ kind: 'Namespace', metadata: { name: 'other' } });
});
after(async () => api?.stop());

interface World {
  sb: Sandbox;
  conf: Record<string, unknown>;
  /** Creates the pod; returns the CNI env for its sandbox `cid`. */
  pod(name: string, annotations: Record<string, string>, cid: string, extraArgs?: string): Record<string, string>;
  nad(name: string, config: Record<string, unknown> | '', opts?: { namespace?: string; annotations?: Record<string, string> }): void;
  bridgeNad(name: string, subnet: string, namespace?: string): void;
  macvlanNad(name: string, subnet: string): void;
}

function world(t: TestContext): World {
  const sb = new Sandbox();
  t.after(() => sb.cleanup());
  api.clearRequests();
  api.clearFaults();
  api.allowAll();
  const confDir = `${sb.dir}/net.d`;
  mkdirSync(confDir, { recursive: true });
  const conf = macmuxConf(sb, '1.0.0', [], { kubeconfig: api.kubeconfig, confDir, deviceCheckpoint: `${sb.dir}/kubelet_internal_checkpoint` });
  const w: World = {
    sb,
    conf,
    pod(name, annotations, cid, extraArgs = '') {
      const obj = api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `${name}-${sb.id}`, namespace: 'default', annotations } });
      const uid = obj.metadata!.uid!;
      return { ...sb.env(cid), CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${name}-${sb.id};K8S_POD_INFRA_CONTAINER_ID=${cid};K8S_POD_UID=${uid}${extraArgs}` };
    },
    nad(name, config, opts = {}) {
      api.put({
        apiVersion: 'k8s.cni.cncf.io/v1',
        kind: 'NetworkAttachmentDefinition',
        metadata: { name, namespace: opts.namespace ?? 'default', ...(opts.annotations ? { annotations: opts.annotations } : {}) },
        spec: { config: config === '' ? '' : JSON.stringify(config) },
      });
    },
    bridgeNad(name, subnet, namespace) {
      w.nad(name, { cniVersion: '1.0.0', name, type: 'bridge', bridge: sb.bridgeName(name.slice(0, 3)), ipam: { type: 'host-local', subnet, dataDir: sb.ipamDir } }, namespace ? { namespace } : {});
    },
    macvlanNad(name, subnet) {
      w.nad(name, { cniVersion: '1.0.0', name, type: 'macvlan', master: sb.bridge('l'), mode: 'bridge', capabilities: { mac: true }, ipam: { type: 'host-local', subnet, dataDir: sb.ipamDir } });
    },
  };
  return w;
}

const patches = () => api.requests.filter((r) => r.method === 'PATCH');
const byName = (ns: string) => new Map<string, Link>(links(ns).map((l) => [l.ifname, l]));
function statusOf(podName: string): Array<Record<string, unknown>> {
  const value = api.get('Pod', 'default', podName)?.metadata?.annotations?.[STATUS];
  assert.ok(value, `pod ${podName} has ${STATUS}`);
  return JSON.parse(value) as Array<Record<string, unknown>>;
}

describe('pods with NetworkAttachmentDefinitions', () => {
  it('a pod with bridge, macvlan and host-device attachments gets them, and network-status matches the netns', async (t) => {
    const w = world(t);
    const { sb } = w;
    w.bridgeNad('blue', '10.252.0.0/24');
    w.macvlanNad('green', '10.251.0.0/24');
    // host-device moves a veth end the device plugin "allocated"; a shim hands it the deviceID as its device.
    const veth = `mmhd${sb.id}`;
    sh('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', `mmhp${sb.id}`]);
    t.after(() => sh('sh', ['-c', `ip link del ${veth} 2>/dev/null; ip link del mmhp${sb.id} 2>/dev/null; true`]));
    const vethMac = (JSON.parse(sh('ip', ['-j', 'link', 'show', veth])) as Link[])[0]!.address;
    const shimDir = `${sb.dir}/bin`;
    mkdirSync(shimDir);
    writeFileSync(`${shimDir}/hostdev-by-id`, `#!/bin/sh\nconf=$(cat)\ndev=$(printf '%s' "$conf" | sed -n 's/.*"deviceID":"\\([^"]*\\)".*/\\1/p')\nprintf '%s' "$conf" | sed "s/^{/{\\"device\\":\\"$dev\\",/" | ${PLUGIN_DIR}/host-device\n`, { mode: 0o755 });
    w.conf.binDir = shimDir;
    w.nad('hd', { cniVersion: '1.0.0', name: 'hd', type: 'hostdev-by-id' }, { annotations: { 'k8s.v1.cni.cncf.io/resourceName': 'example.com/veth' } });
    const env = w.pod('three', { [NETWORKS]: JSON.stringify([{ name: 'blue' }, { name: 'green', mac: '02:42:42:00:00:07' }, { name: 'hd' }]) }, 'k3');
    const uid = /K8S_POD_UID=([^;]+)/.exec(env.CNI_ARGS!)![1];
    writeFileSync(String(w.conf.deviceCheckpoint), JSON.stringify({ Data: { PodDeviceEntries: [{ PodUID: uid, ContainerName: 'c', ResourceName: 'example.com/veth', DeviceIDs: { '0': [veth] } }], RegisteredDevices: { 'example.com/veth': [veth] } }, Checksum: 1 }));

    const r = await cniAsync('ADD', w.conf, env);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal(r.stderr, '', 'the bundled API client prints nothing');
    const [BLUE, GREEN, HD] = ['blue', 'green', 'hd'].map(deviceName);
    assert.deepEqual(linkNames(sb.ns), ['eth0', BLUE!, GREEN!, HD!, 'lo'].sort());
    const l = byName(sb.ns);
    assert.equal(l.get(GREEN!)?.address, '02:42:42:00:00:07', 'the requested MAC is on the macvlan');
    assert.equal(l.get(HD!)?.address, vethMac, 'the device-plugin veth was moved in');
    assert.deepEqual(ipv4(l.get(BLUE!)), ['10.252.0.2/24']);

    // One merge patch of metadata.annotations, carrying what is really in the netns.
    const ps = patches();
    assert.equal(ps.length, 1);
    assert.equal(ps[0]!.contentType, 'application/merge-patch+json');
    assert.deepEqual(Object.keys(ps[0]!.body as object), ['metadata']);
    const sent = ((ps[0]!.body as { metadata: { annotations: Record<string, string> } }).metadata.annotations);
    assert.deepEqual(Object.keys(sent), [STATUS]);
    const status = statusOf(`three-${sb.id}`);
    assert.deepEqual(status.map((s) => [s.name, s.interface, s.default ?? false]), [
      ['cluster', 'eth0', true], ['default/blue', BLUE, false], ['default/green', GREEN, false], ['default/hd', HD, false],
    ]);
    for (const s of status) {
      const link = l.get(String(s.interface));
      assert.equal(s.mac, link?.address, `${String(s.name)} mac`);
      assert.deepEqual(s.ips ?? [], ipv4(link).map((a) => a.split('/')[0]), `${String(s.name)} ips`);
    }
    const cached = sb.cacheEntry('k3') as { attachments: Array<{ name: string; deviceID?: string }> };
    assert.equal(cached.attachments.find((a) => a.name === 'default/hd')?.deviceID, veth);

    api.clearRequests();
    const d = await cniAsync('DEL', w.conf, env);
    assert.equal(d.status, 0, d.stdout);
    assert.deepEqual(linkNames(sb.ns), ['lo']);
    assert.deepEqual(sb.cacheEntries(), []);
    assert.deepEqual(sb.ipamLeases(), []);
    assert.deepEqual(api.requests, [], 'DEL of a cached pod makes no API call and leaves network-status alone');
  });

  it('the comma form, an explicit @ifname, and a NAD in another namespace', async (t) => {
    const w = world(t);
    w.macvlanNad('green', '10.251.0.0/24');
    w.bridgeNad('blue', '10.252.0.0/24', 'other');
    const env = w.pod('comma', { [NETWORKS]: ' green@mygreen , other/blue ' }, 'c1');
    w.conf.globalNamespaces = ['other']; // namespace isolation is on by default
    const r = await cniAsync('ADD', w.conf, env);
    assert.equal(r.status, 0, r.stdout);
    assert.deepEqual(linkNames(w.sb.ns), ['eth0', 'lo', 'mygreen', deviceName('blue')].sort());
    assert.deepEqual(statusOf(`comma-${w.sb.id}`).map((s) => s.name), ['cluster', 'default/green', 'other/blue']);
    assert.equal((await cniAsync('DEL', w.conf, env)).status, 0);
  });

  it('a NAD with an empty spec.config (of a global namespace) uses the file of the same name in the conf dir', async (t) => {
    const w = world(t);
    w.conf.globalNamespaces = ['other']; // under namespace isolation only NADs of global namespaces may use the node's files
    writeFileSync(`${String(w.conf.confDir)}/20-filenet.conf`, JSON.stringify({ cniVersion: '1.0.0', name: 'filenet', type: 'bridge', bridge: w.sb.bridgeName('f'), ipam: { type: 'host-local', subnet: '10.253.0.0/24', dataDir: w.sb.ipamDir } }));
    w.nad('filenet', '', { namespace: 'other' });
    const env = w.pod('file', { [NETWORKS]: 'other/filenet' }, 'f1');
    const r = await cniAsync('ADD', w.conf, env);
    assert.equal(r.status, 0, r.stdout);
    assert.deepEqual(ipv4(byName(w.sb.ns).get(deviceName('filenet'))), ['10.253.0.2/24']);
    assert.equal((await cniAsync('DEL', w.conf, env)).status, 0);
  });

  it('v1.multus-cni.io/default-network replaces the cluster network on eth0', async (t) => {
    const w = world(t);
    w.bridgeNad('alt', '10.254.0.0/24');
    const env = w.pod('dflt', { 'v1.multus-cni.io/default-network': 'alt' }, 'd1');
    const r = await cniAsync('ADD', w.conf, env);
    assert.equal(r.status, 0, r.stdout);
    assert.deepEqual(ipv4(byName(w.sb.ns).get('eth0')), ['10.254.0.2/24']);
    assert.deepEqual(statusOf(`dflt-${w.sb.id}`).map((s) => [s.name, s.interface, s.default]), [['default/alt', 'eth0', true]]);
    assert.equal((r.json.ips as Array<{ address: string }>)[0]?.address, '10.254.0.2/24', 'the runtime gets the replacing network result');
    assert.equal((await cniAsync('DEL', w.conf, env)).status, 0);
    assert.deepEqual(w.sb.ipamLeases(), []);
  });
});

describe('failures leave nothing behind', () => {
  it('a missing NAD fails the ADD naming it as ns/name, with nothing added or published', async (t) => {
    const w = world(t);
    w.macvlanNad('green', '10.251.0.0/24');
    const env = w.pod('miss', { [NETWORKS]: 'green,nosuch' }, 'm1');
    const r = await cniAsync('ADD', w.conf, env);
    assert.equal(r.status, 1);
    assert.equal(r.json.code, 7);
    assert.match(String(r.json.msg), /NetworkAttachmentDefinition default\/nosuch not found/);
    assert.deepEqual(linkNames(w.sb.ns), ['lo']);
    assert.deepEqual(w.sb.cacheEntries(), []);
    assert.deepEqual(patches(), []);
  });

  it('a malformed annotation is code 7 naming the pod, the element and the field', async (t) => {
    const w = world(t);
    const env = w.pod('bad', { [NETWORKS]: JSON.stringify([{ name: 'ok' }, { name: 'x', interface: 7 }]) }, 'b1');
    const r = await cniAsync('ADD', w.conf, env);
    assert.equal(r.json.code, 7);
    assert.match(String(r.json.msg), new RegExp(`default/bad-${w.sb.id}.*element 1.*interface`));
    assert.deepEqual(linkNames(w.sb.ns), ['lo']);
  });

  it('a YAML kubeconfig (an operator\'s) works as the JSON one install writes: ADD and DEL', async (t) => {
    const w = world(t);
    assert.match(readFileSync(api.kubeconfig, 'utf8'), /^\{/, 'the test server writes JSON kubeconfigs, as install does');
    const yaml = writeKubeconfig(`${w.sb.dir}/yaml.kubeconfig`, { server: api.url, caFile: api.caFile, tokenFile: api.tokenFile, format: 'yaml' });
    assert.match(readFileSync(yaml, 'utf8'), /^apiVersion: v1\n/);
    w.macvlanNad('green', '10.251.0.0/24');
    const env = w.pod('yaml', { [NETWORKS]: 'green' }, 'y1');
    const conf = { ...w.conf, kubeconfig: yaml };
    const r = await cniAsync('ADD', conf, env);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.deepEqual(linkNames(w.sb.ns), ['eth0', 'lo', deviceName('green')].sort());
    assert.deepEqual(statusOf(`yaml-${w.sb.id}`).map((s) => s.name), ['cluster', 'default/green']);
    assert.ok(api.requests.length > 0 && api.requests.every((q) => q.auth === api.token), 'every request carried the tokenFile\'s token');
    const d = await cniAsync('DEL', conf, env);
    assert.equal(d.status, 0, d.stdout);
    assert.deepEqual(linkNames(w.sb.ns), ['lo']);
  });

  it('an unreachable API server is code 11 with nothing left', async (t) => {
    const w = world(t);
    const dead = writeKubeconfig(`${w.sb.dir}/dead.kubeconfig`, { server: 'https://127.0.0.1:1', caFile: api.caFile, token: api.token });
    const env = w.pod('dead', {}, 'u1');
    const r = await cniAsync('ADD', { ...w.conf, kubeconfig: dead, timeBudget: { add: 1 } }, env);
    assert.equal(r.status, 1);
    assert.equal(r.json.code, 11);
    assert.match(String(r.json.msg), /unreachable.*get pods/);
    assert.deepEqual(linkNames(w.sb.ns), ['lo']);
    assert.deepEqual(w.sb.cacheEntries(), []);
  });

  it('the API dropping the network-status patch rolls back every delegate', async (t) => {
    const w = world(t);
    w.macvlanNad('green', '10.251.0.0/24');
    const env = w.pod('drop', { [NETWORKS]: 'green' }, 'p1');
    api.fault({ match: /\/pods\//, method: 'PATCH', drop: true });
    const r = await cniAsync('ADD', { ...w.conf, timeBudget: { add: 2 } }, env);
    assert.equal(r.json.code, 11, r.stdout);
    assert.deepEqual(linkNames(w.sb.ns), ['lo']);
    assert.deepEqual(w.sb.cacheEntries(), []);
    assert.deepEqual(w.sb.ipamLeases(), []);
  });

  it('a pod deleted before network-status is written: logged, and the ADD still succeeds', async (t) => {
    const w = world(t);
    w.macvlanNad('green', '10.251.0.0/24');
    const env = w.pod('gone', { [NETWORKS]: 'green' }, 'g1');
    api.fault({ match: /\/pods\//, method: 'PATCH', status: 404, message: `pods "gone-${w.sb.id}" not found` });
    const logFile = `${w.sb.dir}/macmux.log`;
    const r = await cniAsync('ADD', w.conf, { ...env, _CNI_LOGGING_FILE: logFile });
    assert.equal(r.status, 0, r.stdout);
    assert.deepEqual(linkNames(w.sb.ns), ['eth0', deviceName('green'), 'lo'].sort());
    assert.match(sh('cat', [logFile]), new RegExp(`error ADD g1 default/gone-${w.sb.id} pod default/gone-${w.sb.id} is gone; network-status not written`));
    assert.equal((await cniAsync('DEL', w.conf, env)).status, 0);
  });

  it('a 403 on the patch names the refused verb and resource', async (t) => {
    const w = world(t);
    const env = w.pod('deny', {}, 'x1');
    api.deny('patch', 'pods');
    const r = await cniAsync('ADD', w.conf, env);
    assert.equal(r.json.code, 102);
    assert.match(String(r.json.msg), /refused to patch pods default\/deny-.* Forbidden/);
    assert.deepEqual(linkNames(w.sb.ns), ['lo']);
  });

  it('500s and 429s are retried within the budget', async (t) => {
    const w = world(t);
    w.macvlanNad('green', '10.251.0.0/24');
    const env = w.pod('retry', { [NETWORKS]: 'green' }, 'r1');
    api.fault({ match: /\/pods\//, method: 'GET', status: 500, times: 2 });
    api.fault({ match: /network-attachment-definitions/, status: 429, retryAfter: 0, times: 1 });
    const r = await cniAsync('ADD', w.conf, env);
    assert.equal(r.status, 0, r.stdout);
    assert.equal(api.requests.filter((q) => q.method === 'GET' && q.resource === 'pods').length, 3);
    assert.equal((await cniAsync('DEL', w.conf, env)).status, 0);
  });

  it('a re-created pod (another uid) fails the ADD with code 3', async (t) => {
    const w = world(t);
    const env = w.pod('old', {}, 'o1');
    const r = await cniAsync('ADD', w.conf, { ...env, CNI_ARGS: env.CNI_ARGS!.replace(/K8S_POD_UID=[^;]+/, 'K8S_POD_UID=not-this-one') });
    assert.equal(r.json.code, 3);
    assert.match(String(r.json.msg), /re-created/);
    assert.deepEqual(linkNames(w.sb.ns), ['lo']);
  });

  it('DEL succeeds from the cache while the API is unreachable', async (t) => {
    const w = world(t);
    w.macvlanNad('green', '10.251.0.0/24');
    const env = w.pod('down', { [NETWORKS]: 'green' }, 'n1');
    assert.equal((await cniAsync('ADD', w.conf, env)).status, 0);
    api.fault({ match: /./, drop: true });
    const d = await cniAsync('DEL', w.conf, env);
    assert.equal(d.status, 0, d.stdout);
    assert.deepEqual(linkNames(w.sb.ns), ['lo']);
    assert.deepEqual(w.sb.ipamLeases(), []);
  });
});

describe('credentials and hot-plug', () => {
  it('a rotated token file is picked up by the next invocation', async (t) => {
    const w = world(t);
    const conf = { ...w.conf, kubeconfig: api.kubeconfigTokenFile };
    const env1 = w.pod('rot1', {}, 't1');
    assert.equal((await cniAsync('ADD', conf, env1)).status, 0);
    const old = api.token;
    api.setToken(`rotated-${w.sb.id}`, { writeFile: true });
    t.after(() => api.setToken(old, { writeFile: true }));
    api.clearRequests();
    const sb2 = new Sandbox();
    t.after(() => sb2.cleanup());
    const env2 = { ...w.pod('rot2', {}, 't2'), CNI_NETNS: sb2.netnsPath };
    const r = await cniAsync('ADD', { ...conf, cacheDir: sb2.cacheDir }, env2);
    assert.equal(r.status, 0, r.stdout);
    assert.deepEqual(api.requests.map((q) => [q.method, q.auth, q.status]), [['GET', `rotated-${w.sb.id}`, 200], ['PATCH', `rotated-${w.sb.id}`, 200]]);
    assert.equal((await cniAsync('DEL', conf, env1)).status, 0);
    assert.equal((await cniAsync('DEL', { ...conf, cacheDir: sb2.cacheDir }, env2)).status, 0);
  });

  it('K8S_POD_NETWORK adds one attachment to a running pod, then removes it, leaving the others alone', async (t) => {
    const w = world(t);
    w.macvlanNad('green', '10.251.0.0/24');
    w.bridgeNad('blue', '10.252.0.0/24');
    const podName = `hot-${w.sb.id}`;
    const env = w.pod('hot', { [NETWORKS]: 'green' }, 'h1');
    assert.equal((await cniAsync('ADD', w.conf, env)).status, 0);
    const [GREEN, BLUE] = [deviceName('green'), deviceName('blue')];
    const greenMac = byName(w.sb.ns).get(GREEN)?.address;

    const pod = api.get('Pod', 'default', podName)!;
    api.put({ ...pod, metadata: { ...pod.metadata!, annotations: { ...pod.metadata!.annotations, [NETWORKS]: 'green,blue' } } });
    const add = await cniAsync('ADD', w.conf, { ...env, CNI_ARGS: `${env.CNI_ARGS};K8S_POD_NETWORK=blue` });
    assert.equal(add.status, 0, add.stdout);
    assert.deepEqual(linkNames(w.sb.ns), ['eth0', BLUE, GREEN, 'lo'].sort());
    assert.equal(byName(w.sb.ns).get(GREEN)?.address, greenMac, 'green untouched');
    assert.deepEqual(statusOf(podName).map((s) => s.name), ['cluster', 'default/green', 'default/blue']);
    assert.equal((add.json.interfaces as Array<{ name: string }>).some((i) => i.name === BLUE), true, 'the result is the new attachment');

    const del = await cniAsync('DEL', w.conf, { ...env, CNI_ARGS: `${env.CNI_ARGS};K8S_POD_NETWORK=blue` });
    assert.equal(del.status, 0, del.stdout);
    assert.deepEqual(linkNames(w.sb.ns), ['eth0', GREEN, 'lo'].sort());
    assert.deepEqual(statusOf(podName).map((s) => s.name), ['cluster', 'default/green']);
    assert.deepEqual((w.sb.cacheEntry('h1') as { attachments: Array<{ name: string }> }).attachments.map((a) => a.name), ['cluster', 'default/green']);

    assert.equal((await cniAsync('DEL', w.conf, env)).status, 0);
    assert.deepEqual(linkNames(w.sb.ns), ['lo']);
    assert.deepEqual(w.sb.ipamLeases(), []);
  });
});

describe('review fixes', () => {
  /** A binDir with `slow-<type>`: sleeps, then runs the real plugin. */
  function slowPlugins(w: World, seconds: number): void {
    const dir = `${w.sb.dir}/slowbin`;
    mkdirSync(dir, { recursive: true });
    for (const type of ['bridge', 'macvlan']) writeFileSync(`${dir}/slow-${type}`, `#!/bin/sh\n[ "$CNI_COMMAND" = ADD ] && sleep ${seconds}\nexec ${PLUGIN_DIR}/${type}\n`, { mode: 0o755 });
    w.conf.binDir = dir;
  }

  it('delegate time does not count against the API budget', async (t) => {
    const w = world(t);
    slowPlugins(w, 2.5);
    w.nad('slow', { cniVersion: '1.0.0', name: 'slow', type: 'slow-bridge', bridge: w.sb.bridgeName('s'), ipam: { type: 'host-local', subnet: '10.252.0.0/24', dataDir: w.sb.ipamDir } });
    const env = w.pod('slow', { [NETWORKS]: 'slow' }, 's1');
    const r = await cniAsync('ADD', { ...w.conf, timeBudget: { add: 2 } }, env);
    assert.equal(r.status, 0, r.stdout);
    assert.equal(patches().length, 1, 'network-status written after a delegate slower than the budget');
    assert.equal((await cniAsync('DEL', w.conf, env)).status, 0);
  });

  it('network-status is not written onto a pod re-created under the same name while ADD ran', async (t) => {
    const w = world(t);
    slowPlugins(w, 1.5);
    w.nad('slow', { cniVersion: '1.0.0', name: 'slow', type: 'slow-bridge', bridge: w.sb.bridgeName('s'), ipam: { type: 'host-local', subnet: '10.252.0.0/24', dataDir: w.sb.ipamDir } });
    const env = w.pod('recr', { [NETWORKS]: 'slow' }, 'q1');
    const podName = `recr-${w.sb.id}`;
    const adding = cniAsync('ADD', w.conf, env);
    await new Promise((r) => setTimeout(r, 700));
    api.remove('Pod', 'default', podName);
    api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: podName, namespace: 'default', annotations: { [NETWORKS]: 'slow' } } });
    const r = await adding;
    assert.equal(r.status, 0, r.stdout);
    assert.equal(api.get('Pod', 'default', podName)?.metadata?.annotations?.[STATUS], undefined, 'the new pod did not get the old sandbox status');
    assert.equal((await cniAsync('DEL', w.conf, env)).status, 0);
  });

  it('two hot-plugs at once both land in the cache and network-status, and DEL removes both', async (t) => {
    const w = world(t);
    w.bridgeNad('x', '10.250.1.0/24');
    w.bridgeNad('a', '10.250.2.0/24');
    w.bridgeNad('b', '10.250.3.0/24');
    const env = w.pod('par', { [NETWORKS]: 'x' }, 'hp1');
    assert.equal((await cniAsync('ADD', w.conf, env)).status, 0);
    const pod = api.get('Pod', 'default', `par-${w.sb.id}`)!;
    api.put({ ...pod, metadata: { ...pod.metadata!, annotations: { [NETWORKS]: 'x,a,b', [STATUS]: pod.metadata!.annotations![STATUS]! } } });
    const [ra, rb] = await Promise.all(['a', 'b'].map((n) => cniAsync('ADD', w.conf, { ...env, CNI_ARGS: `${env.CNI_ARGS};K8S_POD_NETWORK=${n}` })));
    assert.equal(ra!.status, 0, ra!.stdout);
    assert.equal(rb!.status, 0, rb!.stdout);
    const names = (w.sb.cacheEntry('hp1') as { attachments: Array<{ name: string }> }).attachments.map((a) => a.name).sort();
    assert.deepEqual(names, ['cluster', 'default/a', 'default/b', 'default/x']);
    assert.deepEqual(statusOf(`par-${w.sb.id}`).map((s) => s.name).sort(), ['cluster', 'default/a', 'default/b', 'default/x']);
    assert.equal((await cniAsync('DEL', w.conf, env)).status, 0);
    assert.deepEqual(linkNames(w.sb.ns), ['lo']);
    assert.deepEqual(w.sb.ipamLeases(), []);
  });

  it('a hot-plug without API access fails and leaves the running pod alone', async (t) => {
    const w = world(t);
    w.macvlanNad('green', '10.251.0.0/24');
    const env = w.pod('noapi', { [NETWORKS]: 'green' }, 'na1');
    assert.equal((await cniAsync('ADD', w.conf, env)).status, 0);
    const before = links(w.sb.ns).map((l) => [l.ifname, l.address]);
    const { kubeconfig: _k, ...noKube } = w.conf;
    const r = await cniAsync('ADD', noKube, { ...env, CNI_ARGS: `${env.CNI_ARGS};K8S_POD_NETWORK=blue` });
    assert.equal(r.json.code, 7);
    assert.match(String(r.json.msg), /hot-plug of "blue" needs/);
    assert.deepEqual(links(w.sb.ns).map((l) => [l.ifname, l.address]), before);
    assert.equal((await cniAsync('DEL', w.conf, env)).status, 0);
  });

  it('a delegate that ignores the requested MAC fails the ADD with code 103 and is rolled back', async (t) => {
    const w = world(t);
    w.nad('pp', { cniVersion: '1.0.0', name: 'pp', type: 'ptp', ipam: { type: 'host-local', subnet: '10.249.0.0/24', dataDir: w.sb.ipamDir } });
    const env = w.pod('ptp', { [NETWORKS]: JSON.stringify([{ name: 'pp', mac: '02:00:00:00:99:01' }]) }, 'pp1');
    const r = await cniAsync('ADD', w.conf, env);
    assert.equal(r.json.code, 103, r.stdout);
    assert.match(String(r.json.msg), /not the assigned 02:00:00:00:99:01/);
    assert.deepEqual(linkNames(w.sb.ns), ['lo']);
    assert.deepEqual(w.sb.cacheEntries(), []);
    assert.deepEqual(w.sb.ipamLeases(), []);
  });

  it('isPrimary replaces eth0 with the element network and its ifMac', async (t) => {
    const w = world(t);
    w.bridgeNad('prim', '10.248.0.0/24');
    w.macvlanNad('green', '10.251.0.0/24');
    const env = w.pod('prim', { [NETWORKS]: JSON.stringify([{ name: 'prim', isPrimary: true, ifMac: '02:00:00:00:aa:01' }, { name: 'green' }]) }, 'ip1');
    const r = await cniAsync('ADD', w.conf, env);
    assert.equal(r.status, 0, r.stdout);
    const l = byName(w.sb.ns);
    assert.deepEqual(ipv4(l.get('eth0')), ['10.248.0.2/24']);
    assert.equal(l.get('eth0')?.address, '02:00:00:00:aa:01');
    assert.deepEqual(statusOf(`prim-${w.sb.id}`).map((s) => [s.name, s.interface, s.default ?? false]), [['default/prim', 'eth0', true], ['default/green', deviceName('green'), false]]);
    assert.equal((await cniAsync('DEL', w.conf, env)).status, 0);
    assert.deepEqual(w.sb.ipamLeases(), []);
  });

  it('a kubeconfig with the wrong CA is a config error (7), not "try again" (11)', async (t) => {
    const w = world(t);
    const { generateTls } = await import('../apiserver/tls');
    const other = await generateTls();
    writeFileSync(`${w.sb.dir}/other-ca.crt`, other.caPem);
    const bad = writeKubeconfig(`${w.sb.dir}/badca.kubeconfig`, { server: api.url, caFile: `${w.sb.dir}/other-ca.crt`, token: api.token });
    const env = w.pod('ca', {}, 'ca1');
    const r = await cniAsync('ADD', { ...w.conf, kubeconfig: bad }, env);
    assert.equal(r.json.code, 7, r.stdout);
    assert.match(String(r.json.msg), /check the kubeconfig/);
  });

  it('a NAD whose spec.config is not a string is code 7 naming it', async (t) => {
    const w = world(t);
    api.put({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'objcfg', namespace: 'default' }, spec: { config: { type: 'bridge' } } });
    const env = w.pod('objcfg', { [NETWORKS]: 'objcfg' }, 'oc1');
    const r = await cniAsync('ADD', w.conf, env);
    assert.equal(r.json.code, 7);
    assert.match(String(r.json.msg), /default\/objcfg: spec.config must be a string/);
  });
});

