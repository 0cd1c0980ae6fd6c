// Integration: macmux driven through the real libcni 1.1.2 (test/libcni/driver), exactly as containerd, CRI-O and podman run it.
//
// The driver loads a conflist whose one plugin is macmux, and calls AddNetworkList, CheckNetworkList,
// DelNetworkList and GetNetworkListCachedResult. libcni injects the runtime's capability args (mac,
// portMappings) as runtimeConfig, passes its cached result as prevResult to CHECK and DEL, and keeps
// its own result cache (cacheDir/results/<network>-<container>-<ifname>). scripts/build-libcni-driver.sh
// builds the driver into .build-out/libcni-driver (MACMUX_LIBCNI_DRIVER points elsewhere); scripts/test.sh
// runs it first, and this file fails when the driver is missing.
import { describe, it, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startApiServer, type ApiServer } from '../apiserver/server';
import { BINARY, PLUGIN_DIR, ROOT, Sandbox, links, linkNames, ipv4, sh, type Link } from './harness';
import { decodeHolding, keyMac } from '../../src/mac/holding';
import { deviceName } from '../../src/util/names';

const DRIVER = process.env.MACMUX_LIBCNI_DRIVER ?? join(ROOT, '.build-out', 'libcni-driver');
const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
const STATUS = 'k8s.v1.cni.cncf.io/network-status';
const LIST = 'macmux-net';
const POOL = { rangeStart: '02:ab:00:00:00:00', rangeEnd: '02:ab:00:00:0f:ff', blockSize: 16 };
const [GREEN, BLUE, RED] = ['green', 'blue', 'red'].map(deviceName) as [string, string, string];
const ETH0_MAC = '02:e0:00:00:00:01';
/** A requested MAC of its own for each pod: a released MAC stays its owner's for the grace period. */
let macSeq = 0;
const requestedMac = () => `02:42:${((process.pid >> 8) & 255).toString(16).padStart(2, '0')}:${(process.pid & 255).toString(16).padStart(2, '0')}:00:${(++macSeq).toString(16).padStart(2, '0')}`;
const PORTS = [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }];
const PODMAN_MAC = '02:00:00:00:be:ef';

let api: ApiServer;
before(async () => {
  assert.ok(existsSync(DRIVER), `the libcni driver ${DRIVER} is missing: run scripts/build-libcni-driver.sh (needs golang-go and golang-github-appc-cni-dev, installed by scripts/setup.sh)`);
  assert.ok(existsSync(BINARY), `${BINARY} missing: run npm run build`);
  for (const p of ['bridge', 'macvlan', 'host-local', 'tuning']) assert.ok(existsSync(`${PLUGIN_DIR}/${p}`), `plugin ${p} missing from ${PLUGIN_DIR}`);
  api = await startApiServer();
});
after(async () => api?.stop());

interface DriverRun {
  status: number;
  stdout: string;
  stderr: string;
  /** stdout parsed: the result, null, or the error object ({error, code?, msg?, details?}). */
  json: Record<string, unknown> | null;
}

interface Call {
  cid: string;
  ifName?: string;
  netns?: string;
  /** RuntimeConf.Args, as a CNI_ARGS string. */
  args?: string;
  /** RuntimeConf.CapabilityArgs. */
  capArgs?: Record<string, unknown>;
}

/**
 * One test's runtime: a sandbox (netns, host bridges, dirs), a plugin dir holding `macmux` and the
 * port-mapping spy, libcni's cache dir, and the conflist file libcni loads.
 */
class Runtime {
  readonly sb = new Sandbox();
  readonly bin = join(this.sb.dir, 'bin');
  readonly libcniCache = join(this.sb.dir, 'libcni');
  readonly conflist = join(this.sb.dir, `${LIST}.conflist`);
  /** Where the spy writes the stdin it got, per verb. */
  readonly spyLog = join(this.sb.dir, 'spy');
  readonly lower: string;
  readonly node: string;
  private readonly open = new Set<Promise<unknown>>();

  constructor(readonly v: string) {
    mkdirSync(this.bin);
    symlinkSync(BINARY, join(this.bin, 'macmux'));
    // A chained plugin declaring portMappings: records its stdin, then passes prevResult on (tuning with nothing to tune).
    writeFileSync(join(this.bin, 'spy-portmap'), `#!/bin/sh\nin=$(cat)\nprintf '%s' "$in" > ${this.spyLog}.$CNI_COMMAND\nprintf '%s' "$in" | exec ${PLUGIN_DIR}/tuning\n`, { mode: 0o755 });
    this.lower = this.sb.bridge('l');
    this.node = `node-${this.sb.id}`;
  }

