// Section 8b: N nodes × M pods through dist/macmux against the test API server over HTTPS: requests, response bytes and writes per ADD from its request log, stickiness, the largest object of each kind.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { startApiServer, type ApiServer, type LoggedRequest } from '../../test/apiserver/server';
import { census } from '../../src/mac/census';
import { LEDGER_LABEL } from '../../src/mac/home';
import type { Cm } from '../../src/mac/store';
import { NETWORKS, PLUGIN_DIR } from './pod-world';
import { cleanEnv, run, type Run } from './proc';
import type { Sandbox } from './sandbox';
import { objectKinds, type ScaleFigures } from './scale';

export interface BinaryScaleOptions {
  nodes: number;
  /** Pods per node, each one ADD. */
  pods: number;
  /** Nodes running their ADDs at the same time (each node one at a time, as kubelet's runtime on one node mostly does). */
  parallel: number;
  /** Every `requestEvery`-th pod asks for a MAC: in turn inside the range in a block nobody leases, and outside it. */
  requestEvery: number;
  /** Every `deleteEvery`-th pod is deleted, then created again (same name, another UID) on the next node. */
  deleteEvery: number;
}

export const BINARY_SCALE_DEFAULTS: BinaryScaleOptions = { nodes: 20, pods: 20, parallel: 4, requestEvery: 20, deleteEvery: 4 };

const NAD = 'scale';
const MAC_NS = 'mmbench-scale';
const RANGE = { rangeStart: '02:b0:00:00:00:00', rangeEnd: '02:b0:00:00:ff:ff' };
const GRACE = 600;

/** What one phase's invocations asked of the API server, from its request log. */
export interface Phase {
  ops: number;
  requests: number;
  /** Response body bytes of every request, and of the ledger's ConfigMap requests. */
  bytes: number;
  cmRequests: number;
  cmBytes: number;
  /** ConfigMap creates and updates, refused ones included; and those refused with 409. */
  writes: number;
  conflicts: number;
  ms: number;
}

export interface BinaryScaleFigures {
  opts: BinaryScaleOptions;
  add: Phase;
  del: Phase;
  /** Pods created again on another node within the grace period, and how many got their MAC back. */
  recreated: { pods: number; same: number };
  duplicates: number;
  damaged: number;
  kinds: ScaleFigures['kinds'];
  /** Invocations that failed (each is a finding); the bench reports them and exits 1. */
  failed: Run[];
}

interface Pod {
  name: string;
  node: number;
  uid: string;
  netns: string;
  requested?: string;
  mac?: string;
}

/** Sums the request log's entries since the last clear. */
function phase(requests: readonly LoggedRequest[], ops: number, ms: number): Phase {
  const p: Phase = { ops, requests: 0, bytes: 0, cmRequests: 0, cmBytes: 0, writes: 0, conflicts: 0, ms };
  for (const r of requests) {
    p.requests++;
    p.bytes += r.bytes ?? 0;
    if (r.resource !== 'configmaps' || r.namespace !== MAC_NS) continue;
    p.cmRequests++;
    p.cmBytes += r.bytes ?? 0;
    if (r.verb === 'create' || r.verb === 'update' || r.verb === 'patch') {
      p.writes++;
      if (r.status === 409) p.conflicts++;
    }
  }
  return p;
}

/** The MAC of the pod's macvlan (macmux's result shows only the cluster network's interfaces): read from its netns. */
async function macOf(netns: string): Promise<string | undefined> {
  const r = await run('ip', ['-n', netns, '-j', 'link', 'show', 'type', 'macvlan'], { env: cleanEnv() });
  try {
    return (JSON.parse(r.stdout) as Array<{ address?: string }>)[0]?.address;
  } catch {
    return undefined;
  }
}

