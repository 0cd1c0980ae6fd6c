// Integration: what a namespace user writes cannot make macmux run itself (issue 12, finding 1) or use another namespace's networks (finding 6).
import { describe, it, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startApiServer, type ApiServer } from '../apiserver/server';
import { BINARY, Sandbox, cniAsync, linkNames, links, macmuxConf, type RunResult } from './harness';
import { decodeHolding } from '../../src/mac/holding';
import { deviceName } from '../../src/util/names';

const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
const DEFAULT_NETWORK = 'v1.multus-cni.io/default-network';
const MACNS = 'kube-system';
const RANGE = { rangeStart: '02:ab:00:00:00:00', rangeEnd: '02:ab:00:00:00:ff', blockSize: 16 };
let api: ApiServer;

before(async () => {
  api = await startApiServer({ namespaces: ['default', MACNS, 'other', 'infra'] });
});
after(async () => api?.stop());

interface World {
  sb: Sandbox;
  conf: Record<string, unknown>;
  /** binDir: a plugin dir holding `macmux` (a symlink to the binary under test, as /opt/cni/bin holds it), searched before CNI_PATH. */
  bin: string;
  /** Where the payload of the NAD would write, were it run. */
  pwned: string;
  pod(name: string, annotations: Record<string, string>, cid: string, extraArgs?: string): Record<string, string>;
  nad(namespace: string, name: string, config: Record<string, unknown>): void;
  bridgeNad(namespace: string, name: string, subnet: string): void;
}

