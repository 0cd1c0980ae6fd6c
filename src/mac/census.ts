// A census of the cluster ledger from its ConfigMaps: every holding, the pool's figures, objects per kind, and MACs held twice (pure).
import { createHash } from 'node:crypto';
import { decodeHolding, isFree, keyMac, type Holding } from './holding';
import { homeOf, homesOf, kindOf as kindOfName, leaseNode, LEDGER_LABEL, POOL_CM, type Leases } from './home';
import { isMovedKey } from './migrate';
import { OWNERS_LABEL, OWNERS_PREFIX } from './owners';
import { blockBounds, blockCount, blockOf, inRange, macToInt, poolSize, type PoolSpec } from './range';
import { poolView, RESERVED_KEYS } from './pool';
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

/** The kinds of ledger object: the pool, a block's home (new), a node's legacy ledger, a claims shard, an owner-index object. */
export const LEDGER_KINDS = ['pool', 'block', 'node', 'claims', 'owners'] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];

const CLAIMS_PREFIX = 'macmux-claims-';

/** The claims shards: 256, `macmux-claims-<xx>`. */
const SHARDS = 256;

/**
 * What one node's periodic census reads besides the pool, at its `turn`-th scan: the homes of its
 * blocks, and one claims shard by rotation. The rotation starts at a hash of the node's name, so that
 * at any moment the nodes of a cluster look at different shards, and each node goes through all 256
 * in 256 scans. (The owner index has one small object per pod, not shards: the census reads none.)
 */
export function nodeShare(leases: Leases, node: string, turn: number): string[] {
  const start = createHash('sha256').update(node).digest()[0]!;
  const shard = ((start + turn) % SHARDS).toString(16).padStart(2, '0');
  return [...homesOf(leases, node), `${CLAIMS_PREFIX}${shard}`];
}

/** The kind of a ledger ConfigMap: from its label (the index label means owners), else from its name. */
export function kindOf(cm: Cm): LedgerKind {
  if (cm.labels?.[OWNERS_LABEL] !== undefined) return 'owners';
  const label = cm.labels?.[LEDGER_LABEL] as LedgerKind | undefined;
  if (label && (LEDGER_KINDS as readonly string[]).includes(label) && label !== 'owners') return label;
  return cm.name.startsWith(OWNERS_PREFIX) ? 'owners' : kindOfName(cm.name);
}

/** The size the API server stores for the ConfigMap's data, near enough: the UTF-8 bytes of its JSON. */
export const dataBytes = (cm: Cm) => Buffer.byteLength(JSON.stringify(cm.data));

export interface Census {
  spec?: PoolSpec;
  /** Assignable MACs in the range. */
  poolSize: number;
  /** Blocks the range is cut into. */
  blocks: number;
  /**
   * Distinct MACs of the range with a live holding. With a `node` scope, only those at that node's
   * homes, so that the figures of every node add up to the cluster's.
   */
  allocated: number;
  blocksLeased: number;
  /** Blocks leased per node (new-style and legacy leases alike). */
  leases: Record<string, number>;
  /** With a `node` scope: assignable MACs of its blocks not held live at their homes (0: its next pool ADD must lease a block). */
  nodeFree?: number;
  /** ConfigMaps read, per kind. */
  objects: Record<LedgerKind, number>;
  /** The largest ConfigMap read of each kind, in bytes of its data's JSON (0: none). */
  largest: Record<LedgerKind, number>;
  entries: Entry[];
  /** MACs with live holdings of more than one owner. */
  duplicates: Array<{ mac: string; holders: Entry[] }>;
  /** Values that are not holdings, and keys that are not MACs: "cm: key". */
  damaged: string[];
}

export interface CensusScope {
  /** Count `allocated` and `nodeFree` for this node's homes only (the DaemonSet's node-local census). */
  node?: string;
}

const perKind = (): Record<LedgerKind, number> => ({ pool: 0, block: 0, node: 0, claims: 0, owners: 0 });

/** Reads the ledger ConfigMaps given (all of them, or one node's share) into one picture; owner-index objects are counted, never read as holdings. */
export function census(cms: Cm[], now: number, graceSec: number, scope: CensusScope = {}): Census {
  const pool = cms.find((c) => c.name === POOL_CM);
  const view = pool ? poolView(pool) : undefined;
  const entries: Entry[] = [];
  const damaged: string[] = [];
  const objects = perKind();
  const largest = perKind();
  for (const cm of cms) {
    const kind = kindOf(cm);
    objects[kind]++;
    largest[kind] = Math.max(largest[kind], dataBytes(cm));
    if (kind === 'owners') continue; // `mac|since|key` hints, not holdings
    for (const [key, value] of Object.entries(cm.data)) {
      if (RESERVED_KEYS.has(key) || isMovedKey(key)) continue; // `moved.b<k>`: a migration marker (migrate.ts)
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
  const leasesOf = view?.leases ?? {};
  const leases: Record<string, number> = {};
  for (const [k, v] of Object.entries(leasesOf)) leases[leaseNode(v, k)] = (leases[leaseNode(v, k)] ?? 0) + 1;

  let allocated = 0;
  let nodeFree: number | undefined;
  if (view) {
    const inScope = scope.node === undefined ? undefined : new Set(homesOf(leasesOf, scope.node));
    const counted = (hs: Entry[]) => (inScope ? hs.some((e) => e.atHome && inScope.has(e.cm)) : true);
    allocated = [...byMac].filter(([m, hs]) => inRange(view.spec, macToInt(m)) && counted(hs)).length;
    if (scope.node !== undefined) {
      const mine = Object.keys(leasesOf).filter((k) => leaseNode(leasesOf[k]!, k) === scope.node).map(Number);
      const [size, held] = [mine.reduce((n, k) => n + blockSize(view.spec, k), 0), new Set<string>()];
      for (const e of entries) if (e.live && e.atHome && mine.includes(blockOf(view.spec, macToInt(e.mac)) ?? -1)) held.add(e.mac);
      nodeFree = Math.max(0, size - held.size);
    }
  }
  return {
    ...(view ? { spec: view.spec } : {}),
    poolSize: view ? poolSize(view.spec) : 0,
    blocks: view ? blockCount(view.spec) : 0,
    allocated,
    blocksLeased: Object.keys(leasesOf).length,
    leases,
    ...(nodeFree !== undefined ? { nodeFree } : {}),
    objects,
    largest,
    entries,
    duplicates,
    damaged,
  };
}

/** Assignable MACs in block `k`. */
function blockSize(spec: PoolSpec, k: number): number {
  const [lo, hi] = blockBounds(spec, k);
  return poolSize({ start: lo, end: hi, blockSize: spec.blockSize });
}
