// Section 8a: N nodes × M pool ADDs in one process, the real ClusterLedger on a MemoryStore: duplicates, writes and reads per ADD, the largest object of each kind.
import { CniError, Code } from '../../src/cni/errors';
import { MAX_OBJECT_BYTES } from '../../src/mac/cas';
import { census, dataBytes, kindOf } from '../../src/mac/census';
import { ClusterLedger } from '../../src/mac/cluster';
import { ownerOf } from '../../src/mac/holding';
import { LEDGER_LABEL } from '../../src/mac/home';
import { blockBounds, blockCount, intToMac, parseRange } from '../../src/mac/range';
import { MemoryStore, type Cm, type CmStore } from '../../src/mac/store';
import { prng } from '../../test/prng';

/** The largest object any kind may reach: the ledger's bound, 256 KiB of JSON data. */
export const OBJECT_LIMIT = MAX_OBJECT_BYTES;

export interface ScaleOptions {
  nodes: number;
  /** ADDs per node (one per step); DELs come on top. */
  adds: number;
  /** Share of ADDs that ask for a MAC: half inside the range in blocks nobody leases, half outside it. */
  requested: number;
  /** Share of the requested ones asked for at the same step by a pod of a second node of the same group. */
  contested: number;
  /** Share of pods deleted 1–20 steps after their ADD. */
  deleted: number;
  /** Share of deleted pods created again (same name, another UID), 1–1.5 grace periods of steps later. */
  recreated: number;
  /** Share of those created again on another node (the rest on the same one). */
  elsewhere: number;
  /** Nodes whose operations run at the same time (Promise.all); the groups take turns at each step. */
  parallel: number;
  graceSec: number;
  /** Seconds of the simulated clock per step. */
  stepSec: number;
  seed: number;
  range: { rangeStart: string; rangeEnd: string; blockSize: number };
}

export const SCALE_DEFAULTS: ScaleOptions = {
  nodes: 1000,
  adds: 200,
  requested: 0.05,
  contested: 0.1,
  deleted: 0.2,
  recreated: 0.5,
  elsewhere: 0.5,
  parallel: 8,
  graceSec: 600,
  stepSec: 5,
  seed: 1,
  range: { rangeStart: '02:aa:00:00:00:00', rangeEnd: '02:aa:00:ff:ff:ff', blockSize: 256 },
};

/** What a kind of operation cost the store: requests (every store call), write calls (409s and 'exists' included), successful writes, objects and bytes read. */
export interface Tally {
  ops: number;
  requests: number;
  attempts: number;
  writes: number;
  objects: number;
  bytes: number;
  /** Write calls refused (409, or 'exists' on a create), by the kind of object written. */
  refusedByKind: Record<string, number>;
}

export interface ScaleFigures {
  opts: ScaleOptions;
  add: Tally;
  del: Tally;
  /** ADDs of a contested MAC refused with code 100 (the other node got it): expected, one per contested pair. */
  refused: number;
  /** ADDs or DELs that failed otherwise: none expected; the first message kept. */
  failed: number;
  firstFailure?: string;
  /** census() over the ledger ConfigMaps at the end: MACs with live holdings of more than one owner, damaged entries. */
  duplicates: number;
  damaged: number;
  /** The simulation's own check: ADDs that got a MAC a live pod of another owner had. */
  liveClashes: number;
  /** Pods created again within the grace period, and how many of them got their MAC back. */
  sticky: { within: number; same: number };
  /** Per kind (`macmux.io/ledger` value, `owners` for the owner index): how many objects, and the largest's name and bytes. */
  kinds: Record<string, { objects: number; largest: string; bytes: number }>;
  ms: number;
}

/** A pod as the simulation tracks it: owner and UID, and the MAC it asks for (requested) or got. */
interface Pod {
  owner: string;
  uid: string;
  requested?: string;
  mac?: string;
}

/** One simulated node: its ledger (whose seen cache lasts across its operations, as the per-node seen file does) and its queues. */
interface Node {
  name: string;
  cluster: ClusterLedger;
  /** Whose operations the store calls count for now (a node runs one at a time, as under its ledger lock). */
  tally: Tally;
  dels: Array<{ at: number; pod: Pod }>;
  /** Pods created again here, and the MAC their previous incarnation released when. */
  recreations: Array<{ at: number; pod: Pod; before: { mac: string; releasedAt: number } }>;
  /** This step's ADD, when planned by another node (the second side of a contested MAC). */
  planned?: Pod;
}

