// The demo: an API test server holds a pod asking for two networks; dist/macmux, run as a runtime runs it, gives the pod's netns its interfaces.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startApiServer, type ApiServer } from '../test/apiserver/server';

const binary = resolve(__dirname, '..', 'dist', 'macmux');
const ns = 'macmux-demo-pod';
const lower = 'mmdemo-lower';
const work = mkdtempSync(join(tmpdir(), 'macmux-demo-'));
const ipam = join(work, 'ipam');
const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
const quiet = (...args: string[]) => spawnSync('ip', args, { stdio: 'ignore' });
const indent = (s: string) => s.replace(/^/gm, '    ');

const nads = {
  green: { cniVersion: '1.0.0', name: 'green', type: 'macvlan', master: lower, mode: 'bridge', ipam: { type: 'host-local', subnet: '192.168.100.0/24', dataDir: ipam } },
  blue: { cniVersion: '1.0.0', name: 'blue', plugins: [
    { type: 'bridge', bridge: 'mmdemo-blue', ipam: { type: 'host-local', subnet: '192.168.200.0/24', dataDir: ipam } },
    { type: 'tuning', sysctl: { 'net.ipv4.conf.IFNAME.arp_filter': '1' } },
  ] },
};
const networks = [{ name: 'green', mac: '02:00:5e:10:00:2a' }, { name: 'blue' }];

function run(api: ApiServer, command: string, uid: string): Promise<{ status: number; stdout: string }> {
  const conf = {
    cniVersion: '1.0.0', name: 'macmux', type: 'macmux', kubeconfig: api.kubeconfig, cacheDir: join(work, 'state'),
    nodeName: 'demo-node', macPool: { rangeStart: '02:00:5e:00:00:00', rangeEnd: '02:00:5e:ff:ff:ff' },
    delegates: [{ name: 'cluster', type: 'bridge', bridge: 'mmdemo-cbr0', isGateway: true, ipMasq: false, ipam: { type: 'host-local', subnet: '10.88.0.0/24', dataDir: ipam } }],
  };
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin', CNI_COMMAND: command, CNI_CONTAINERID: 'demo-sandbox', CNI_NETNS: `/run/netns/${ns}`, CNI_IFNAME: 'eth0',
    CNI_PATH: '/usr/lib/cni', CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=demo;K8S_POD_INFRA_CONTAINER_ID=demo-sandbox;K8S_POD_UID=${uid}` };
  return new Promise((done) => {
    const child = spawn(binary, [], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.on('close', (status) => done({ status: status ?? 1, stdout }));
    child.stdin.end(JSON.stringify(conf));
  });
}

/** The operator CLI (no CNI_COMMAND): prints its output indented. */
function operator(args: string[]): Promise<void> {
  console.log(`\n$ macmux ${args.join(' ')}`);
  return new Promise((done, fail) => {
    const child = spawn(binary, args, { env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin' }, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.on('close', (status) => (status === 0 ? (console.log(indent(stdout.trimEnd())), done()) : fail(new Error(`macmux ${args[0]} exited ${status}`))));
  });
}

function showPod(): void {
  const links = JSON.parse(ip('-n', ns, '-d', '-j', 'addr')) as Array<{ ifname: string; address: string; linkinfo?: { info_kind?: string }; addr_info: Array<{ family: string; local: string; prefixlen: number }> }>;
  console.log(`    ${'DEVICE'.padEnd(16)} ${'KIND'.padEnd(8)} ${'MAC'.padEnd(18)} IPv4`);
  for (const l of links) {
    const v4 = l.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`).join(', ');
    console.log(`    ${l.ifname.padEnd(16)} ${(l.linkinfo?.info_kind ?? '-').padEnd(8)} ${l.address.padEnd(18)} ${v4}`);
  }
}

/** Every MAC held in the ledger ConfigMaps (the pool for requested MACs in unleased blocks, the node's ledger for its blocks). */
function showLedger(api: ApiServer): void {
  for (const cm of api.list('ConfigMap', 'kube-system') as Array<{ metadata?: { name?: string }; data?: Record<string, string> }>) {
    for (const [key, holding] of Object.entries(cm.data ?? {})) {
      if (/^[0-9a-f]{12}$/.test(key)) console.log(`    ${key.replace(/(..)(?!$)/g, '$1:')}  ${holding.padEnd(40)} in ${cm.metadata?.name}`);
    }
  }
}

function cleanup(): void {
  quiet('netns', 'del', ns);
  for (const l of [lower, 'mmdemo-cbr0', 'mmdemo-blue']) quiet('link', 'del', l);
  rmSync(work, { recursive: true, force: true });
}

async function main(): Promise<void> {
  cleanup();
  ip('netns', 'add', ns);
  ip('link', 'add', lower, 'type', 'bridge');
  ip('link', 'set', lower, 'up');
  const api = await startApiServer({ dir: join(work, 'api') });
  try {
    console.log(`macmux demo: a Kubernetes API test server at ${api.url}; the pod's network namespace is ${ns}\n`);
    for (const [name, config] of Object.entries(nads)) {
      api.put({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name, namespace: 'default' }, spec: { config: JSON.stringify(config) } });
      console.log(`NetworkAttachmentDefinition default/${name}:\n${indent(JSON.stringify(config))}`);
    }
    const pod = api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'demo', namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/networks': JSON.stringify(networks) } } });
    console.log(`\npod default/demo asks for:\n    k8s.v1.cni.cncf.io/networks: ${JSON.stringify(networks)}\n`);

    console.log('$ CNI_COMMAND=ADD dist/macmux < conf   # as a runtime runs it; the result is eth0\'s');
    const add = await run(api, 'ADD', pod.metadata!.uid!);
    console.log(indent(add.stdout ? JSON.stringify(JSON.parse(add.stdout)) : '(no output)'));
    if (add.status !== 0) throw new Error(`ADD failed with status ${add.status}`);
    console.log(`\nthe pod's interfaces (ip -n ${ns} -j addr); secondaries are "net" + md5(name)[:12]:`);
    showPod();
    const patch = api.requests.find((r) => r.method === 'PATCH');
    const status = (patch?.body as { metadata?: { annotations?: Record<string, string> } })?.metadata?.annotations?.['k8s.v1.cni.cncf.io/network-status'];
    console.log('\nthe MAC ledger: each MAC at its home ConfigMap (state|owner|node|since; a = active):');
    showLedger(api);
    await operator(['ledger', 'list', '--kubeconfig', api.kubeconfig, '--namespace', 'kube-system']);
    console.log(`\nthe API server received one merge patch (${patch?.contentType}) with k8s.v1.cni.cncf.io/network-status:`);
    console.log(indent(status ?? '(none)'));

    console.log('\n$ CNI_COMMAND=DEL dist/macmux < conf   # served from the cache');
    const del = await run(api, 'DEL', pod.metadata!.uid!);
    if (del.status !== 0) throw new Error(`DEL failed: ${del.stdout}`);
    console.log('DEL ok; the pod now has:');
    showPod();
    console.log('and the ledger holds the MACs released (x), kept for their owners during the grace period:');
    showLedger(api);
  } finally {
    await api.stop();
  }
}

main()
  .then(() => cleanup())
  .catch((e: Error) => {
    console.error(`demo failed: ${e.message}`);
    cleanup();
    process.exit(1);
  });
