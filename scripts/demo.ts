// The demo: a namespace standing for a pod gets eth0 and two secondary interfaces from dist/macmux, run as a runtime runs it.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const binary = resolve(__dirname, '..', 'dist', 'macmux');
const ns = 'macmux-demo-pod';
const lower = 'mmdemo-lower';
const work = mkdtempSync(join(tmpdir(), 'macmux-demo-'));
const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
const quiet = (...args: string[]) => spawnSync('ip', args, { stdio: 'ignore' });

const conf = {
  cniVersion: '1.0.0',
  name: 'macmux',
  type: 'macmux',
  cacheDir: join(work, 'state'),
  delegates: [
    { name: 'cluster', masterPlugin: true, type: 'bridge', bridge: 'mmdemo-cbr0', isGateway: true, ipMasq: false,
      ipam: { type: 'host-local', subnet: '10.88.0.0/24', dataDir: join(work, 'ipam') } },
    { name: 'green', type: 'macvlan', master: lower, mode: 'bridge',
      ipam: { type: 'host-local', subnet: '192.168.100.0/24', dataDir: join(work, 'ipam') } },
    { name: 'blue', plugins: [
      { type: 'bridge', bridge: 'mmdemo-blue', ipam: { type: 'host-local', subnet: '192.168.200.0/24', dataDir: join(work, 'ipam') } },
      { type: 'tuning', sysctl: { 'net.ipv4.conf.IFNAME.arp_filter': '1' } },
    ] },
  ],
};

function run(command: string): { status: number; stdout: string } {
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin', CNI_COMMAND: command, CNI_CONTAINERID: 'demo-pod-sandbox',
    CNI_NETNS: `/run/netns/${ns}`, CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni', CNI_ARGS: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=demo' };
  const r = spawnSync(binary, [], { input: JSON.stringify(conf), env, encoding: 'utf8' });
  process.stderr.write(r.stderr);
  return { status: r.status ?? 1, stdout: r.stdout };
}

function showPod(): void {
  const links = JSON.parse(ip('-n', ns, '-d', '-j', 'addr')) as Array<{ ifname: string; address: string; linkinfo?: { info_kind?: string }; addr_info: Array<{ family: string; local: string; prefixlen: number }> }>;
  console.log(`  ${'DEVICE'.padEnd(16)} ${'KIND'.padEnd(8)} ${'MAC'.padEnd(18)} IPv4`);
  for (const l of links) {
    const v4 = l.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`).join(', ');
    console.log(`  ${l.ifname.padEnd(16)} ${(l.linkinfo?.info_kind ?? '-').padEnd(8)} ${l.address.padEnd(18)} ${v4}`);
  }
}

function cleanup(): void {
  quiet('netns', 'del', ns);
  for (const l of [lower, 'mmdemo-cbr0', 'mmdemo-blue']) quiet('link', 'del', l);
  rmSync(work, { recursive: true, force: true });
}

let status = 0;
try {
  cleanup();
  ip('netns', 'add', ns);
  ip('link', 'add', lower, 'type', 'bridge');
  ip('link', 'set', lower, 'up');
  console.log(`macmux demo: pod netns ${ns}; delegates bridge (eth0), macvlan on ${lower} (green), bridge+tuning (blue)\n`);
  console.log('$ CNI_COMMAND=ADD dist/macmux < conf   # as a runtime runs it');
  const add = run('ADD');
  console.log(add.stdout ? JSON.stringify(JSON.parse(add.stdout), null, 2) : '(no output)');
  if (add.status !== 0) throw new Error(`ADD failed with status ${add.status}`);
  console.log(`\nthe pod's interfaces (ip -n ${ns} -j addr):`);
  showPod();
  console.log(`\nsecondary devices are "net" + md5(name)[:12]: green -> net9f27410725ab, blue -> net48d6215903df`);
  console.log('\n$ CNI_COMMAND=DEL dist/macmux < conf');
  const del = run('DEL');
  if (del.status !== 0) throw new Error(`DEL failed: ${del.stdout}`);
  console.log(`DEL ok; the pod now has:`);
  showPod();
} catch (e) {
  console.error(`demo failed: ${(e as Error).message}`);
  status = 1;
} finally {
  cleanup();
}
process.exit(status);