/**
 * One pod's ADD, as src/plugin/macs.ts `assign` does it for one attachment: a requested MAC is claimed on
 * its home; otherwise the owner's MAC back (findOwner, then claim; a conflict falls back) or a new one.
 */
export async function addModel(cluster: ClusterLedger, who: { owner: string; uid: string }, requested?: string): Promise<string> {
  if (requested) {
    await cluster.claim(requested, who);
    return requested;
  }
  const sticky = await cluster.findOwner(who);
  if (sticky !== undefined) {
    try {
      await cluster.claim(sticky, who);
      return sticky;
    } catch (e) {
      if (!(e instanceof CniError && e.code === Code.MacConflict)) throw e;
    }
  }
  return cluster.allocate(who);
}

/** One pod's DEL: its MAC released on its home, kept for its owner for the grace period, and the owner index pointed at it. */
export async function delModel(cluster: ClusterLedger, who: { owner: string; uid: string }, mac: string): Promise<void> {
  if (await cluster.release(mac, who)) await cluster.recordReleased([{ mac, who }]);
}

const newTally = (): Tally => ({ ops: 0, requests: 0, attempts: 0, writes: 0, objects: 0, bytes: 0, refusedByKind: {} });

/**
 * `node`'s view of `store`: every call is one request, counted on the node's current tally with what it
 * wrote and read. MemoryStore does its work before its first await, so the counters' change right after
 * the call is that call's alone, whatever other nodes' calls are pending.
 */
function metered(store: MemoryStore, node: () => Tally): CmStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        const [a, w, o, b] = [target.attempts, target.writes, target.objectsRead, target.bytesRead];
        const out = (v as (...x: unknown[]) => unknown).apply(target, args);
        const t = node();
        t.requests++;
        t.attempts += target.attempts - a;
        t.writes += target.writes - w;
        const refused = target.attempts - a - (target.writes - w);
        if (refused > 0) {
          // An update or create names its ConfigMap; a delete, its name.
          const k = kindOf(typeof args[0] === 'string' ? { name: args[0], data: {} } : (args[0] as Cm));
          t.refusedByKind[k] = (t.refusedByKind[k] ?? 0) + refused;
        }
        t.objects += target.objectsRead - o;
        t.bytes += target.bytesRead - b;
        return out;
      };
    },
  });
}

/** Objects per kind and the largest of each (bytes = UTF-8 length of JSON.stringify(data)). */
export function objectKinds(cms: Iterable<Cm>): ScaleFigures['kinds'] {
  const kinds: ScaleFigures['kinds'] = {};
  for (const cm of cms) {
    const k = (kinds[kindOf(cm)] ??= { objects: 0, largest: '', bytes: -1 });
    k.objects++;
    const bytes = dataBytes(cm);
    if (bytes > k.bytes) Object.assign(k, { largest: cm.name, bytes });
  }
  return kinds;
}

