// install's periodic retention sweep: frees retained MACs whose owner is gone, in this node's own homes only (flat cost per node).
import type { KubeApi } from '../k8s/api';
import { kubeStore } from '../k8s/cmstore';
import { ClusterLedger } from '../mac/cluster';
import { decodeHolding, keyMac } from '../mac/holding';
import { homesOf, POOL_CM, type Leases } from '../mac/home';
import { anchorState, sweepRetained, type Seen, type Swept } from '../mac/retention-sweep';
import { withApi, type ApiSettings } from './kube';
import type { InstallLog } from './log';

/** The sweep runs this many census intervals apart (the first one after one interval): anchors cost a GET each. */
export const SWEEP_EVERY = 10;

/**
 * The home ConfigMaps of the blocks `node` leases, from the pool's LEASES: a lease value is the node
 * (a legacy lease) or `<node>.b<k>` for block k, and its home is `macmux-ledger-<value>`.
 */
export function ownHomes(leasesJson: string | undefined, node: string): string[] {
  let leases: unknown;
  try {
    leases = JSON.parse(leasesJson ?? '{}');
  } catch {
    return [];
  }
  if (typeof leases !== 'object' || leases === null) return [];
  for (const v of Object.values(leases)) if (typeof v !== 'string') return [];
  return homesOf(leases as Leases, node);
}

/** One sweep over `node`'s homes: each anchor asked once, each holding whose anchor is gone freed at once. */
export async function sweepNode(api: KubeApi, namespace: string, node: string, graceSec: number): Promise<Swept[]> {
  const store = kubeStore(api, namespace);
  const pool = await store.get(POOL_CM);
  const seen: Seen[] = [];
  for (const name of ownHomes(pool?.data.LEASES, node)) {
    const cm = await store.get(name);
    for (const [key, value] of Object.entries(cm?.data ?? {})) {
      const h = /^[0-9a-f]{12}$/.test(key) && value.includes('|o:') ? decodeHolding(value) : undefined;
      if (h) seen.push({ ...h, mac: keyMac(key) });
    }
  }
  const cluster = new ClusterLedger(store, { node, graceSec });
  return sweepRetained(seen, (ns, anchor) => anchorState(api, ns, anchor), async (h) =>
    (await cluster.operatorRelease(h.mac, h.owner, true, { node: h.node, since: h.since, ...(h.uid !== undefined ? { uid: h.uid } : {}) })).held,
  );
}

/**
 * Starts the periodic sweep of this node's homes (none without a node name); returns its stop. Sweeps
 * never overlap, and a failed one is logged and tried again next time.
 */
export function startRetentionSweep(o: { api: ApiSettings; budgetMs: number; node?: string; graceSec: number; intervalSec: number; log: InstallLog }): () => void {
  const node = o.node;
  if (!node) {
    o.log.warn('retention sweep off: NODE_NAME is not set, so the homes of this node are unknown');
    return () => {};
  }
  let running = false;
  const sweep = async () => {
    if (running) return;
    running = true;
    try {
      const swept = await withApi(o.api, o.budgetMs, (api) => sweepNode(api, o.api.namespace, node, o.graceSec));
      for (const r of swept) {
        if (r.action === 'freed') o.log.info(`retention: freed MAC ${r.mac} of ${r.owner}: its owner ${r.anchor} is gone`);
        else if (r.action === 'kept') o.log.warn(`retention: kept MAC ${r.mac} of ${r.owner}: whether its owner ${r.anchor} exists could not be checked`);
      }
    } catch (e) {
      o.log.warn(`retention sweep failed, trying again later: ${(e as Error).message}`);
    } finally {
      running = false;
    }
  };
  const first = setTimeout(() => void sweep(), o.intervalSec * 1000);
  const timer = setInterval(() => void sweep(), o.intervalSec * SWEEP_EVERY * 1000);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
