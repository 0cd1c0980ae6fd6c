// The MAC ledger's integration world, shared by the ledger and upgrade tests: an API test server, simulated
// nodes (a cacheDir, a nodeName and the macmux binary each runs), pods in network namespaces on host
// bridges, and the ledger as the API server holds it.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startApiServer, type ApiServer } from '../apiserver/server';
import { BINARY, PLUGIN_DIR, cliAsync, cniAsyncWith, type RunResult } from './harness';
import { decodeHolding, type Holding } from '../../src/mac/holding';
import { LEDGER_LABEL } from '../../src/mac/home';
import { indexKey } from '../../src/mac/owners';
import { deviceName } from '../../src/util/names';

export const exec = promisify(execFile);
export const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
export const LABEL = 'macmux.io/mac-assignment';
export const MACNS = 'kube-system';
export const POOL = 'macmux-pool';
export const RESERVED_KEYS = new Set(['RANGE_START', 'RANGE_END', 'BLOCK_SIZE', 'LEASES']);
/** 4096 MACs in 128 blocks of 32: small blocks, so that nodes lease many and meet often. */
export const RANGE = { rangeStart: '02:aa:00:00:00:00', rangeEnd: '02:aa:00:00:0f:ff', blockSize: 32 };
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const PID = process.pid % 100000;

// ---------------------------------------------------------------- helpers

export const macKey = (mac: string) => mac.replace(/:/g, '');
export const keyMac = (key: string) => key.replace(/(..)(?!$)/g, '$1:');
export const macInt = (mac: string) => parseInt(macKey(mac), 16);
export const inRange = (mac: string) => macInt(mac) >= macInt(RANGE.rangeStart) && macInt(mac) <= macInt(RANGE.rangeEnd);
export const blockOf = (mac: string) => Math.floor((macInt(mac) - macInt(RANGE.rangeStart)) / RANGE.blockSize);
/** The ConfigMap of block `block` leased by `node` (this release: one per block). */
export const blockCm = (node: string, block: number) => `macmux-ledger-${node}.b${block}`;
export const claimsCm = (mac: string) => `macmux-claims-${createHash('sha256').update(mac).digest('hex').slice(0, 2)}`;
export const live = (h: Holding | undefined) => h !== undefined && h.state !== 'released';

export interface JournalFile {
  format: number;
  entries: Record<string, { owner: string; state: string; containerID: string; pid: number; since: number; pendingRelease?: boolean }>;
  intents: Array<{ owner: string; containerID: string; pid: number }>;
}

export interface SimNode {
  name: string;
  cacheDir: string;
  /** The macmux executable this node runs (dist/macmux unless set: an older release, during an upgrade). */
  binary: string;
  /** The macmux config of this node; `extra` overrides. */
  conf(extra?: Record<string, unknown>): Record<string, unknown>;
  /** cacheDir/ledger/journal.json, parsed (throws if it does not parse). */
  journal(): JournalFile;
  cacheEntries(): string[];
}

export interface PodRun {
  namespace: string;
  name: string;
  uid: string;
  cid: string;
  netns: string;
  node: SimNode;
  /** NAD name → requested MAC (if any), in annotation order. */
  nets: Array<{ name: string; mac?: string }>;
  env: Record<string, string>;
}

export const ownerOf = (p: PodRun, nad: string) => `${p.namespace}/${p.name}/${nad}`;

export interface HoldingAt {
  cm: string;
  mac: string;
  h: Holding;
}

/** One test's world: its own API server, temp dir, host bridges and network namespaces, all removed by t.after. */
export class World {
  readonly dir = mkdtempSync(join(tmpdir(), 'macmux-ledger-'));
  private readonly netnsNames = new Set<string>();
  private readonly bridges: string[] = [];
  private seq = 0;
  private closed = false;
  private constructor(readonly api: ApiServer) {}

  static async create(t: TestContext): Promise<World> {
    const w = new World(await startApiServer());
    t.after(() => w.cleanup());
    return w;
  }

