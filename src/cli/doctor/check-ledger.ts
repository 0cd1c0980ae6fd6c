// Doctor's ledger checks, judged from the ConfigMaps and this node's journal: integrity, local agreement, duplicates (pure).
import { census, LEDGER_KINDS, type Census, type Entry } from '../../mac/census';
import { poolView, type PoolView } from '../../mac/pool';
import { homeOf, leaseNode, POOL_CM } from '../../mac/home';
import { blockCount, blockOf, macToInt, rangeText } from '../../mac/range';
import { apiDown } from './check-api';
import type { Check, CheckName, Facts } from './types';

const NODE_PREFIX = 'macmux-ledger-';
const MAX_LISTED = 5;
/** Every ledger object stays under this by design (docs/ledger.md); above it, one grew as it should not. */
const OBJECT_BOUND = 256 * 1024;

/** The picture all three checks share, or why they cannot run. */
type Ledger = { skip: string; failure?: string } | { view?: PoolView; viewError?: string; census?: Census; cmCount: number };

function ledgerOf(f: Facts): Ledger {
  const down = apiDown(f);
  if (down) return { skip: down };
  if (!f.cms) return { skip: 'not checked' };
  if (f.cms.error !== undefined) {
    const refused = f.rbac?.some((r) => r.resource === 'configmaps' && r.verb === 'list' && !r.allowed);
    return refused ? { skip: `cannot list the ledger ConfigMaps (see rbac): ${f.cms.error}` } : { skip: 'the ledger ConfigMaps could not be listed', failure: f.cms.error };
  }
  const cms = f.cms.items;
  const pool = cms.find((c) => c.name === POOL_CM);
  let view: PoolView | undefined;
  try {
    view = pool && poolView(pool);
  } catch (e) {
    return { viewError: (e as Error).message, cmCount: cms.length };
  }
  return { ...(view ? { view } : {}), census: census(cms, f.now, f.graceSec), cmCount: cms.length };
}

/** `a; b; c; and 4 more`. */
function listed(items: string[]): string {
  const more = items.length - MAX_LISTED;
  return items.slice(0, MAX_LISTED).join('; ') + (more > 0 ? `; and ${more} more` : '');
}

const skip = (name: CheckName, detail: string): Check => ({ name, status: 'skip', detail });