/** Runs the simulation on `store` (a test passes one that breaks a rule, to see the checks catch it). */
export async function simulate(over: Partial<ScaleOptions> = {}, store = new MemoryStore()): Promise<ScaleFigures> {
  const o: ScaleOptions = { ...SCALE_DEFAULTS, ...over };
  const t0 = performance.now();
  const rand = prng(o.seed);
  const pick = (n: number) => Math.floor(rand() * n);
  const T0 = 1_700_000_000;
  const clock = { t: T0 };
  const add = newTally();
  const del = newTally();
  const spec = parseRange(o.range.rangeStart, o.range.rangeEnd, o.range.blockSize);
  const nodes: Node[] = Array.from({ length: o.nodes }, (_, i) => {
    const node = { name: `node-${String(i).padStart(4, '0')}`, tally: add, dels: [], recreations: [] } as unknown as Node;
    node.cluster = new ClusterLedger(metered(store, () => node.tally), { node: node.name, graceSec: o.graceSec, fallback: o.range, now: () => clock.t });
    return node;
  });

  // Requested MACs, each asked for once (a pod created again asks for its own again): inside the range in its
  // last blocks (leased first-free-first, the pool never reaches them), half full at most; or outside it.
  const inRangeWanted = Math.ceil((o.nodes * o.adds * o.requested) / 2) + 1;
  const topBlocks = Math.max(4, Math.ceil(inRangeWanted / (o.range.blockSize / 2)));
  const blocks = blockCount(spec);
  let nextInside = 0;
  let nextOutside = 0;
  const insideMac = () => {
    const i = nextInside++;
    const [lo] = blockBounds(spec, blocks - 1 - (i % topBlocks));
    return intToMac(lo + 1 + Math.floor(i / topBlocks));
  };
  const outsideMac = () => intToMac(spec.end + 1 + 7919 * nextOutside++);
  let pods = 0;
  const newPod = (requested?: string): Pod => {
    const id = pods++;
    return { owner: ownerOf(`ns-${id % 97}`, `pod-${id}`, 'net1'), uid: `uid-${id}-1`, ...(requested ? { requested } : {}) };
  };

  const live = new Map<string, Pod>();
  let refused = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  let liveClashes = 0;
  const sticky = { within: 0, same: 0 };
  const fail = (what: string, e: unknown) => {
    failed++;
    firstFailure ??= `${what}: ${(e as Error).message}`;
  };

  const runAdd = async (n: Node, step: number, pod: Pod, before?: { mac: string; releasedAt: number }) => {
    n.tally = add;
    add.ops++;
    let mac: string;
    try {
      mac = await addModel(n.cluster, pod, pod.requested);
    } catch (e) {
      if (e instanceof CniError && e.code === Code.MacConflict && pod.requested) refused++;
      else fail(`ADD ${pod.owner} on ${n.name}`, e);
      return;
    }
    const other = live.get(mac);
    if (other && other !== pod) liveClashes++;
    live.set(mac, pod);
    pod.mac = mac;
    if (before && clock.t - before.releasedAt < o.graceSec) {
      sticky.within++;
      if (before.mac === mac) sticky.same++;
    }
    if (rand() < o.deleted) n.dels.push({ at: step + 1 + pick(20), pod });
  };
  const runDel = async (n: Node, step: number, pod: Pod) => {
    n.tally = del;
    del.ops++;
    try {
      await delModel(n.cluster, pod, pod.mac!);
    } catch (e) {
      fail(`DEL ${pod.owner} on ${n.name}`, e);
      return;
    }
    if (live.get(pod.mac!) === pod) live.delete(pod.mac!);
    if (rand() < o.recreated) {
      const to = rand() < o.elsewhere ? nodes[pick(nodes.length)]! : n;
      const again: Pod = { owner: pod.owner, uid: pod.uid.replace(/-(\d+)$/, (_, g: string) => `-${Number(g) + 1}`), ...(pod.requested ? { requested: pod.requested } : {}) };
      to.recreations.push({ at: step + 1 + pick(Math.ceil((1.5 * o.graceSec) / o.stepSec)), pod: again, before: { mac: pod.mac!, releasedAt: clock.t } });
    }
  };

  /** One node's step: its DELs due, then one ADD (a pod created again if one is due, else a new one). */
  const stepOf = async (n: Node, step: number, pod: Pod, before?: { mac: string; releasedAt: number }) => {
    const due = n.dels.filter((d) => d.at <= step);
    n.dels = n.dels.filter((d) => d.at > step);
    for (const d of due) await runDel(n, step, d.pod);
    await runAdd(n, step, pod, before);
  };

  for (let step = 0; step < o.adds; step++) {
    clock.t = T0 + step * o.stepSec;
    for (let g = 0; g < nodes.length; g += o.parallel) {
      const group = nodes.slice(g, g + o.parallel);
      const work: Array<Promise<void>> = [];
      for (const [i, n] of group.entries()) {
        let pod = n.planned;
        let before: { mac: string; releasedAt: number } | undefined;
        n.planned = undefined;
        if (!pod) {
          const r = n.recreations.findIndex((x) => x.at <= step);
          if (r >= 0) {
            const [again] = n.recreations.splice(r, 1);
            ({ pod, before } = again!);
          } else if (rand() < o.requested) {
            const mac = rand() < 0.5 ? insideMac() : outsideMac();
            pod = newPod(mac);
            // The same MAC asked for by a pod of another node of this group, at this step.
            const rival = group.slice(i + 1).find((m) => !m.planned);
            if (rival && rand() < o.contested) rival.planned = newPod(mac);
          } else pod = newPod();
        }
        work.push(stepOf(n, step, pod, before));
      }
      await Promise.all(work);
    }
  }

  const cms = [...store.cms.values()];
  const c = census(
    cms.filter((cm) => cm.labels?.[LEDGER_LABEL] !== undefined),
    clock.t,
    o.graceSec,
  );
  return { opts: o, add, del, refused, failed, ...(firstFailure ? { firstFailure } : {}), duplicates: c.duplicates.length, damaged: c.damaged.length, liveClashes, sticky, kinds: objectKinds(cms), ms: performance.now() - t0 };
}
