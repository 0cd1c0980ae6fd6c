// Integration: the image `npm run image` builds (dist/macmux-image.tar), loaded into a real runtime (Debian's podman, runc) and run with daemonset.yaml's own pod spec: `install --once` fills a temp host root whose binary then serves a pod ADD and DEL on the host, and the long-running install serves /healthz and /metrics to the host under the manifest's security context. The build is reproducible and holds only /macmux, its libraries and the loader.
import { describe, it, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load, loadAll } from 'js-yaml';
import { startApiServer, type ApiServer } from '../apiserver/server';
import { BINARY, PLUGIN_DIR, ROOT, Sandbox, cniAsyncWith, links } from './harness';
import { Podman } from './podman';
import { NOT_EXPRESSED, manifestFields, podmanPod, unaccounted, type PodContext } from './podspec';
import { buildImage, epochFromEnv } from '../../scripts/image/build';
import { imageRef } from '../../scripts/image/oci';
import { deviceName } from '../../src/util/names';

type Obj = Record<string, unknown> & { kind?: string; metadata?: { name?: string; namespace?: string }; data?: Record<string, string> };

const ARCHIVE = process.env.MACMUX_IMAGE ?? join(ROOT, 'dist', 'macmux-image.tar');
/** The epoch npm run image used (SOURCE_DATE_EPOCH, else 0). */
const EPOCH = epochFromEnv() ?? 0;
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const manifests = (f: string) => (loadAll(readFileSync(join(ROOT, 'daemonset', f), 'utf8')) as Obj[]).filter(Boolean);
const DS = manifests('daemonset.yaml').find((o) => o.kind === 'DaemonSet')!;
const NS = DS.metadata!.namespace!;
const POOL = manifests('pool-configmap.yaml')[0]!;
const SETTINGS = manifests('config.yaml')[0]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const mode = (path: string) => statSync(path).mode & 0o777;

let api: ApiServer;
let podman: Podman;

/** The manifest digest in an OCI archive's index.json. */
function archiveDigest(archive: string): string {
  const index = JSON.parse(execFileSync('tar', ['-xOf', archive, 'index.json'], { encoding: 'utf8' })) as { manifests: Array<{ digest: string }> };
  return index.manifests[0]!.digest;
}

before(async () => {
  assert.ok(Podman.installed(), 'podman and runc are installed (scripts/setup.sh installs them)');
  // The image of this run: npm test runs `npm run image` after the build; built here when missing or older than the binary.
  if (!existsSync(ARCHIVE) || statSync(ARCHIVE).mtimeMs < statSync(BINARY).mtimeMs) buildImage({ binary: BINARY, out: ARCHIVE, version: VERSION, epoch: EPOCH });
  api = await startApiServer({ namespaces: ['default', NS] });
  api.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: POOL.metadata!.name!, namespace: NS }, data: POOL.data! });
  podman = new Podman();
  const loaded = await podman.load(ARCHIVE);
  assert.match(loaded, new RegExp(`Loaded image: ${imageRef(VERSION)}`));
});
after(async () => {
  await podman?.cleanup();
  await api?.stop();
});