export function integrityCheck(f: Facts, l: Ledger = ledgerOf(f)): Check {
  if ('skip' in l) {
    if (l.failure === undefined) return skip('integrity', l.skip);
    return { name: 'integrity', status: 'fail', detail: l.failure, hint: 'check the API server and the rbac check, then rerun' };
  }
  const ns = f.namespace;
  if (l.viewError !== undefined) {
    return { name: 'integrity', status: 'fail', detail: l.viewError, hint: `repair ${POOL_CM} in ${ns} (RANGE_START, RANGE_END, BLOCK_SIZE, LEASES): kubectl edit configmap -n ${ns} ${POOL_CM}` };
  }
  const c = l.census!;
  if (!l.view) {
    if (l.cmCount > 0) {
      return {
        name: 'integrity',
        status: 'fail',
        detail: `${POOL_CM} is missing from ${ns}, but ${l.cmCount} ledger ConfigMaps exist`,
        hint: `restore ${POOL_CM} (RANGE_START, RANGE_END, BLOCK_SIZE and LEASES) from a backup; without it the node ledgers' blocks are unknown`,
      };
    }
    if (f.conf?.macPool) {
      return {
        name: 'integrity',
        status: 'warn',
        detail: `${POOL_CM} does not exist in ${ns} yet: the first ADD creates it from macPool ${f.conf.macPool.rangeStart}-${f.conf.macPool.rangeEnd}`,
        hint: `to choose the range for the whole cluster, apply the pool ConfigMap from daemonset/ (RANGE_START, RANGE_END) before the first pod`,
      };
    }
    return { name: 'integrity', status: 'ok', detail: `MAC ledger off: no macPool in the config and no ledger ConfigMaps in ${ns}` };
  }
  const { spec, leases } = l.view;
  const problems: string[] = [];
  for (const [block, node] of Object.entries(leases)) {
    if (!/^\d+$/.test(block) || Number(block) >= blockCount(spec) || typeof node !== 'string' || !node) {
      problems.push(`${POOL_CM} LEASES ${JSON.stringify(block)}: ${JSON.stringify(node)} is not a lease of a block of ${rangeText(spec)}`);
    }
  }
  for (const d of c.damaged) problems.push(`damaged: ${d}`);
  const reported = new Set<Entry>();
  for (const e of c.entries) {
    if (!e.cm.startsWith(NODE_PREFIX)) continue;
    // A block's home is named after its lease value: `<node>.b<k>` (one block) or a legacy bare `<node>` (any of its legacy blocks).
    const value = e.cm.slice(NODE_PREFIX.length);
    const block = blockOf(spec, macToInt(e.mac));
    if (block !== undefined && leases[String(block)] === value) continue;
    const node = /\.b\d+$/.test(value) ? leaseNode(value, value.slice(value.lastIndexOf('.b') + 2)) : value;
    problems.push(`${e.cm} records ${e.mac} (${e.owner}, ${e.state}) outside the ${node === value ? 'blocks' : `block ${value.slice(value.lastIndexOf('.b') + 2)}`} leased to ${node}`);
    reported.add(e);
  }
  let leftovers = 0;
  for (const e of c.entries) {
    if (!e.live || e.atHome || reported.has(e)) continue;
    const home = homeOf(e.mac, macToInt(e.mac), spec, leases);
    const there = c.entries.find((x) => x.mac === e.mac && x.cm === home);
    if (e.cm === POOL_CM && (!there || there.owner === e.owner)) {
      leftovers++; // a claim made before its block was leased, not migrated yet
      continue;
    }
    problems.push(
      e.cm === POOL_CM
        ? `${e.mac}: leftover of ${e.owner} in ${POOL_CM}, but its home ${home} holds it for ${there!.owner}`
        : `${e.mac} held by ${e.owner} in ${e.cm}, but its home is ${home}`,
    );
  }
  if (problems.length) {
    return {
      name: 'integrity',
      status: 'fail',
      detail: `${problems.length} problem${problems.length === 1 ? '' : 's'}: ${listed(problems)}`,
      hint: `inspect with macmux ledger show <mac> and kubectl get configmap -n ${ns} <name> -o yaml; remove damaged or stray keys (kubectl edit configmap), then rerun`,
      data: { problems },
    };
  }
  const live = c.entries.filter((e) => e.live).length;
  const nodes = Object.keys(c.leases).length;
  const kinds = LEDGER_KINDS.filter((k) => c.objects[k] > 0);
  const big = kinds.filter((k) => c.largest[k] > OBJECT_BOUND);
  return {
    name: 'integrity',
    status: big.length ? 'warn' : 'ok',
    detail:
      `${POOL_CM} ${rangeText(spec)}: ${c.poolSize} MACs in blocks of ${spec.blockSize}, ${c.blocksLeased} leased to ${nodes} node${nodes === 1 ? '' : 's'}, ${c.allocated} allocated; ` +
      `${l.cmCount} ConfigMaps (${kinds.map((k) => `${c.objects[k]} ${k}`).join(', ')}), ${live} live holding${live === 1 ? '' : 's'} at ${live === 1 ? 'its home' : 'their homes'}${leftovers ? ` (${leftovers} leftover${leftovers === 1 ? '' : 's'} in ${POOL_CM} awaiting migration)` : ''}` +
      (big.length ? `; over the ${OBJECT_BOUND / 1024} KiB bound: the largest ${big.map((k) => `${k} ConfigMap has ${c.largest[k]} bytes`).join(', the largest ')}` : ''),
    ...(big.length ? { hint: `see docs/ledger.md (size bounds): a block larger than 256 MACs (BLOCK_SIZE in ${POOL_CM}) makes block ConfigMaps grow past it; the API server refuses objects over 1 MiB` } : {}),
    data: { poolSize: c.poolSize, allocated: c.allocated, blocksLeased: c.blocksLeased, leases: c.leases, configMaps: l.cmCount, objects: c.objects, largestBytes: c.largest, liveHoldings: live },
  };
}