export async function scaleThroughBinary(sb: Sandbox, binary: string, over: Partial<BinaryScaleOptions> = {}): Promise<BinaryScaleFigures> {
  const o = { ...BINARY_SCALE_DEFAULTS, ...over };
  const api: ApiServer = await startApiServer();
  try {
    const lower = sb.bridge('s');
    api.put({ kind: 'Namespace', metadata: { name: MAC_NS } });
    api.put({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: NAD, namespace: 'default' }, spec: { config: JSON.stringify({ cniVersion: '1.0.0', name: NAD, type: 'macvlan', master: lower, mode: 'bridge', capabilities: { mac: true } }) } });
    const confs = Array.from({ length: o.nodes }, (_, i) => {
      const cacheDir = join(sb.dir, `scale-state-${i}`);
      mkdirSync(cacheDir, { recursive: true });
      return { cniVersion: '1.0.0', name: 'macmux', type: 'macmux', cacheDir, kubeconfig: api.kubeconfig, nodeName: `mmbench-scale-${i}`, macNamespace: MAC_NS, macGracePeriod: GRACE, macPool: RANGE, delegates: [{ name: 'lo', type: 'loopback' }] };
    });
    const failed: Run[] = [];
    let requestedSeq = 0;
    const env = (p: Pod, command: 'ADD' | 'DEL') => {
      const cid = `${sb.prefix}${p.name}-${p.uid.slice(0, 8)}`;
      return cleanEnv({ CNI_COMMAND: command, CNI_CONTAINERID: cid, CNI_NETNS: `/run/netns/${p.netns}`, CNI_IFNAME: 'eth0', CNI_PATH: PLUGIN_DIR, CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${p.name};K8S_POD_INFRA_CONTAINER_ID=${cid};K8S_POD_UID=${p.uid}` });
    };
    /** The pod object (a new UID each time) and its netns. */
    const create = (name: string, node: number, requested?: string): Pod => {
      api.remove('Pod', 'default', name);
      const networks = requested ? JSON.stringify([{ name: NAD, mac: requested }]) : NAD;
      const obj = api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', annotations: { [NETWORKS]: networks } } });
      return { name, node, uid: obj.metadata!.uid!, netns: sb.netns('s'), ...(requested ? { requested } : {}) };
    };
    const invoke = async (p: Pod, command: 'ADD' | 'DEL') => {
      const r = await run(binary, [], { env: env(p, command), input: JSON.stringify(confs[p.node]), what: `macmux ${command} (pod ${p.name} on node ${p.node})` });
      if (r.status !== 0) failed.push(r);
      return r;
    };
    /** Every node's `work`, `parallel` nodes at a time, each node's items one after another. */
    const perNode = async <T>(items: T[][], work: (x: T) => Promise<void>) => {
      let next = 0;
      await Promise.all(Array.from({ length: Math.min(o.parallel, items.length) }, async () => {
        while (next < items.length) for (const x of items[next++]!) await work(x);
      }));
    };

    // 1. ADDs of new pods.
    const pods: Pod[][] = Array.from({ length: o.nodes }, (_, n) =>
      Array.from({ length: o.pods }, (_, i) => {
        const seq = n * o.pods + i;
        let requested: string | undefined;
        if (seq % o.requestEvery === o.requestEvery - 1) {
          const k = requestedSeq++;
          requested = k % 2 === 0 ? `02:b0:00:00:ff:${(k >> 1).toString(16).padStart(2, '0')}` : `02:b1:00:00:00:${(k >> 1).toString(16).padStart(2, '0')}`;
        }
        return create(`scale-${n}-${i}`, n, requested);
      }),
    );
    api.clearRequests();
    let t = performance.now();
    await perNode(pods, async (p) => {
      const r = await invoke(p, 'ADD');
      if (r.status === 0) p.mac = await macOf(p.netns);
    });
    const adds = phase(api.requests, o.nodes * o.pods, performance.now() - t);

    // 2. DELs of every deleteEvery-th pod.
    const gone = pods.map((ps) => ps.filter((p, i) => i % o.deleteEvery === o.deleteEvery - 1 && p.mac));
    api.clearRequests();
    t = performance.now();
    await perNode(gone, async (p) => {
      await invoke(p, 'DEL');
      sb.dropNetns(p.netns);
    });
    const dels = phase(api.requests, gone.flat().length, performance.now() - t);

    // 3. The deleted pods created again on the next node: the sticky lookup finds their MACs on the old node's homes.
    const again = Array.from({ length: o.nodes }, (_, n) => gone[(n + o.nodes - 1) % o.nodes]!.map((p) => ({ old: p, pod: create(p.name, n, p.requested) })));
    api.clearRequests();
    t = performance.now();
    let same = 0;
    await perNode(again, async ({ old, pod }) => {
      const r = await invoke(pod, 'ADD');
      if (r.status === 0 && (await macOf(pod.netns)) === old.mac) same++;
    });
    const re = phase(api.requests, again.flat().length, performance.now() - t);

    const add: Phase = { ops: adds.ops + re.ops, requests: 0, bytes: 0, cmRequests: 0, cmBytes: 0, writes: 0, conflicts: 0, ms: adds.ms + re.ms };
    for (const k of ['requests', 'bytes', 'cmRequests', 'cmBytes', 'writes', 'conflicts'] as const) add[k] = adds[k] + re[k];
    const cms: Cm[] = api.list('ConfigMap', MAC_NS).map((x) => ({ name: x.metadata!.name!, labels: (x.metadata!.labels ?? {}) as Record<string, string>, data: ((x as { data?: Record<string, string> }).data ?? {}) }));
    const c = census(cms.filter((cm) => cm.labels?.[LEDGER_LABEL] !== undefined), Math.floor(Date.now() / 1000), GRACE);
    return { opts: o, add, del: dels, recreated: { pods: again.flat().length, same }, duplicates: c.duplicates.length, damaged: c.damaged.length, kinds: objectKinds(cms), failed };
  } finally {
    await api.stop();
  }
}