/** A temp node: the host root the hostPath volumes live under, and the pod's volumes. */
function node(t: TestContext, podIP = '127.0.0.1'): { hostRoot: string; ctx: PodContext } {
  const dir = mkdtempSync(join(tmpdir(), 'macmux-image-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const hostRoot = join(dir, 'host');
  mkdirSync(join(hostRoot, 'etc/cni/net.d'), { recursive: true });
  const ctx: PodContext = {
    hostRoot,
    volumesDir: join(dir, 'volumes'),
    fieldRefs: { 'spec.nodeName': `node-${process.pid}`, 'metadata.namespace': NS, 'status.podIP': podIP },
    configMaps: { [SETTINGS.metadata!.name!]: SETTINGS.data!, 'kube-root-ca.crt': { 'ca.crt': readFileSync(api.caFile, 'utf8') } },
    token: api.token,
    // kubelet's service env for the kubernetes Service; the test API server listens on 127.0.0.1.
    kubeletEnv: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: new URL(api.url).port },
  };
  return { hostRoot, ctx };
}

const bridgePrimary = (bridge: string, ipamDir: string) => ({
  cniVersion: '1.0.0',
  name: 'cbr0',
  plugins: [{ type: 'bridge', bridge, isGateway: true, ipMasq: false, ipam: { type: 'host-local', subnet: '10.252.0.0/24', dataDir: ipamDir } }],
});

/** GET http://host:port/path. */
function get(host: string, port: number, path: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = httpGet({ host, port, path, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), type: String(res.headers['content-type'] ?? '') }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

describe('the DaemonSet pod spec under podman', () => {
  it('every field daemonset.yaml sets is translated to podman or named as not expressed', () => {
    assert.deepEqual(unaccounted(DS), [], 'a new field of daemonset.yaml: translate it in podspec.ts or name it in NOT_EXPRESSED');
    // What podman cannot express here, by name (kept in step with the manifest: no stale entries).
    const fields = new Set(manifestFields(DS));
    assert.deepEqual(Object.keys(NOT_EXPRESSED).filter((f) => !fields.has(f)), [], 'every NOT_EXPRESSED entry is a field of the manifest');
    assert.deepEqual(Object.keys(NOT_EXPRESSED).sort(), [
      'container.livenessProbe',
      'container.ports',
      'container.readinessProbe',
      'container.resources.requests',
      'pod.dnsPolicy',
      'pod.priorityClassName',
      'pod.serviceAccountName',
      'pod.tolerations',
      'spec.selector',
      'spec.template.metadata',
      'spec.updateStrategy',
      'volume.projected.serviceAccountToken.expirationSeconds',
    ]);
  });

  it('install --once in the container fills the host root; the installed binary then ADDs and DELs a pod on the host', async (t) => {
    const { hostRoot, ctx } = node(t);
    const sb = new Sandbox();
    t.after(() => sb.cleanup());
    const primary = bridgePrimary(sb.bridgeName('c'), sb.ipamDir);
    writeFileSync(join(hostRoot, 'etc/cni/net.d/10-bridge.conflist'), JSON.stringify(primary));
    const pod = podmanPod(DS, ctx);
    assert.equal(pod.image, imageRef(VERSION), 'the manifest names the image the build makes');
    api.clearRequests();

    // The manifest's command and args, plus --once: the only change.
    const r = await podman.run(['run', '--rm', ...pod.flags, pod.image, ...pod.args, '--once']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!(r.stdout + r.stderr).includes(api.token), 'the token is never logged');
    assert.ok(api.requests.some((q) => q.verb === 'get' && q.name === 'macmux-pool' && q.auth === api.token), 'install read the pool over TLS with the projected token');

    const bin = join(hostRoot, 'opt/cni/bin/macmux');
    assert.equal(sha(bin), sha(BINARY), 'the binary copied out of the image is dist/macmux, byte for byte');
    assert.equal(mode(bin), 0o755);
    const conflistPath = join(hostRoot, 'etc/cni/net.d/00-macmux.conflist');
    assert.equal(mode(conflistPath), 0o644);
    const conflist = JSON.parse(readFileSync(conflistPath, 'utf8')) as { cniVersion: string; name: string; plugins: Array<Record<string, unknown>> };
    const plugin = conflist.plugins[0]!;
    const settings = JSON.parse(SETTINGS.data!['config.json']!) as Record<string, unknown>;
    assert.deepEqual(plugin, {
      type: 'macmux',
      kubeconfig: '/var/lib/macmux/kubeconfig',
      cacheDir: '/var/lib/macmux',
      binDir: '/opt/cni/bin',
      confDir: '/etc/cni/net.d',
      macNamespace: NS,
      nodeName: ctx.fieldRefs['spec.nodeName'],
      delegates: [{ ...primary, masterPlugin: true }],
      macPool: { rangeStart: POOL.data!.RANGE_START, rangeEnd: POOL.data!.RANGE_END, blockSize: Number(POOL.data!.BLOCK_SIZE) },
      ...settings,
    });
    const state = join(hostRoot, 'var/lib/macmux');
    assert.equal(mode(join(state, 'kubeconfig')), 0o600);
    assert.equal(mode(join(state, 'token')), 0o600);
    const kc = load(readFileSync(join(state, 'kubeconfig'), 'utf8')) as { clusters: Array<{ cluster: Record<string, string> }>; users: Array<{ user: Record<string, string> }> };
    assert.deepEqual(kc.users[0]!.user, { tokenFile: '/var/lib/macmux/token' });
    assert.deepEqual(kc.clusters[0]!.cluster, { server: api.url, 'certificate-authority': '/var/lib/macmux/ca.crt' });
    assert.equal(readFileSync(join(state, 'token'), 'utf8'), api.token);
    for (const f of [bin, conflistPath, join(state, 'kubeconfig')]) assert.equal(statSync(f).uid, 0, `${f} is root's on the host`);

    // The runtime's turn, on the host: the installed binary with the conflist's plugin on stdin. The
    // conflist's paths are the node's own (/var/lib/macmux, /var/log): a private mount namespace puts
    // the temp host root's state dir there, and a scratch /var/log, for this process alone.
    const lower = sb.bridge('l');
    api.put({
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name: 'green', namespace: 'default' },
      spec: { config: JSON.stringify({ cniVersion: '1.0.0', name: 'green', type: 'macvlan', master: lower, mode: 'bridge', capabilities: { mac: true } }) },
    });
    const p = api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `img-${sb.id}`, namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/networks': 'green' } } });
    const launcher = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs macmux-test /var/lib && mkdir /var/lib/macmux && mount --bind "$1" /var/lib/macmux && mount -t tmpfs macmux-test /var/log && exec "$2"', 'sh', state, bin];
    const env = { ...sb.env('img1'), CNI_PATH: PLUGIN_DIR, CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=img-${sb.id};K8S_POD_INFRA_CONTAINER_ID=img1;K8S_POD_UID=${p.metadata!.uid!}` };
    const runtimeConf = { cniVersion: conflist.cniVersion, name: conflist.name, ...plugin };
    api.clearRequests();
    const add = await cniAsyncWith(launcher, 'ADD', runtimeConf, env);
    assert.equal(add.status, 0, add.stdout + add.stderr);
    const ifs = links(sb.ns);
    assert.ok(ifs.some((l) => l.ifname === 'eth0'), 'the cluster network from the wrapped primary');
    const green = ifs.find((l) => l.ifname === deviceName('green'));
    assert.match(green?.address ?? '', /^02:6d:6d:/, "a MAC from the manifest's pool range");
    assert.ok(api.requests.some((q) => q.verb === 'patch' && q.resource === 'pods' && q.auth === api.token), 'network-status written with the token install copied');
    assert.ok(api.list('ConfigMap', NS).some((c) => /^macmux-ledger-(.+)\.b\d+$/.exec(c.metadata?.name ?? '')?.[1] === ctx.fieldRefs['spec.nodeName']), "the ledger under the node's name (its first block's ConfigMap)");
    assert.ok(existsSync(join(state, 'cache', 'img1')), 'the cache entry in the host state dir');

    const del = await cniAsyncWith(launcher, 'DEL', runtimeConf, env);
    assert.equal(del.status, 0, del.stdout + del.stderr);
    assert.deepEqual(links(sb.ns).map((l) => l.ifname), ['lo'], 'both interfaces gone');
    assert.ok(!existsSync(join(state, 'cache', 'img1')), 'the cache entry removed');
  });

  it('the long-running install serves /healthz, /livez and /metrics on the pod IP, confined as the manifest says, and stops cleanly', async (t) => {
    // A loopback address of its own stands for the node's address: the manifest's port 9733 cannot clash.
    const podIP = `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
    const { hostRoot, ctx } = node(t, podIP);
    writeFileSync(join(hostRoot, 'etc/cni/net.d/10-bridge.conflist'), JSON.stringify(bridgePrimary('cni0', '/tmp/none')));
    const pod = podmanPod(DS, ctx);
    assert.ok(pod.args.includes(`--listen=[${podIP}]:9733`), `$(POD_IP) expanded: ${pod.args.join(' ')}`);
    const name = pod.flags[pod.flags.indexOf('--name') + 1]!;
    t.after(() => podman.run(['rm', '--force', '--time', '0', name]));
    await podman.ok(['run', '--detach', ...pod.flags, pod.image, ...pod.args]);

    let health: { status: number; body: string } | undefined;
    for (let i = 0; i < 100 && health?.status !== 200; i++) {
      health = await get(podIP, 9733, '/healthz').catch(() => undefined);
      if (health?.status !== 200) await sleep(100);
    }
    assert.equal(health?.status, 200, `healthz: ${JSON.stringify(health)}; logs: ${(await podman.run(['logs', name])).stderr}`);
    assert.equal((await get(podIP, 9733, '/livez')).status, 200);
    const metrics = await get(podIP, 9733, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.type, /^text\/plain/);
    assert.match(metrics.body, /^macmux_pool_size \d+$/m);
    const neighbour = podIP.replace(/\d+$/, (d) => String((Number(d) % 254) + 1));
    await assert.rejects(get(neighbour, 9733, '/livez'), /ECONNREFUSED/, 'served on the pod IP only');

    // The security context, read from the host: /proc of the container's process.
    const pid = Number(await podman.ok(['inspect', '--format', '{{.State.Pid}}', name]));
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(status)?.[1];
    assert.equal(field('Seccomp'), '2', 'a seccomp filter (RuntimeDefault)');
    assert.equal(field('NoNewPrivs'), '1', 'allowPrivilegeEscalation: false');
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) assert.equal(field(set), '0000000000000000', `${set}: every capability dropped`);
    assert.match(field('Uid') ?? '', /^0\s+0\s+0\s+0$/, 'runAsUser 0');
    const mountinfo = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').map((l) => l.split(' '));
    const opts = (path: string) => mountinfo.find((m) => m[4] === path)?.[5]?.split(',');
    assert.ok(opts('/')?.includes('ro'), 'read-only root filesystem');
    for (const [path, readOnly] of Object.entries(pod.mounts)) assert.equal(opts(path)?.includes('ro'), readOnly, `${path} is mounted ${readOnly ? 'read-only' : 'read-write'}`);
    // The limit podman set, then the kernel's own: cgroup v1's memory controller or v2's unified hierarchy; one must be found.
    assert.equal(await podman.ok(['inspect', '--format', '{{.HostConfig.Memory}}', name]), String(256 * 1024 * 1024), 'the memory limit podman set');
    const cgroups = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
    const v1 = cgroups.find((l) => /:memory:/.test(l))?.split(':')[2];
    const v2 = cgroups.find((l) => l.startsWith('0::'))?.slice(3);
    const limitFile = [v1 !== undefined ? `/sys/fs/cgroup/memory${v1}/memory.limit_in_bytes` : '', v2 !== undefined ? `/sys/fs/cgroup${v2}/memory.max` : ''].find((f) => f && existsSync(f));
    assert.ok(limitFile, `the container's memory cgroup is readable (${cgroups.join(' | ')})`);
    assert.equal(readFileSync(limitFile, 'utf8').trim(), String(256 * 1024 * 1024), 'the memory limit the kernel enforces');

    // SIGTERM within terminationGracePeriodSeconds: exit 0.
    await podman.ok(['stop', name]);
    assert.equal(await podman.ok(['inspect', '--format', '{{.State.ExitCode}}', name]), '0');
    const logs = await podman.run(['logs', name]);
    assert.match(logs.stderr, new RegExp(`listening on http://${podIP.replace(/\./g, '\\.')}:9733`));
    assert.ok(!(logs.stdout + logs.stderr).includes(api.token), 'the token is never logged');
  });
});

describe('the image', () => {
  it('is reproducible: a second build from the same binary has the same digest, which podman keeps', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'macmux-image-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const again = buildImage({ binary: BINARY, out: join(dir, 'again.tar'), version: VERSION, epoch: EPOCH });
    assert.equal(again.digest, archiveDigest(ARCHIVE));
    assert.equal(sha(join(dir, 'again.tar')), sha(ARCHIVE), 'byte for byte');
    const shown = await podman.ok(['images', '--digests', '--format', '{{.Repository}}:{{.Tag}} {{.Digest}}']);
    assert.ok(shown.split('\n').includes(`${imageRef(VERSION)} ${again.digest}`), shown);
  });

  it('holds /macmux, the libraries ldd lists and the loader, and nothing else', () => {
    const manifest = JSON.parse(execFileSync('tar', ['-xOf', ARCHIVE, `blobs/sha256/${archiveDigest(ARCHIVE).slice(7)}`], { encoding: 'utf8' })) as { layers: Array<{ digest: string }> };
    // GNU tar prints times in local time: TZ=UTC, to compare with the build's epoch.
    const listing = execFileSync('sh', ['-c', `tar -xOf "$0" "blobs/sha256/${manifest.layers[0]!.digest.slice(7)}" | tar -tv`, ARCHIVE], { encoding: 'utf8', maxBuffer: 1 << 20, env: { ...process.env, TZ: 'UTC' } });
    const files = listing.trim().split('\n').filter((l) => !l.startsWith('d'));
    const dated = new Date(EPOCH * 1000).toISOString().slice(0, 16).replace('T', ' ');
    for (const l of listing.trim().split('\n')) assert.ok(new RegExp(`^[-d]rwxr-xr-x root/root .* ${dated} `).test(l), `root-owned, 0755, dated the epoch (${dated}): ${l}`);
    const ldd = execFileSync('ldd', [BINARY], { encoding: 'utf8' });
    const needed = [...ldd.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]!.slice(1));
    assert.ok(needed.length >= 2, ldd);
    assert.deepEqual(files.map((l) => l.split(/\s+/).pop()).sort(), ['macmux', ...needed].sort());
  });
});