function world(t: TestContext, extra: Record<string, unknown> = {}): World {
  const sb = new Sandbox();
  t.after(() => sb.cleanup());
  api.clearRequests();
  api.clearFaults();
  api.allowAll();
  for (const cm of api.list('ConfigMap', MACNS)) api.remove('ConfigMap', MACNS, cm.metadata!.name!);
  const bin = join(sb.dir, 'bin');
  mkdirSync(bin);
  symlinkSync(BINARY, join(bin, 'macmux'));
  const conf = macmuxConf(sb, '1.0.0', [], { kubeconfig: api.kubeconfig, binDir: bin, confDir: join(sb.dir, 'net.d'), nodeName: `trust-${sb.id}`, macPool: RANGE, ...extra });
  const w: World = {
    sb,
    conf,
    bin,
    pwned: join(sb.dir, 'pwned'),
    pod(name, annotations, cid, extraArgs = '') {
      const obj = api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `${name}-${sb.id}`, namespace: 'default', annotations } });
      return { ...sb.env(cid), CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${name}-${sb.id};K8S_POD_INFRA_CONTAINER_ID=${cid};K8S_POD_UID=${obj.metadata!.uid!}${extraArgs}` };
    },
    nad(namespace, name, config) {
      api.put({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name, namespace }, spec: { config: JSON.stringify(config) } });
    },
    bridgeNad(namespace, name, subnet) {
      w.nad(namespace, name, { cniVersion: '1.0.0', name, type: 'bridge', bridge: sb.bridgeName(name.slice(0, 3)), ipam: { type: 'host-local', subnet, dataDir: sb.ipamDir } });
    },
  };
  return w;
}

/** The NAD: macmux as the delegate, with binDir /bin and a "plugin" sh that runs `id` as root. */
function selfNad(w: World, type = 'macmux'): Record<string, unknown> {
  return {
    cniVersion: '1.0.0',
    name: 'evil',
    type,
    binDir: '/bin',
    cacheDir: join(w.sb.dir, 'nested-cache'),
    logFile: join(w.sb.dir, 'nested.log'),
    delegates: [{ name: 'x', type: 'sh', masterPlugin: true, x: `$(id > ${w.pwned})` }],
  };
}

const nadGets = () => api.requests.filter((r) => r.resource === 'network-attachment-definitions');
const cmWrites = () => api.requests.filter((r) => r.resource === 'configmaps' && r.method !== 'GET');
/** MACs some owner still holds (reserved or active) in the ledger ConfigMaps. */
function heldMacs(): string[] {
  return api.list('ConfigMap', MACNS).flatMap((cm) =>
    Object.entries((cm as unknown as { data?: Record<string, string> }).data ?? {}).flatMap(([k, v]) => {
      const h = /^[0-9a-f]{12}$/.test(k) ? decodeHolding(v) : undefined;
      return h && h.state !== 'released' ? [`${k} ${h.owner} ${h.state}`] : [];
    }),
  );
}

function assertRefused(r: RunResult, ...mention: RegExp[]): void {
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.equal(r.json.code, 7, r.stdout);
  for (const m of mention) assert.match(String(r.json.msg), m);
}

function assertNothingLeft(w: World): void {
  assert.equal(existsSync(w.pwned), false, 'the payload never ran');
  assert.deepEqual(linkNames(w.sb.ns), ['lo'], 'no link in the netns');
  assert.deepEqual(w.sb.cacheEntries(), [], 'no cache entry');
  assert.deepEqual(heldMacs(), [], 'no MAC held in the ledger');
}

describe('no self-delegation (finding 1)', () => {
  it('the issue\'s NAD of type macmux is refused before any MAC is taken or delegate runs', async (t) => {
    const w = world(t);
    w.nad('default', 'evil', selfNad(w));
    const env = w.pod('self', { [NETWORKS]: 'evil' }, 's1');
    const r = await cniAsync('ADD', w.conf, env);
    assert.equal(existsSync(w.pwned), false, 'the payload never ran');
    assertRefused(r, /NetworkAttachmentDefinition default\/evil/, /plugin "macmux": its type is "macmux"/, /never runs itself as a delegate/);
    assertNothingLeft(w);
    assert.deepEqual(cmWrites(), [], 'the ledger was never written');
    assert.equal(existsSync(join(w.sb.dir, 'nested-cache')), false, 'no nested cacheDir created');
  });

  it('macmux as the IPAM plugin of a NAD, and under another name (same inode), are refused the same way', async (t) => {
    const w = world(t);
    symlinkSync(BINARY, join(w.bin, 'innocent'));
    // The bridge plugin hands its whole config to its IPAM plugin: a build before the fix would take this cacheDir.
    w.nad('default', 'ipam', { cniVersion: '1.0.0', name: 'ipam', type: 'bridge', bridge: w.sb.bridgeName('i'), cacheDir: join(w.sb.dir, 'nested-cache'), ipam: selfNad(w) });
    w.nad('default', 'alias', selfNad(w, 'innocent'));
    const r1 = await cniAsync('ADD', w.conf, w.pod('ipam', { [NETWORKS]: 'ipam' }, 's2'));
    assertRefused(r1, /NetworkAttachmentDefinition default\/ipam: IPAM plugin of bridge "macmux"/);
    const r2 = await cniAsync('ADD', w.conf, w.pod('alias', { [NETWORKS]: 'alias' }, 's3'));
    assertRefused(r2, /NetworkAttachmentDefinition default\/alias: plugin "innocent": .*innocent is the macmux executable itself/);
    assertNothingLeft(w);
    assert.deepEqual(cmWrites(), []);
  });

  it('a renamed copy of macmux run as a delegate finds the mark in its environment and refuses; the ADD rolls back', async (t) => {
    const w = world(t);
    copyFileSync(BINARY, join(w.bin, 'copied'));
    chmodSync(join(w.bin, 'copied'), 0o755);
    w.nad('default', 'copy', selfNad(w, 'copied'));
    const r = await cniAsync('ADD', w.conf, w.pod('copy', { [NETWORKS]: 'copy' }, 's4'));
    assert.equal(existsSync(w.pwned), false, 'the payload never ran');
    assertRefused(r, /copied \(evil\) ADD: macmux refuses to run as a delegate of macmux: MACMUX_DELEGATE is set/);
    assertNothingLeft(w);
    // As the IPAM plugin of a bridge: refused on ADD; on the rollback's DEL it does nothing, so the bridge plugin still deletes its link.
    w.nad('default', 'copyipam', { cniVersion: '1.0.0', name: 'copyipam', type: 'bridge', bridge: w.sb.bridgeName('k'), cacheDir: join(w.sb.dir, 'nested-cache'), ipam: { ...selfNad(w, 'copied'), name: undefined } });
    const r2 = await cniAsync('ADD', w.conf, w.pod('copyipam', { [NETWORKS]: 'copyipam' }, 's4b'));
    assert.equal(existsSync(w.pwned), false, 'the payload never ran');
    assertRefused(r2, /macmux refuses to run as a delegate of macmux/);
    assertNothingLeft(w);
    assert.equal(existsSync(join(w.sb.dir, 'nested-cache')), false, 'the copy read no config');
  });

  it('the node\'s own static delegates and clusterNetwork may not be macmux either', async (t) => {
    const w = world(t);
    const env = w.sb.env('s5');
    const nested = { ...w.conf, delegates: [(w.conf.delegates as unknown[])[0], selfNad(w)] };
    assertRefused(await cniAsync('ADD', nested, env), /network config: delegate "evil": plugin "macmux"/);
    const file = join(w.sb.dir, 'cluster.conflist');
    writeFileSync(file, JSON.stringify({ cniVersion: '1.0.0', name: 'inner', plugins: [{ ...selfNad(w), name: undefined, cniVersion: undefined }] }));
    const { delegates: _d, ...rest } = w.conf;
    assertRefused(await cniAsync('ADD', { ...rest, clusterNetwork: file }, env), new RegExp(`network config: clusterNetwork ${file}: plugin "macmux"`));
    assertNothingLeft(w);
  });

  it('a NAD with an empty spec.config cannot pick the macmux conflist in confDir', async (t) => {
    const w = world(t, { globalNamespaces: ['default'] }); // file networks are for NADs of global namespaces
    mkdirSync(String(w.conf.confDir));
    writeFileSync(join(String(w.conf.confDir), '00-macmux.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'macmux', plugins: [selfNad(w)] }));
    api.put({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'macmux', namespace: 'default' }, spec: { config: '' } });
    const r = await cniAsync('ADD', w.conf, w.pod('file', { [NETWORKS]: 'macmux' }, 's6'));
    assertRefused(r, /NetworkAttachmentDefinition default\/macmux: plugin "macmux"/);
    assertNothingLeft(w);
  });

  it('DEL of a cache entry written before the fix skips the macmux delegate with a logged error and succeeds', async (t) => {
    const w = world(t);
    w.bridgeNad('default', 'blue', '10.247.0.0/24');
    const env = w.pod('old', { [NETWORKS]: 'blue' }, 's7');
    const add = await cniAsync('ADD', w.conf, env);
    assert.equal(add.status, 0, add.stdout);
    // Give the cached entry a macmux attachment, as an ADD before the fix would have cached it.
    const entry = w.sb.cacheEntry('s7') as { attachments: Array<Record<string, unknown>> };
    const evil = selfNad(w);
    entry.attachments.push({ name: 'default/evil', nad: 'default/evil', ifName: deviceName('evil'), cluster: false, network: { name: 'evil', cniVersion: '1.0.0', plugins: [evil] }, result: { cniVersion: '1.1.0', interfaces: [], ips: [], routes: [], dns: {} } });
    writeFileSync(join(w.sb.cacheDir, 'cache', 's7'), JSON.stringify(entry));
    const d = await cniAsync('DEL', { ...w.conf, logLevel: 1 }, env);
    assert.equal(existsSync(w.pwned), false, 'the payload never ran');
    assert.equal(d.status, 0, d.stdout + d.stderr);
    assert.match(d.stderr, /macmux \(evil\) DEL skipped: plugin "macmux": its type is "macmux"/);
    assertNothingLeft(w);
  });
});

describe('annotation fields that reach past the ledger', () => {
  it('a mac in cni-args is a requested MAC: it cannot take a MAC another pod holds, even where pool MACs are not assigned', async (t) => {
    const w = world(t, { globalNamespaces: ['infra'] });
    w.bridgeNad('default', 'blue', '10.244.0.0/24');
    const a = w.pod('holder', { [NETWORKS]: 'blue' }, 'm1');
    assert.equal((await cniAsync('ADD', w.conf, a)).status, 0);
    const held = links(w.sb.ns).find((l) => l.ifname === deviceName('blue'))!.address;
    assert.ok(held.startsWith('02:ab:00'), `a pool MAC: ${held}`);
    // Pod B: in a namespace the pool ignores, on bridge + tuning (which sets args.cni.mac), asking for A's MAC through cni-args.
    const ns = api.get('Namespace', undefined, 'infra')!;
    api.put({ ...ns, metadata: { ...ns.metadata, labels: { 'macmux.io/mac-assignment': 'ignore' } } });
    t.after(() => api.put(ns));
    w.nad('infra', 'tun', { cniVersion: '1.0.0', name: 'tun', plugins: [{ type: 'bridge', bridge: w.sb.bridgeName('t'), ipam: { type: 'host-local', subnet: '10.243.0.0/24', dataDir: w.sb.ipamDir } }, { type: 'tuning' }] });
    const sb2 = new Sandbox();
    t.after(() => sb2.cleanup());
    const b = api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `taker-${sb2.id}`, namespace: 'infra', annotations: { [NETWORKS]: JSON.stringify([{ name: 'tun', 'cni-args': { mac: held } }]) } } });
    const env = { ...sb2.env('m2'), CNI_ARGS: `K8S_POD_NAMESPACE=infra;K8S_POD_NAME=${b.metadata!.name!};K8S_POD_UID=${b.metadata!.uid!}` };
    const r = await cniAsync('ADD', { ...w.conf, cacheDir: sb2.cacheDir }, env);
    assert.deepEqual(links(sb2.ns).map((l) => l.address).filter((m) => m === held), [], 'the held MAC is not on a second pod');
    assert.equal(r.status, 1, r.stdout);
    assert.equal(r.json.code, 100, r.stdout);
    assert.match(String(r.json.msg), new RegExp(`MAC ${held} is already held by default/holder-${w.sb.id}/`));
    assert.deepEqual(linkNames(sb2.ns), ['lo']);
    assert.equal((await cniAsync('DEL', w.conf, a)).status, 0);
  });
});

describe('keys a Go plugin reads as "mac" (review of finding 1)', () => {
  // Go's encoding/json matches keys ignoring case (and folds U+212A, U+017F): "MAC" reaches tuning's mac unchecked.
  const variants: Array<[string, (held: string) => { annotation: Record<string, unknown>; plugin: Record<string, unknown> }]> = [
    ['cni-args "MAC"', (held) => ({ annotation: { 'cni-args': { MAC: held } }, plugin: { type: 'tuning' } })],
    ['cni-args "mac" beside "MAC"', (held) => ({ annotation: { 'cni-args': { mac: '02:cc:00:00:00:01', MAC: held } }, plugin: { type: 'tuning' } })],
    ['a NAD plugin\'s "Mac"', (held) => ({ annotation: {}, plugin: { type: 'tuning', Mac: held } })],
    ['a NAD plugin\'s args "CNI"', (held) => ({ annotation: {}, plugin: { type: 'tuning', args: { cni: {}, CNI: { mac: held } } } })],
    ['a NAD plugin\'s "ARGS"', (held) => ({ annotation: {}, plugin: { type: 'tuning', ARGS: { cni: { mac: held } } } })],
    ['a NAD plugin\'s args.cni "mAc"', (held) => ({ annotation: {}, plugin: { type: 'tuning', args: { cni: { mAc: held } } } })],
  ];

  it('are refused with code 7 before any delegate runs, in a namespace the pool ignores, so no pod carries another pod\'s MAC', async (t) => {
    const w = world(t, { globalNamespaces: ['infra'] });
    w.bridgeNad('default', 'blue', '10.244.0.0/24');
    const a = w.pod('holder', { [NETWORKS]: 'blue' }, 'k1');
    assert.equal((await cniAsync('ADD', w.conf, a)).status, 0);
    const held = links(w.sb.ns).find((l) => l.ifname === deviceName('blue'))!.address;
    const ns = api.get('Namespace', undefined, 'infra')!;
    api.put({ ...ns, metadata: { ...ns.metadata, labels: { 'macmux.io/mac-assignment': 'ignore' } } });
    t.after(() => api.put(ns));
    for (const [i, [what, make]] of variants.entries()) {
      const { annotation, plugin } = make(held);
      w.nad('infra', `tun${i}`, { cniVersion: '1.0.0', name: `tun${i}`, plugins: [{ type: 'bridge', bridge: w.sb.bridgeName(`t${i}`), ipam: { type: 'host-local', subnet: `10.243.${i}.0/24`, dataDir: w.sb.ipamDir } }, plugin] });
      const sb2 = new Sandbox();
      t.after(() => sb2.cleanup());
      const b = api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `fold${i}-${sb2.id}`, namespace: 'infra', annotations: { [NETWORKS]: JSON.stringify([{ name: `tun${i}`, ...annotation }]) } } });
      const env = { ...sb2.env(`k${i + 2}`), CNI_ARGS: `K8S_POD_NAMESPACE=infra;K8S_POD_NAME=${b.metadata!.name!};K8S_POD_UID=${b.metadata!.uid!}` };
      const r = await cniAsync('ADD', { ...w.conf, cacheDir: sb2.cacheDir }, env);
      assert.deepEqual(links(sb2.ns).map((l) => l.address).filter((m) => m === held), [], `${what}: the held MAC is not on a second pod`);
      assert.equal(r.status, 1, `${what}: ${r.stdout}`);
      assert.equal(r.json.code, 7, `${what}: ${r.stdout}`);
      assert.match(String(r.json.msg), /spelled differently/, what);
      assert.deepEqual(linkNames(sb2.ns), ['lo'], what);
      assert.deepEqual(sb2.cacheEntries(), [], what);
    }
    assert.equal((await cniAsync('DEL', w.conf, a)).status, 0);
  });
});

describe('NAD fields that name a path', () => {
  it('a network name that is a path (host-local keeps its leases in a dir of that name) is refused before any MAC is taken', async (t) => {
    const w = world(t);
    w.nad('default', 'esc', { cniVersion: '1.0.0', name: `../../../..${w.sb.dir}/escaped`, type: 'bridge', bridge: w.sb.bridgeName('e'), ipam: { type: 'host-local', subnet: '10.241.0.0/24' } });
    const r = await cniAsync('ADD', w.conf, w.pod('esc', { [NETWORKS]: 'esc' }, 'p1'));
    assertRefused(r, /NetworkAttachmentDefinition default\/esc spec\.config is invalid: \$\.name: must match pattern/);
    assert.deepEqual(cmWrites(), [], 'the ledger was never written');
    assert.equal(existsSync(join(w.sb.dir, 'escaped')), false);
    assertNothingLeft(w);
  });
});

describe('namespace isolation (finding 6)', () => {
  const refusal = (w: World, pod: string) => [new RegExp(`pod default/${pod}-${w.sb.id} may not use NetworkAttachmentDefinition other/blue`), /globalNamespaces/, /namespaceIsolation: false/];

  it('a NAD of another namespace is refused in every form, without a single NAD request, and nothing is left', async (t) => {
    const w = world(t);
    w.bridgeNad('other', 'blue', '10.246.0.0/24');
    w.bridgeNad('default', 'mine', '10.245.0.0/24');
    const forms: Array<[string, Record<string, string>]> = [
      ['text', { [NETWORKS]: 'mine, other/blue' }],
      ['json', { [NETWORKS]: JSON.stringify([{ name: 'mine' }, { name: 'blue', namespace: 'other' }]) }],
      ['dflt', { [DEFAULT_NETWORK]: 'other/blue' }],
    ];
    for (const [i, [pod, annotations]] of forms.entries()) {
      api.clearRequests();
      const r = await cniAsync('ADD', w.conf, w.pod(pod, annotations, `n${i}`));
      assertRefused(r, ...refusal(w, pod));
      assert.deepEqual(nadGets(), [], `${pod}: no NAD was fetched`);
      assert.deepEqual(cmWrites(), [], `${pod}: the ledger was never written`);
      assertNothingLeft(w);
    }
  });

  it('hot-plug of a NAD of another namespace is refused before it is fetched; the running pod keeps its networks', async (t) => {
    const w = world(t);
    w.bridgeNad('other', 'blue', '10.246.0.0/24');
    w.bridgeNad('default', 'mine', '10.245.0.0/24');
    const env = w.pod('hot', { [NETWORKS]: 'mine' }, 'h1');
    assert.equal((await cniAsync('ADD', w.conf, env)).status, 0);
    const pod = api.get('Pod', 'default', `hot-${w.sb.id}`)!;
    api.put({ ...pod, metadata: { ...pod.metadata, annotations: { ...pod.metadata!.annotations, [NETWORKS]: 'mine, other/blue' } } });
    api.clearRequests();
    const before = heldMacs();
    const r = await cniAsync('ADD', w.conf, { ...env, CNI_ARGS: `${env.CNI_ARGS};K8S_POD_NETWORK=other/blue` });
    assertRefused(r, ...refusal(w, 'hot'));
    assert.deepEqual(nadGets(), []);
    assert.deepEqual(linkNames(w.sb.ns), ['eth0', deviceName('mine'), 'lo'].sort());
    assert.deepEqual(heldMacs(), before);
    assert.equal((await cniAsync('DEL', w.conf, env)).status, 0);
    assertNothingLeft(w);
  });

  it('a NAD with an empty spec.config of the pod\'s own namespace cannot reach the node\'s network files; one of globalNamespaces can', async (t) => {
    const w = world(t, { globalNamespaces: ['infra'] });
    const confDir = String(w.conf.confDir);
    mkdirSync(confDir);
    // The operator's network file, meant for NADs of infra only.
    writeFileSync(join(confDir, '50-priv.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'priv', type: 'bridge', bridge: w.sb.bridgeName('p'), ipam: { type: 'host-local', subnet: '10.240.0.0/24', dataDir: w.sb.ipamDir } }));
    api.put({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'priv', namespace: 'infra' }, spec: { config: '' } });
    // The tenant's copy in its own namespace, naming the same file.
    api.put({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'priv', namespace: 'default' }, spec: { config: '' } });
    const r = await cniAsync('ADD', w.conf, w.pod('tenant', { [NETWORKS]: 'priv' }, 'f1'));
    assertRefused(r, /NetworkAttachmentDefinition default\/priv: spec\.config is empty/, /only NADs of globalNamespaces may use a network file/);
    assertNothingLeft(w);
    const env = w.pod('ops', { [NETWORKS]: 'infra/priv' }, 'f2');
    const ok = await cniAsync('ADD', w.conf, env);
    assert.equal(ok.status, 0, ok.stdout);
    assert.deepEqual(linkNames(w.sb.ns), ['eth0', deviceName('priv'), 'lo'].sort());
    assert.equal((await cniAsync('DEL', w.conf, env)).status, 0);
    assertNothingLeft(w);
  });

  for (const [what, extra] of [['globalNamespaces lists it', { globalNamespaces: ['infra', 'other'] }], ['namespaceIsolation is false', { namespaceIsolation: false }]] as const) {
    it(`a NAD of another namespace is used when ${what}`, async (t) => {
      const w = world(t, extra);
      w.bridgeNad('other', 'blue', '10.246.0.0/24');
      const env = w.pod('ok', { [NETWORKS]: JSON.stringify([{ name: 'blue', namespace: 'other' }]) }, 'g1');
      const r = await cniAsync('ADD', w.conf, env);
      assert.equal(r.status, 0, r.stdout);
      assert.deepEqual(linkNames(w.sb.ns), ['eth0', deviceName('blue'), 'lo'].sort());
      assert.equal((await cniAsync('DEL', w.conf, env)).status, 0);
      assertNothingLeft(w);
    });
  }
});