  node(name: string, base: Record<string, unknown> = {}): SimNode {
    const cacheDir = join(this.dir, name);
    const api = this.api;
    return {
      name,
      cacheDir,
      binary: BINARY,
      conf: (extra = {}) => ({
        cniVersion: '1.0.0',
        name: 'macmux',
        type: 'macmux',
        cacheDir,
        kubeconfig: api.kubeconfig,
        nodeName: name,
        macPool: RANGE,
        delegates: [{ name: 'lo', type: 'loopback', cniVersion: '1.0.0' }],
        ...base,
        ...extra,
      }),
      journal: () => {
        const file = join(cacheDir, 'ledger', 'journal.json');
        return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as JournalFile) : { format: 1, entries: {}, intents: [] };
      },
      cacheEntries: () => (existsSync(join(cacheDir, 'cache')) ? readdirSync(join(cacheDir, 'cache')).filter((f) => !f.startsWith('.')) : []),
    };
  }

  bridge(tag: string): string {
    const name = `mml${tag}${PID}`.slice(0, 15);
    this.bridges.push(name);
    return name;
  }

  async makeBridges(): Promise<void> {
    for (const b of this.bridges) {
      await exec('ip', ['link', 'add', b, 'type', 'bridge']);
      await exec('ip', ['link', 'set', b, 'up']);
    }
  }

  namespace(name: string, labels?: Record<string, string>): void {
    this.api.put({ kind: 'Namespace', metadata: { name, ...(labels ? { labels } : {}) } });
  }

  /** A macvlan NAD (no IPAM) on `master`. */
  nad(namespace: string, name: string, master: string): void {
    this.api.put({
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name, namespace },
      spec: { config: JSON.stringify({ cniVersion: '1.0.0', name, type: 'macvlan', master, mode: 'bridge', capabilities: { mac: true } }) },
    });
  }

  async netns(): Promise<string> {
    if (this.closed) throw new Error('the test is over');
    const name = `mml-${PID}-${this.seq++}`;
    this.netnsNames.add(name);
    await exec('ip', ['netns', 'add', name]);
    return name;
  }

  async delNetns(name: string): Promise<void> {
    await exec('ip', ['netns', 'del', name]).catch(() => undefined);
    this.netnsNames.delete(name);
  }

  /** Creates (or re-creates, with a new uid) the pod object and a fresh netns and sandbox ID for it. */
  /** A pod with `nets`; `generateName` as the API server sets it on a pod whose name it generated (a Deployment's). */
  async pod(node: SimNode, namespace: string, name: string, nets: Array<{ name: string; mac?: string }>, meta: { generateName?: string } = {}): Promise<PodRun> {
    const obj = this.api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, ...meta, annotations: { [NETWORKS]: JSON.stringify(nets) } } });
    const uid = obj.metadata!.uid!;
    const netns = await this.netns();
    const cid = `c${PID}x${this.seq++}`;
    const env = {
      CNI_CONTAINERID: cid,
      CNI_NETNS: `/run/netns/${netns}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: PLUGIN_DIR,
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${namespace};K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=${cid};K8S_POD_UID=${uid}`,
    };
    return { namespace, name, uid, cid, netns, node, nets, env };
  }

  add(p: PodRun, extra: Record<string, unknown> = {}): Promise<RunResult> {
    return this.run('ADD', p.node.conf(extra), p.env, p.node.binary);
  }

  del(p: PodRun, extra: Record<string, unknown> = {}): Promise<RunResult> {
    return this.run('DEL', p.node.conf(extra), p.env, p.node.binary);
  }

  run(command: string, conf: Record<string, unknown>, env: Record<string, string>, binary = BINARY): Promise<RunResult> {
    if (this.closed) return Promise.reject(new Error('the test is over'));
    return cniAsyncWith([binary], command, conf, env);
  }

  /** The ledger ConfigMaps (label `macmux.io/ledger`: pool, block and node ledgers, claims shards; not the owner index). */
  ledgerCms(): Array<{ name: string; labels: Record<string, string>; resourceVersion?: string; data: Record<string, string> }> {
    return (this.api.list('ConfigMap', MACNS) as unknown as Array<{ metadata: { name: string; labels?: Record<string, string>; resourceVersion?: string }; data?: Record<string, string> }>)
      .filter((cm) => cm.metadata.labels?.[LEDGER_LABEL] !== undefined)
      .map((cm) => ({ name: cm.metadata.name, labels: cm.metadata.labels!, ...(cm.metadata.resourceVersion ? { resourceVersion: cm.metadata.resourceVersion } : {}), data: cm.data ?? {} }));
  }

  /** Every holding in the ledger ConfigMaps (pool, block and node ledgers, claims shards). */
  holdings(): HoldingAt[] {
    const out: HoldingAt[] = [];
    for (const cm of this.api.list('ConfigMap', MACNS) as unknown as Array<{ metadata: { name: string; labels?: Record<string, string> }; data?: Record<string, string> }>) {
      // The owner index (label macmux.io/ledger-index) holds hints in another format, not holdings.
      if (cm.metadata.labels?.[LEDGER_LABEL] === undefined) continue;
      for (const [k, v] of Object.entries(cm.data ?? {})) {
        if (RESERVED_KEYS.has(k)) continue;
        const h = decodeHolding(v);
        assert.ok(h, `ConfigMap ${cm.metadata.name}: ${k}=${v} decodes`);
        out.push({ cm: cm.metadata.name, mac: keyMac(k), h });
      }
    }
    return out;
  }

  cmData(name: string): Record<string, string> {
    return ((this.api.get('ConfigMap', MACNS, name) as unknown as { data?: Record<string, string> } | undefined)?.data) ?? {};
  }

  leases(): Record<string, string> {
    return JSON.parse(this.cmData(POOL).LEASES ?? '{}') as Record<string, string>;
  }

  /** The home of `mac` by the rule of the design, computed here from the pool ConfigMap: `macmux-ledger-<lease value>`, whichever release leased its block. */
  home(mac: string): string {
    if (!inRange(mac)) return claimsCm(mac);
    const lease = this.leases()[String(blockOf(mac))];
    return lease ? `macmux-ledger-${lease}` : POOL;
  }

  /** The owner-index shard entry of `owner` (`ns/pod/attachment`), decoded: `mac|since|key`. */
  ownerEntry(owner: string): { mac: string; since: number; key: string } | undefined {
    const k = indexKey(owner);
    const v = this.cmData(k.name)[createHash('sha256').update(k.key).digest('hex').slice(0, 32)];
    if (v === undefined) return undefined;
    const [mac, since, key] = v.split('|');
    return { mac: mac!, since: Number(since), key: key! };
  }

  /** The holding of `mac` at its home. */
  atHome(mac: string): Holding | undefined {
    const v = this.cmData(this.home(mac))[macKey(mac)];
    return v === undefined ? undefined : decodeHolding(v);
  }

  /** ifname → MAC inside the netns. */
  async macs(netns: string): Promise<Map<string, string>> {
    const { stdout } = await exec('ip', ['-n', netns, '-j', 'link']);
    return new Map((JSON.parse(stdout) as Array<{ ifname: string; address: string }>).map((l) => [l.ifname, l.address]));
  }

  /** The MAC of NAD `nad`'s interface in the pod, or undefined when it is not there. */
  async macOf(p: PodRun, nad: string): Promise<string | undefined> {
    return (await this.macs(p.netns)).get(deviceName(nad));
  }

  async cleanup(): Promise<void> {
    this.closed = true;
    this.api.clearFaults();
    const names = [...this.netnsNames];
    for (let i = 0; i < names.length; i += 200) {
      const batch = names.slice(i, i + 200).map((n) => `netns del ${n}`).join('\n') + '\n';
      await new Promise<void>((resolve) => {
        const c = spawn('ip', ['-force', '-batch', '-'], { stdio: ['pipe', 'ignore', 'ignore'] });
        c.on('close', () => resolve());
        c.on('error', () => resolve());
        c.stdin.end(batch);
      });
    }
    this.netnsNames.clear();
    for (const b of this.bridges) await exec('ip', ['link', 'del', b]).catch(() => undefined);
    await this.api.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs dist/macmux as cniAsync does, but hands out the child so that a test can kill it. */
export function spawnCni(command: string, conf: unknown, env: Record<string, string>): { child: ChildProcess; done: Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> } {
  const child = spawn(BINARY, [], { env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: command, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (b: Buffer) => out.push(b));
  child.stderr!.on('data', (b: Buffer) => err.push(b));
  const done = new Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(JSON.stringify(conf));
  return { child, done };
}

/**
 * Runs `n` workers; the first one to throw stops the others at their next step, and every worker is
 * waited for before the error is rethrown (so that nothing runs on after the test's cleanup).
 */
export async function workers(n: number, body: (k: number, stopped: () => boolean) => Promise<void>): Promise<void> {
  let failed: unknown;
  const stopped = () => failed !== undefined;
  await Promise.all(
    Array.from({ length: n }, (_, k) =>
      body(k, stopped).catch((e: unknown) => {
        failed ??= e;
      }),
    ),
  );
  if (failed !== undefined) throw failed;
}

export const codeOf = (r: RunResult) => (typeof r.json.code === 'number' ? r.json.code : undefined);
export const why = (r: Pick<RunResult, 'status' | 'stdout' | 'stderr'>) => `status ${r.status}: ${r.stdout} ${r.stderr.split('\n').slice(-6).join('\n')}`;

/** Asserts a pod left nothing behind: only lo in its netns, no cache entry, no holding of any of its owners. */
export async function assertNothingLeft(w: World, p: PodRun, what: string, allowReleased = false, byUid = false): Promise<void> {
  assert.deepEqual([...(await w.macs(p.netns)).keys()], ['lo'], `${what}: no link left in the netns`);
  assert.ok(!p.node.cacheEntries().includes(p.cid), `${what}: no cache entry left`);
  // byUid: only this pod's holdings (an older pod of the same name may hold some).
  const mine = w.holdings().filter((x) => x.h.owner.startsWith(`${p.namespace}/${p.name}/`) && (!byUid || x.h.uid === p.uid) && (!allowReleased || live(x.h)));
  assert.deepEqual(mine, [], `${what}: no ${allowReleased ? 'live ' : ''}holding left`);
}

/** A new sandbox of the same pod (same uid): its annotation set to `nets`, a fresh netns and sandbox ID. */
export async function sandbox(w: World, p: PodRun, nets: Array<{ name: string; mac?: string }>): Promise<PodRun> {
  const cur = w.api.get('Pod', p.namespace, p.name)!;
  w.api.put({ ...cur, metadata: { ...cur.metadata, annotations: { [NETWORKS]: JSON.stringify(nets) } } });
  const next = await w.pod(p.node, p.namespace, p.name, nets);
  assert.equal(next.uid, p.uid, 'the same pod');
  return next;
}

/** The raw ledger values of `macs`, wherever recorded: to show a refused ADD changed nothing. */
export const rawOf = (w: World, macs: string[]) =>
  (w.api.list('ConfigMap', MACNS) as unknown as Array<{ metadata: { name: string }; data?: Record<string, string> }>).flatMap((cm) =>
    macs.filter((m) => cm.data?.[macKey(m)] !== undefined).map((m) => `${cm.metadata.name}:${m}=${cm.data![macKey(m)]}`),
  );

export const ledgerCli = (w: World, args: string[]) => cliAsync(['ledger', ...args, '--kubeconfig', w.api.kubeconfig, '--namespace', MACNS, '-o', 'json']);

/** The world's kubeconfig, written to `dir` pointing at a port where nothing listens (the API server down); its path and the port. */
export async function refusedKubeconfig(w: Pick<World, 'dir' | 'api'>): Promise<{ path: string; port: number }> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  const path = join(w.dir, 'refused.kubeconfig');
  writeFileSync(path, readFileSync(w.api.kubeconfig, 'utf8').replace(/https:\/\/127\.0\.0\.1:\d+/, `https://127.0.0.1:${port}`));
  if (!readFileSync(path, 'utf8').includes(`127.0.0.1:${port}`)) throw new Error('the kubeconfig names no server at 127.0.0.1 to replace');
  return { path, port };
}
