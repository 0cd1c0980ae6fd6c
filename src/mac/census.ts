// A census of the cluster ledger from its ConfigMaps: every holding, the pool's figures, and MACs held twice (pure).
import { decodeHolding, isFree, keyMac, type Holding } from './holding';
import { blocksOf, homeOf, POOL_CM } from './home';
import { inRange, macToInt, poolSize, type PoolSpec } from './range';
import { poolView } from './cluster';
import type { Cm } from './store';

/** One holding as recorded in one ConfigMap. */
export interface Entry extends Holding {
  mac: string;
  /** The ConfigMap it is recorded in. */
  cm: string;
  /** Whether `cm` is the MAC's home by the home rule (a leftover or a stray copy otherwise). */
  atHome: boolean;
  /** Reserved or active, or released but still in its owner's grace period. */
  live: boolean;
}

export interface Census {
  spec?: PoolSpec;
  /** Assignable MACs in the range. */
  poolSize: number;
  /** Distinct MACs of the range with a live holding. */
  allocated: number;
  blocksLeased: number;
  /** Blocks leased per node. */
  leases: Record<string, number>;
  entries: Entry[];
  /** MACs with live holdings of more than one owner. */
  duplicates: Array<{ mac: string; holders: Entry[] }>;
  /** Values that are not holdings, and keys that are not MACs: "cm: key". */
  damaged: string[];
}

const RESERVED = new Set(['RANGE_START', 'RANGE_END', 'BLOCK_SIZE', 'LEASES']);

/** Reads every ledger ConfigMap (pool, node ledgers, claims shards) into one picture. */
export function census(cms: Cm[], now: number, graceSec: number): Census {
  const pool = cms.find((c) => c.name === POOL_CM);
  const view = pool ? poolView(pool) : undefined;
  const entries: Entry[] = [];
  const damaged: string[] = [];
  for (const cm of cms) {
    for (const [key, value] of Object.entries(cm.data)) {
      if (RESERVED.has(key)) continue;
      const h = decodeHolding(value);
      if (!/^[0-9a-f]{12}$/.test(key) || !h) {
        damaged.push(`${cm.name}: ${key}`);
        continue;
      }
      const mac = keyMac(key);
      const home = view ? homeOf(mac, macToInt(mac), view.spec, view.leases) : undefined;
      entries.push({ ...h, mac, cm: cm.name, atHome: home === cm.name, live: !isFree(h, now, graceSec) });
    }
  }
  entries.sort((a, b) => a.mac.localeCompare(b.mac) || a.cm.localeCompare(b.cm));

  const byMac = new Map<string, Entry[]>();
  for (const e of entries) if (e.live) byMac.set(e.mac, [...(byMac.get(e.mac) ?? []), e]);
  const duplicates = [...byMac].filter(([, hs]) => new Set(hs.map((h) => h.owner)).size > 1).map(([mac, holders]) => ({ mac, holders }));
  const allocated = view ? [...byMac.keys()].filter((m) => inRange(view.spec, macToInt(m))).length : 0;
  const leases: Record<string, number> = {};
  for (const node of new Set(Object.values(view?.leases ?? {}))) leases[node] = blocksOf(view!.leases, node).length;
  return {
    ...(view ? { spec: view.spec } : {}),
    poolSize: view ? poolSize(view.spec) : 0,
    allocated,
    blocksLeased: Object.keys(view?.leases ?? {}).length,
    leases,
    entries,
    duplicates,
    damaged,
  };
}