export function agreementCheck(f: Facts, l: Ledger = ledgerOf(f)): Check {
  if (!f.conf) return skip('agreement', 'the config did not load, so its cacheDir is unknown');
  if ('skip' in l) return skip('agreement', l.skip);
  const jf = f.journal;
  if (!jf) return skip('agreement', 'not checked');
  if ('missing' in jf) return { name: 'agreement', status: 'ok', detail: `no journal at ${jf.file}: no pod on this node has taken a ledger MAC` };
  if ('error' in jf) {
    return {
      name: 'agreement',
      status: 'fail',
      detail: `journal ${jf.file} is damaged: ${jf.error}`,
      hint: 'run macmux ledger sync: it moves the damaged journal aside and continues from the ConfigMaps',
    };
  }
  const entries = Object.entries(jf.journal.entries);
  if (entries.length === 0) return { name: 'agreement', status: 'ok', detail: `journal ${jf.file} holds no MACs` };
  if (l.viewError !== undefined || !l.view) return skip('agreement', `${POOL_CM} is ${l.viewError !== undefined ? 'invalid' : 'missing'} (see integrity), so the MACs' homes are unknown`);
  const { spec, leases } = l.view;
  const all = l.census!.entries;
  const fails: string[] = [];
  const warns: string[] = [];
  const pending: string[] = [];
  const counts: Record<string, number> = { active: 0, reserved: 0, released: 0 };
  for (const [mac, e] of entries) {
    counts[e.state] = (counts[e.state] ?? 0) + 1;
    if (e.pendingRelease) pending.push(mac);
    if (e.state === 'released') continue;
    const home = homeOf(mac, macToInt(mac), spec, leases);
    const held = all.some((x) => x.mac === mac && (x.cm === home || x.cm === POOL_CM) && x.owner === e.owner && x.state !== 'released');
    if (held) continue;
    const there = all.find((x) => x.mac === mac && x.cm === home);
    const what = `${mac}: the journal has it ${e.state} for ${e.owner}, ${home} ${there ? `has it ${there.state} for ${there.owner}` : 'has no entry'}`;
    (e.state === 'active' ? fails : warns).push(what);
  }
  const data = { journal: jf.file, counts, ...(fails.length || warns.length ? { mismatches: [...fails, ...warns] } : {}), ...(pending.length ? { pendingRelease: pending } : {}) };
  if (fails.length) {
    return {
      name: 'agreement',
      status: 'fail',
      detail: listed([...fails, ...warns]),
      hint: 'run macmux ledger sync, then macmux ledger show <mac>; a pod using a MAC the cluster does not record for it risks a duplicate: re-create that pod',
      data,
    };
  }
  if (warns.length || pending.length) {
    const parts = [...(pending.length ? [`${pending.length} release${pending.length === 1 ? '' : 's'} not yet pushed to the cluster (${pending.slice(0, MAX_LISTED).join(', ')})`] : []), ...warns];
    return {
      name: 'agreement',
      status: 'warn',
      detail: listed(parts),
      hint: pending.length
        ? 'run macmux ledger sync to push them (the next CNI call on this node does it too)'
        : 'an ADD under way, or one that died: the next CNI call on this node (or macmux ledger sync) releases reservations of dead ADDs',
      data,
    };
  }
  return {
    name: 'agreement',
    status: 'ok',
    detail: `journal ${jf.file}: ${entries.length} MAC${entries.length === 1 ? '' : 's'} (${counts.active} active, ${counts.reserved} reserved, ${counts.released} released) agree with the ConfigMaps`,
    data,
  };
}

export function duplicatesCheck(f: Facts, l: Ledger = ledgerOf(f)): Check {
  if ('skip' in l) return skip('duplicates', l.skip);
  if (l.viewError !== undefined) return skip('duplicates', `cannot be computed: ${POOL_CM} is invalid (see integrity)`);
  const c = l.census!;
  const dups = c.duplicates.map((d) => ({ mac: d.mac, holders: d.holders.map((h) => ({ owner: h.owner, state: h.state, node: h.node, configMap: h.cm, since: h.since })) }));
  if (dups.length) {
    return {
      name: 'duplicates',
      status: 'fail',
      detail: `${dups.length} MAC${dups.length === 1 ? '' : 's'} held by more than one owner: ${listed(dups.map((d) => `${d.mac} held by ${d.holders.map((h) => `${h.owner} (${h.configMap})`).join(' and ')}`))}`,
      hint: `keep one owner per MAC: delete the pod that must not have it (its next ADD gets a new MAC) and release its holding with macmux ledger release <mac> --force, or remove a copy kept outside the MAC's home with kubectl edit configmap -n ${f.namespace} <name>`,
      data: { duplicates: dups },
    };
  }
  const live = c.entries.filter((e) => e.live).length;
  return { name: 'duplicates', status: 'ok', detail: `no MAC is held by more than one owner (${live} live holding${live === 1 ? '' : 's'})` };
}

/** The three ledger checks over one census. */
export function ledgerChecks(f: Facts): Check[] {
  const l = ledgerOf(f);
  return [integrityCheck(f, l), agreementCheck(f, l), duplicatesCheck(f, l)];
}