  /**
   * Writes the conflist: macmux declaring mac and portMappings, with the Kubernetes API, the MAC ledger,
   * and static delegates: the cluster network (bridge, tuning taking the mac capability, the spy taking
   * portMappings) and green, a macvlan on a host bridge.
   */
  write(): void {
    const ipam = (subnet: string) => ({ type: 'host-local', subnet, dataDir: this.sb.ipamDir });
    const macmux = {
      type: 'macmux',
      capabilities: { mac: true, portMappings: true },
      cacheDir: this.sb.cacheDir,
      kubeconfig: api.kubeconfig,
      nodeName: this.node,
      macPool: POOL,
      delegates: [
        {
          name: 'cluster',
          masterPlugin: true,
          plugins: [
            { type: 'bridge', bridge: this.sb.bridgeName('c'), isGateway: true, ipMasq: false, ipam: ipam('10.236.0.0/24') },
            { type: 'tuning', capabilities: { mac: true } },
            { type: 'spy-portmap', capabilities: { portMappings: true } },
          ],
        },
        { name: 'green', type: 'macvlan', master: this.lower, mode: 'bridge', ipam: ipam('10.237.0.0/24') },
      ],
    };
    writeFileSync(this.conflist, JSON.stringify({ cniVersion: this.v, name: LIST, plugins: [macmux] }));
  }

  /** A NAD in namespace default. */
  nad(name: string, config: Record<string, unknown>): void {
    api.put({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name, namespace: 'default' }, spec: { config: JSON.stringify({ cniVersion: this.v, name, ...config }) } });
  }

  /** blue: a bridge NAD taking the mac capability; red: a macvlan NAD on the host bridge. */
  nads(): void {
    this.nad('blue', { type: 'bridge', bridge: this.sb.bridgeName('b'), capabilities: { mac: true }, ipam: { type: 'host-local', subnet: '10.238.0.0/24', dataDir: this.sb.ipamDir } });
    this.nad('red', { type: 'macvlan', master: this.lower, mode: 'bridge', capabilities: { mac: true }, ipam: { type: 'host-local', subnet: '10.239.0.0/24', dataDir: this.sb.ipamDir } });
  }

  /** Creates pod `name` in default; returns its full name and the CNI_ARGS kubelet's runtime sends for sandbox `cid`. */
  pod(name: string, annotations: Record<string, string>, cid: string): { name: string; args: string } {
    const full = `${name}-${this.sb.id}`;
    const obj = api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: full, namespace: 'default', annotations } });
    return { name: full, args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${full};K8S_POD_INFRA_CONTAINER_ID=${cid};K8S_POD_UID=${obj.metadata!.uid!}` };
  }

  run(verb: 'add' | 'check' | 'del' | 'cached', c: Call): Promise<DriverRun> {
    const argv = ['-conflist', this.conflist, '-plugin-dirs', `${this.bin}:${PLUGIN_DIR}`, '-cache-dir', this.libcniCache,
      '-container-id', c.cid, '-netns', c.netns ?? this.sb.netnsPath, '-ifname', c.ifName ?? 'eth0',
      ...(c.args ? ['-args', c.args] : []), ...(c.capArgs ? ['-cap-args', JSON.stringify(c.capArgs)] : []), verb];
    const p = new Promise<DriverRun>((resolve, reject) => {
      // Nothing from the test's environment reaches libcni or macmux but PATH.
      const child = spawn(DRIVER, argv, { env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', reject);
      child.on('close', (status) => {
        const stdout = Buffer.concat(out).toString('utf8');
        const stderr = Buffer.concat(err).toString('utf8');
        let json: Record<string, unknown> | null = null;
        if (stdout.trim()) {
          try {
            json = JSON.parse(stdout) as Record<string, unknown> | null;
          } catch {
            return reject(new Error(`the driver printed non-JSON on stdout: ${JSON.stringify(stdout)} (stderr: ${stderr})`));
          }
        }
        resolve({ status: status ?? -1, stdout, stderr, json });
      });
    });
    this.open.add(p);
    void p.finally(() => this.open.delete(p)).catch(() => undefined);
    return p;
  }

  /** libcni's cache file for (container, ifname), or undefined. */
  libcniEntry(cid: string, ifName = 'eth0'): Record<string, unknown> | undefined {
    const f = join(this.libcniCache, 'results', `${LIST}-${cid}-${ifName}`);
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>) : undefined;
  }

  spy(verb: string): Record<string, unknown> {
    return JSON.parse(readFileSync(`${this.spyLog}.${verb}`, 'utf8')) as Record<string, unknown>;
  }

  /** MAC → holding, for the MACs pod `podName` holds (not released) in the ledger ConfigMaps. */
  liveHoldings(podName: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const cm of api.list('ConfigMap', 'kube-system') as unknown as Array<{ metadata: { name: string }; data?: Record<string, string> }>) {
      if (!cm.metadata.name.startsWith('macmux-')) continue;
      for (const [k, v] of Object.entries(cm.data ?? {})) {
        const h = decodeHolding(v);
        if (h && h.state !== 'released' && h.owner.startsWith(`default/${podName}/`)) out.set(keyMac(k), h.owner);
      }
    }
    return out;
  }

  /** The node journal's entries that are not released. */
  liveJournal(): string[] {
    const f = join(this.sb.cacheDir, 'ledger', 'journal.json');
    if (!existsSync(f)) return [];
    const j = JSON.parse(readFileSync(f, 'utf8')) as { entries: Record<string, { owner: string; state: string }>; intents: unknown[] };
    return [...Object.entries(j.entries).filter(([, e]) => e.state !== 'released').map(([m, e]) => `${m} ${e.owner} ${e.state}`), ...j.intents.map((i) => `intent ${JSON.stringify(i)}`)];
  }

  async cleanup(): Promise<void> {
    await Promise.allSettled([...this.open]);
    this.sb.cleanup();
  }
}

function runtime(t: TestContext, v: string): Runtime {
  const rt = new Runtime(v);
  t.after(() => rt.cleanup());
  api.clearFaults();
  api.allowAll();
  rt.write();
  return rt;
}

const byName = (ns: string) => new Map<string, Link>(links(ns).map((l) => [l.ifname, l]));

function ok(r: DriverRun, what: string): void {
  assert.equal(r.status, 0, `${what}: exit ${r.status}; stdout=${r.stdout} stderr=${r.stderr}`);
}

/**
 * A failed call: exit 1 and one error object whose code is `code` (undefined: libcni's own error, which
 * has none; 'delegate': some code a delegate chose, carried through macmux and libcni).
 */
function failed(r: DriverRun, code: number | undefined | 'delegate', ...fragments: string[]): Record<string, unknown> {
  assert.equal(r.status, 1, `exit status; stdout=${r.stdout} stderr=${r.stderr}`);
  const e = r.json!;
  if (code === 'delegate') assert.equal(typeof e.code, 'number', `a code in ${r.stdout}`);
  else assert.equal(e.code, code, `code in ${r.stdout}`);
  for (const f of fragments) assert.ok(String(e.error).includes(f), `error ${JSON.stringify(e.error)} should mention ${JSON.stringify(f)}`);
  assert.ok(!/\n\s+at /.test(r.stdout), 'no stack trace on stdout');
  return e;
}

/** Nothing of container `cid` is left: no link in the netns (if it exists), no macmux or libcni cache, no live MAC. */
function assertNothingLeft(rt: Runtime, cid: string, podName: string, netnsGone = false): void {
  if (!netnsGone) assert.deepEqual(linkNames(rt.sb.ns), ['lo'], 'no link left in the netns');
  assert.deepEqual(rt.sb.cacheEntries().filter((f) => !f.startsWith('.')), [], 'no macmux cache entry');
  assert.equal(rt.libcniEntry(cid), undefined, 'no libcni cache file');
  assert.deepEqual(rt.sb.ipamLeases(), [], 'no IP lease');
  assert.deepEqual([...rt.liveHoldings(podName)], [], 'no MAC held in the ledger ConfigMaps');
  assert.deepEqual(rt.liveJournal(), [], 'no MAC held in the node journal');
}

for (const v of ['0.3.1', '0.4.0', '1.0.0']) {
  describe(`through libcni, cniVersion ${v}`, () => {
    it('AddNetworkList: static and NAD attachments, eth0 gets the runtime MAC, portMappings reach the cluster network, libcni caches the result', async (t) => {
      const rt = runtime(t, v);
      rt.nads();
      const RED_MAC = requestedMac();
      const pod = rt.pod('a', { [NETWORKS]: JSON.stringify([{ name: 'blue' }, { name: 'red', mac: RED_MAC }]) }, 'a1');
      const capArgs = { mac: ETH0_MAC, portMappings: PORTS };
      const r = await rt.run('add', { cid: 'a1', args: pod.args, capArgs });
      ok(r, 'ADD');

      // The netns, read with ip.
      assert.deepEqual(linkNames(rt.sb.ns), ['eth0', BLUE, GREEN, RED, 'lo'].sort());
      const l = byName(rt.sb.ns);
      assert.equal(l.get('eth0')?.address, ETH0_MAC, 'eth0 has the MAC the runtime passed as the mac capability');
      assert.equal(l.get(RED)?.address, RED_MAC, 'red has the MAC the pod requested');
      const blueMac = l.get(BLUE)!.address;
      assert.match(blueMac, /^02:ab:00:00:0[0-9a-f]:[0-9a-f]{2}$/, 'blue has a MAC from the pool');
      assert.deepEqual(ipv4(l.get('eth0')), ['10.236.0.2/24']);
      assert.deepEqual(ipv4(l.get(GREEN)), ['10.237.0.2/24']);
      assert.deepEqual(ipv4(l.get(BLUE)), ['10.238.0.2/24']);
      assert.deepEqual(ipv4(l.get(RED)), ['10.239.0.2/24']);

      // The result libcni returned: eth0's, in the conflist's version.
      const res = r.json!;
      assert.equal(res.cniVersion, v);
      const ifaces = res.interfaces as Array<{ name: string; mac: string; sandbox?: string }>;
      assert.deepEqual(ifaces.filter((i) => i.sandbox).map((i) => [i.name, i.mac, i.sandbox]), [['eth0', ETH0_MAC, rt.sb.netnsPath]]);
      assert.deepEqual((res.ips as Array<{ address: string }>).map((i) => i.address), ['10.236.0.2/24']);

      // The spy in the cluster conflist got portMappings, and only what it declared.
      const spied = rt.spy('ADD');
      assert.deepEqual(spied.runtimeConfig, { portMappings: PORTS });
      assert.equal(spied.cniVersion, v);

      // libcni's cache: the runtime's args and capability args, and exactly the result it returned.
      const entry = rt.libcniEntry('a1')!;
      assert.ok(entry, 'libcni wrote its cache file');
      assert.equal(entry.kind, 'cniCacheV1');
      assert.equal(entry.containerId, 'a1');
      assert.equal(entry.ifName, 'eth0');
      assert.equal(entry.networkName, LIST);
      assert.deepEqual(entry.cniArgs, pod.args.split(';').map((p) => p.split('=')));
      assert.deepEqual(entry.capabilityArgs, capArgs);
      assert.deepEqual(entry.result, res);
      const cached = await rt.run('cached', { cid: 'a1', args: pod.args });
      ok(cached, 'GetNetworkListCachedResult');
      assert.deepEqual(cached.json, res);

      // macmux's side: its cache, the ledger and network-status agree with the netns.
      const mine = rt.sb.cacheEntry('a1') as { state: string; attachments: Array<{ name: string; ifName: string }> };
      assert.equal(mine.state, 'added');
      assert.deepEqual(mine.attachments.map((a) => [a.name, a.ifName]), [['cluster', 'eth0'], ['green', GREEN], ['default/blue', BLUE], ['default/red', RED]]);
      const held = rt.liveHoldings(pod.name);
      assert.equal(held.get(RED_MAC), `default/${pod.name}/red`);
      assert.equal(held.get(blueMac), `default/${pod.name}/blue`);
      assert.equal(held.get(l.get(GREEN)!.address), `default/${pod.name}/green`, 'the static secondary is in the ledger too');
      assert.equal(held.size, 3);
      const status = JSON.parse(api.get('Pod', 'default', pod.name)!.metadata!.annotations![STATUS]!) as Array<{ name: string; interface: string; mac: string }>;
      assert.deepEqual(status.map((s) => [s.name, s.interface, s.mac]), [
        ['cluster', 'eth0', ETH0_MAC], ['green', GREEN, l.get(GREEN)!.address], ['default/blue', BLUE, blueMac], ['default/red', RED, RED_MAC],
      ]);

      const d = await rt.run('del', { cid: 'a1', args: pod.args, capArgs });
      ok(d, 'DEL');
      assert.equal(d.stdout, '');
      if (v !== '0.3.1') assert.deepEqual(rt.spy('DEL').prevResult, res, 'libcni hands DEL its cached result, through macmux to the cluster network');
      assertNothingLeft(rt, 'a1', pod.name);
    });

    it('CheckNetworkList passes after ADD and reports macmux\'s CHECK failure once an interface is gone (0.3.1: libcni refuses CHECK)', async (t) => {
      const rt = runtime(t, v);
      rt.nads();
      const pod = rt.pod('c', { [NETWORKS]: 'blue,red' }, 'c1');
      ok(await rt.run('add', { cid: 'c1', args: pod.args }), 'ADD');
      const c1 = await rt.run('check', { cid: 'c1', args: pod.args });
      if (v === '0.3.1') {
        // libcni 1.1.2 refuses CHECK below 0.4.0 without running any plugin.
        failed(c1, undefined, 'configuration version "0.3.1" does not support the CHECK command');
        assert.equal(existsSync(`${rt.spyLog}.CHECK`), false, 'no plugin ran');
      } else {
        ok(c1, 'CHECK');
        assert.equal(c1.stdout, '');
        assert.deepEqual(rt.spy('CHECK').prevResult, rt.libcniEntry('c1')!.result, 'libcni hands CHECK its cached result');
        sh('ip', ['-n', rt.sb.ns, 'link', 'del', RED]);
        const c2 = await rt.run('check', { cid: 'c1', args: pod.args });
        const e = failed(c2, 'delegate', 'macvlan (red) CHECK');
        assert.ok(String(e.msg).startsWith('macvlan (red) CHECK'), String(e.msg));
      }
      ok(await rt.run('del', { cid: 'c1', args: pod.args }), 'DEL');
      assertNothingLeft(rt, 'c1', pod.name);
    });

    it('a NAD whose delegate fails: AddNetworkList returns macmux\'s error and nothing is left behind', async (t) => {
      const rt = runtime(t, v);
      rt.nads();
      rt.nad('broken', { type: 'macvlan', master: `mmnone${rt.sb.id}`.slice(0, 15), capabilities: { mac: true }, ipam: { type: 'host-local', subnet: '10.235.0.0/24', dataDir: rt.sb.ipamDir } });
      const RED_MAC = requestedMac();
      const pod = rt.pod('r', { [NETWORKS]: JSON.stringify([{ name: 'blue' }, { name: 'red', mac: RED_MAC }, { name: 'broken' }]) }, 'r1');
      const r = await rt.run('add', { cid: 'r1', args: pod.args, capArgs: { mac: ETH0_MAC } });
      const e = failed(r, 999, 'plugin type="macmux"', 'failed (add)', 'macvlan (broken) ADD: Link not found');
      assert.equal(e.msg, 'macvlan (broken) ADD: Link not found', 'macmux\'s error, as libcni decoded it');
      // The attachments before broken were added, then rolled back (the cluster network's spy saw ADD then DEL).
      assert.deepEqual([existsSync(`${rt.spyLog}.ADD`), existsSync(`${rt.spyLog}.DEL`)], [true, true], 'cluster network added and rolled back');
      assertNothingLeft(rt, 'r1', pod.name);
      assert.equal((await rt.run('cached', { cid: 'r1', args: pod.args })).json, null, 'libcni has no result for it');

      // An error of macmux's own (code 7, a missing NAD) comes through the same way, before any delegate runs.
      const pod2 = rt.pod('r2', { [NETWORKS]: 'blue,nosuch' }, 'r2');
      const r2 = await rt.run('add', { cid: 'r2', args: pod2.args });
      failed(r2, 7, 'NetworkAttachmentDefinition default/nosuch not found');
      assertNothingLeft(rt, 'r2', pod2.name);

      // The runtime's DEL after a failed ADD succeeds.
      ok(await rt.run('del', { cid: 'r1', args: pod.args }), 'DEL after the failed ADD');
    });

    it('DelNetworkList succeeds after the netns is gone, and again', async (t) => {
      const rt = runtime(t, v);
      rt.nads();
      const RED_MAC = requestedMac();
      const pod = rt.pod('d', { [NETWORKS]: JSON.stringify([{ name: 'blue' }, { name: 'red', mac: RED_MAC }]) }, 'd1');
      ok(await rt.run('add', { cid: 'd1', args: pod.args, capArgs: { mac: ETH0_MAC } }), 'ADD');
      assert.equal(rt.liveHoldings(pod.name).size, 3, 'green, blue and red hold MACs');
      rt.sb.deleteNetns();
      const d = await rt.run('del', { cid: 'd1', args: pod.args, capArgs: { mac: ETH0_MAC } });
      ok(d, 'DEL without the netns');
      assert.equal(d.stdout, '');
      assertNothingLeft(rt, 'd1', pod.name, true);
      ok(await rt.run('del', { cid: 'd1', args: pod.args }), 'second DEL');
    });

    it('hot-plug: AddNetworkList with K8S_POD_NETWORK adds just that network to the running pod; DelNetworkList removes it', async (t) => {
      const rt = runtime(t, v);
      rt.nads();
      const pod = rt.pod('h', { [NETWORKS]: 'red' }, 'h1');
      ok(await rt.run('add', { cid: 'h1', args: pod.args }), 'ADD');
      const before = byName(rt.sb.ns);
      const podEntry = rt.libcniEntry('h1');

      const obj = api.get('Pod', 'default', pod.name)!;
      api.put({ ...obj, metadata: { ...obj.metadata!, annotations: { ...obj.metadata!.annotations, [NETWORKS]: 'red,blue' } } });
      // The hot-plug call names the new device as its ifname, so that libcni caches it apart from the pod's eth0 result.
      const hot = { cid: 'h1', ifName: BLUE, args: `${pod.args};K8S_POD_NETWORK=blue` };
      const add = await rt.run('add', hot);
      ok(add, 'hot-plug ADD');
      assert.deepEqual(linkNames(rt.sb.ns), ['eth0', BLUE, GREEN, RED, 'lo'].sort());
      const l = byName(rt.sb.ns);
      for (const n of ['eth0', GREEN, RED]) assert.equal(l.get(n)?.address, before.get(n)?.address, `${n} untouched`);
      assert.equal(add.json!.cniVersion, v);
      assert.deepEqual((add.json!.interfaces as Array<{ name: string; mac: string; sandbox?: string }>).filter((i) => i.sandbox).map((i) => [i.name, i.mac]), [[BLUE, l.get(BLUE)!.address]], 'the result is the new attachment');
      assert.deepEqual(rt.libcniEntry('h1', BLUE)?.result, add.json, 'libcni caches the hot-plug result under its ifname');
      assert.deepEqual(rt.libcniEntry('h1'), podEntry, 'the pod\'s cached result is untouched');
      assert.ok(rt.liveHoldings(pod.name).has(l.get(BLUE)!.address), 'the new MAC is in the ledger');
      assert.deepEqual((rt.sb.cacheEntry('h1') as { attachments: Array<{ name: string }> }).attachments.map((a) => a.name), ['cluster', 'green', 'default/red', 'default/blue']);

      const del = await rt.run('del', hot);
      ok(del, 'hot-plug DEL');
      assert.deepEqual(linkNames(rt.sb.ns), ['eth0', GREEN, RED, 'lo'].sort());
      assert.equal(rt.libcniEntry('h1', BLUE), undefined);
      assert.deepEqual(rt.libcniEntry('h1'), podEntry);
      assert.deepEqual([...rt.liveHoldings(pod.name).values()].sort(), [`default/${pod.name}/green`, `default/${pod.name}/red`]);

      ok(await rt.run('del', { cid: 'h1', args: pod.args }), 'DEL');
      assertNothingLeft(rt, 'h1', pod.name);
    });

    it('podman\'s CNI_ARGS (K8S_POD_NAME and MAC, no namespace): a non-Kubernetes invocation, MAC= on eth0', async (t) => {
      const rt = runtime(t, v);
      rt.nads();
      // A pod of that name exists with networks: without a namespace it is not looked up.
      const name = `web-${rt.sb.id}`;
      api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', annotations: { [NETWORKS]: 'blue' } } });
      api.clearRequests();
      const args = `IgnoreUnknown=1;K8S_POD_NAME=${name};MAC=${PODMAN_MAC}`;
      const r = await rt.run('add', { cid: 'p1', args });
      ok(r, 'ADD');
      assert.equal(r.json!.cniVersion, v);
      assert.deepEqual(linkNames(rt.sb.ns), ['eth0', GREEN, 'lo'].sort(), 'the static delegates only');
      const l = byName(rt.sb.ns);
      assert.equal(l.get('eth0')?.address, PODMAN_MAC, 'MAC= went to eth0, as the runtime meant');
      assert.notEqual(l.get(GREEN)?.address, PODMAN_MAC, 'and not to a secondary');
      assert.deepEqual(api.requests, [], 'no API call');
      assert.deepEqual(rt.libcniEntry('p1')?.result, r.json, 'libcni cached the result');
      ok(await rt.run('del', { cid: 'p1', args }), 'DEL');
      assertNothingLeft(rt, 'p1', name);
    });
  });
}
