// The cluster side of the ledger: the pool ConfigMap, block leases and every MAC's home, written only by compare-and-swap.
import { CniError, Code } from '../cni/errors';
import { decodeHolding, encodeHolding, holderText, isFree, isLiveEncoded, keyMac, macKey, mayTake, release, reserve, withoutRetention, type Claimant, type Holding, type Owner } from './holding';
import { CasCache, MAX_OBJECT_BYTES, Oversize, type FullBlocks } from './cas';
import { blocksOf, homeOf, isLegacyLease, kindOf, leaseValue, ledgerCm, ledgerLabels, LEDGER_LABEL, ownBlocks, POOL_CM } from './home';
import { migrateBlock, type BlockMigration } from './migrate-block';
import { movedAway } from './migrate';
import { poolGone, poolView, RESERVED_KEYS, type PoolView } from './pool';
import { indexKey, lookupOwner, OWNERS_LABEL, putOwners, type OwnerEntry } from './owners';
import { blockBounds, blockCount, blockOf, freeInBlock, intToMac, macToInt, nextAssignable, parseRange, rangeText } from './range';
import type { Cm, CmStore } from './store';

export interface ClusterOptions {
  node: string;
  /** How long a released MAC stays its owner's. */
  graceSec: number;
  /** The range to create the pool with when its ConfigMap does not exist yet (config macPool). */
  fallback?: { rangeStart: string; rangeEnd: string; blockSize?: number };
  now?: () => number;
  /** Give up after this many compare-and-swap conflicts on one object (code 11). */
  maxConflicts?: number;
  /** Where a failed owner-index write is reported: the index is a hint, its failure fails nothing. */
  warn?: (msg: string) => void;
  /** Waits between tries while a block is being migrated (tests pass a fake). */
  sleep?: (ms: number) => Promise<void>;
}

/** How many times a write turned away by a block being migrated reads the pool again (about 5 s in all) before code 11. */
const MOVE_RETRIES = 8;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The pool ConfigMap's bound, the same: a lease that would take it past is refused (code 101) with its own message. */
export const POOL_MAX_BYTES = MAX_OBJECT_BYTES;
/** How far a lease for a requested MAC (of a block nobody leased) may take the pool: three quarters of its bound. */
export const CLAIM_LEASE_BYTES = Math.floor(POOL_MAX_BYTES * 0.75);





/**
 * Who asks: an owner and its pod's UID (see Claimant; the node is the ledger's), and the retention
 * anchor (`Kind/name`) of a pod that keeps its MACs while its owner exists. A bare owner is a pod without a UID.
 */
export type Who = Owner | (Omit<Claimant, 'node'> & { retain?: string });

export class ClusterLedger {
  private readonly w: CasCache;
  private readonly now: () => number;

  constructor(
    private readonly store: CmStore,
    private readonly opts: ClusterOptions,
  ) {
    this.now = opts.now ?? (() => Math.floor(Date.now() / 1000));
    this.w = new CasCache(store, opts.maxConflicts);
  }

  /** Last seen ConfigMaps, so that the common case is one update with a known resourceVersion (the session saves and restores them). */
  get seen(): Map<string, Cm> {
    return this.w.seen;
  }

  /** Blocks found full at a ConfigMap's resourceVersion, skipped unread while it stands (see CasCache). */
  get fullBlocks(): Map<string, FullBlocks> {
    return this.w.fullBlocks;
  }

  /** The pool: read (or created from the config's macPool by the first node to arrive). */
  async pool(fresh = false): Promise<PoolView> {
    let cm = fresh ? undefined : this.seen.get(POOL_CM);
    cm ??= await this.store.get(POOL_CM);
    if (!cm) {
      const f = this.opts.fallback;
      if (!f) throw new CniError(Code.InvalidConfig, `no ${POOL_CM} ConfigMap and no macPool in the config to create it from`);
      const spec = parseRange(f.rangeStart, f.rangeEnd, f.blockSize);
      const created = await this.store.create({
        name: POOL_CM,
        labels: { [LEDGER_LABEL]: 'pool' },
        data: { RANGE_START: intToMac(spec.start), RANGE_END: intToMac(spec.end), BLOCK_SIZE: String(spec.blockSize), LEASES: '{}' },
      });
      cm = created === 'exists' ? await this.store.get(POOL_CM) : created;
      if (!cm) throw new CniError(Code.TryAgainLater, `${POOL_CM} vanished while being created`);
    }
    this.seen.set(POOL_CM, cm);
    return poolView(cm);
  }

  /**
   * The home of `mac` (`n` its integer) and the pool it was found in. The cached pool answers when it
   * shows the MAC's block leased or the MAC outside the range: a lease never changes hands (`ledger migrate`
   * turns writers of a moved block away with a marker), and leftovers are only ever added to unleased
   * blocks. Otherwise, or with `fresh`, the pool is read.
   */
  private async homeOf(mac: string, n: number, fresh = false): Promise<{ pool: PoolView; home: string; fresh: boolean }> {
    if (!fresh) {
      const pool = await this.pool();
      const home = homeOf(mac, n, pool.spec, pool.leases);
      if (home !== POOL_CM) return { pool, home, fresh: false };
    }
    const pool = await this.pool(true);
    return { pool, home: homeOf(mac, n, pool.spec, pool.leases), fresh: true };
  }

  /** `who` as a Claimant on this node. */
  private claimant(who: Who): Claimant & { retain?: string } {
    return typeof who === 'string' ? { owner: who, node: this.opts.node } : { ...who, node: this.opts.node };
  }

  /**
   * Records a requested MAC for `who` on its home; a MAC of a block nobody leases first leases that block
   * to this node (so the pool never holds MACs). A holding `who` may not take (see mayTake: another owner's,
   * or live for another pod of the same name) is a conflict (code 100) naming its holder and node.
   */
  async claim(mac: string, who: Who): Promise<void> {
    const n = macToInt(mac);
    const c = this.claimant(who);
    for (let attempt = 0, turned = 0; attempt < 3; ) {
      const { pool, home, fresh } = await this.homeOf(mac, n, attempt > 0 || turned > 0);
      const block = blockOf(pool.spec, n);
      if (home === POOL_CM) {
        await this.leaseBlock(pool, block);
        attempt++;
        continue;
      }
      const leftover = pool.claims[mac];
      if (leftover && !mayTake(leftover, c, this.now(), this.opts.graceSec)) {
        // A refusal seen on the cached pool is checked on a fresh one.
        if (attempt++ === 0) continue;
        throw new CniError(Code.MacConflict, `MAC ${mac} is already held by ${holderText(leftover)}`);
      }
      // A legacy ledger is created only when the pool, read just now, still leases its block the legacy way (a release before
      // 15 leased it and died before its first write; `ledger migrate` creates it, with its marker, before it moves the
      // lease): a missing one on a cached pool may mean the pool moved on. One its block moved out of turns the write away.
      const legacy = isLegacyHome(pool, block);
      const done = await this.w.cas(home, ledgerLabels(home), !legacy || fresh, (data) => {
        if (movedAway(data, block)) return 'moved';
        const h = reserve(holding(data, mac), c, this.now(), this.opts.graceSec, mac);
        // A claims shard keeps each MAC ever requested outside the range: the ones free again are dropped as it is written.
        if (kindOf(home) === 'claims') pruneFree(data, this.now(), this.opts.graceSec);
        // Taken over by this node (a pod re-created here): from now on only this node's DEL releases it.
        return put(data, mac, h.node === this.opts.node ? h : { ...h, node: this.opts.node }, 'active', this.now());
      });
      if (done === 'moved' || done === 'missing') {
        await this.turnedAway(mac, home, done, ++turned);
        continue;
      }
      return;
    }
    throw new CniError(Code.TryAgainLater, `MAC ${mac}: its block kept changing hands while claiming it`);
  }

  /**
   * A pool MAC for `who`: from this node's blocks, leasing another block when they are full. Only the
   * blocks this release leased (one ConfigMap each); a node's legacy blocks (leased by a release before
   * 15, all in one ConfigMap) are its last resort once the pool has no block left to lease.
   */
  async allocate(who: Who): Promise<string> {
    const node = this.opts.node;
    const c = this.claimant(who);
    let rechecked = false;
    for (let attempt = 0; attempt < 10; attempt++) {
      const pool = await this.pool(attempt > 0);
      const skipped: string[] = [];
      const mac = await this.allocateIn(pool, ownBlocks(pool.leases, node), c, skipped);
      if (mac !== undefined) return mac;
      // Before leasing, the blocks skipped unread as full are read once more: another node may have freed MACs there (a pod that moved away, an operator's release).
      if (skipped.length > 0 && !rechecked) {
        rechecked = true;
        for (const name of skipped) this.w.forget(name);
        continue;
      }
      try {
        await this.leaseBlock(pool);
      } catch (e) {
        if (!(e instanceof CniError && e.code === Code.PoolExhausted)) throw e;
        const own = new Set(ownBlocks(pool.leases, node));
        const legacy = blocksOf(pool.leases, node).filter((b) => !own.has(b));
        const last = legacy.length > 0 ? await this.allocateIn(pool, legacy, c, []) : undefined;
        if (last === undefined) throw e;
        return last;
      }
    }
    throw new CniError(Code.TryAgainLater, `could not allocate a MAC for ${c.owner}: the pool kept changing`);
  }

  /** A free MAC of `blocks` (this node's) taken for `c` by a compare-and-swap on its block's home; undefined when all are full. Blocks skipped unread go to `skipped`. */
  private async allocateIn(pool: PoolView, blocks: number[], c: Claimant, skipped: string[]): Promise<string | undefined> {
    const node = this.opts.node;
    for (const block of blocks) {
      const mine = ledgerCm(pool.leases[String(block)]!);
      // 'taken': another writer got the MAC first; look again in the same block, on a fresh copy.
      for (;;) {
        // A block found full at the resourceVersion last seen is skipped unread (the seen cache keeps no copy of a full block's ConfigMap).
        const known = this.fullBlocks.get(mine);
        const cached = this.seen.get(mine);
        if (known?.blocks.includes(block) && (cached === undefined || cached.resourceVersion === known.resourceVersion)) {
          skipped.push(mine);
          break;
        }
        const cm = cached ?? (await this.store.get(mine));
        const rv = cm?.resourceVersion;
        const full = rv !== undefined && known?.resourceVersion === rv ? known.blocks : [];
        const data = cm?.data ?? {};
        // A legacy block being moved (`ledger migrate` marked it): nothing is allocated there any more, its MACs are taken in its own ConfigMap once the lease follows.
        if (movedAway(data, block)) break;
        const now = this.now();
        const anyClaims = Object.keys(pool.claims).length > 0;
        let allLive = true;
        // Called for every MAC of a block before a free one: the key straight from the integer.
        const taken = (x: number) => {
          const v = data[x.toString(16).padStart(12, '0')];
          if (v !== undefined && isLiveEncoded(v)) return true;
          allLive = false;
          let h = v === undefined ? undefined : decodeHolding(v);
          if (h === undefined && anyClaims) h = pool.claims[intToMac(x)];
          return !isFree(h, now, this.opts.graceSec);
        };
        const x = freeInBlock(pool.spec, block, taken);
        if (x === undefined) {
          if (allLive && rv !== undefined) this.fullBlocks.set(mine, { resourceVersion: rv, blocks: [...full, block] });
          break;
        }
        const mac = intToMac(x);
        const got = await this.w.cas(mine, ledgerLabels(mine), true, (data) => {
          if (movedAway(data, block)) return 'moved';
          const h = holding(data, mac);
          // Already this owner's, written here: our own write, applied although its answer was lost (the retry got a 409).
          if (h && h.owner === c.owner && h.uid === c.uid && h.node === node && h.state !== 'released') return false;
          if (!isFree(h, this.now(), this.opts.graceSec)) return 'taken';
          return put(data, mac, reserve(undefined, c, this.now(), this.opts.graceSec, mac), 'active', this.now());
        }).catch((e: unknown) => {
          // A block whose ConfigMap is at its byte bound (long owner names in a large block) is full for this node: on to the next.
          if (e instanceof Oversize && rv !== undefined) return 'oversize' as const;
          throw e;
        });
        if (got === 'moved') break;
        if (got === 'oversize') {
          this.fullBlocks.set(mine, { resourceVersion: rv!, blocks: [...full, block] });
          break;
        }
        if (got !== 'taken') return mac;
      }
    }
    return undefined;
  }

  /**
   * What one pod's ADD takes, in one compare-and-swap per home where it can: the requested and sticky MACs
   * whose home is a block ConfigMap, grouped by home, and the pool MACs in this node's first block that is not
   * known full (the one the pod's claims write to, when it has room), all in that home's one write. Claims come
   * before allocations, so a pool MAC is never one the pod is taking back. A requested MAC (`strict`) that may not
   * be taken is a conflict (code 100) that stops the batch, its home unwritten; a sticky one that may not be
   * taken back gets a pool MAC instead (`lost` says why). The rest (a MAC of an unleased block, of a legacy
   * ledger, outside the range, a leftover, a block moved or full) goes through claim() and allocate() one by
   * one, claims first. Answers, for each item, what it got; an error stops the batch: the items after it are
   * not tried (undefined), the ones before it are taken (the caller's to release).
   */
  async take(items: Take[]): Promise<Taken[]> {
    const strays: Array<{ mac: string; who: Who }> = [];
    const out = await this.takeBatch(items, strays);
    // Pool MACs a batch write may have written (its answer lost) for items that went on one by one: freed, unless an item got one.
    const kept = new Set(out.flatMap((t) => (t && 'mac' in t ? [t.mac] : [])));
    for (const s of strays) {
      if (kept.has(s.mac)) continue;
      await this.freeStray(s.mac, s.who).catch((e: unknown) => this.opts.warn?.(`MAC ${s.mac}, perhaps written for ${this.claimant(s.who).owner} by a write whose answer was lost, not freed: ${(e as Error).message}`));
    }
    return out;
  }

  /** take() but for the pool MACs its batch writes may have left for items that got theirs otherwise: those go to `strays`. */
  private async takeBatch(items: Take[], strays: Array<{ mac: string; who: Who }>): Promise<Taken[]> {
    const out: Taken[] = items.map(() => undefined);
    const node = this.opts.node;
    const pool = await this.pool();
    const byHome = new Map<string, number[]>();
    const claimLater: number[] = [];
    const lost = new Map<number, string>();
    items.forEach((it, i) => {
      if (it.mac === undefined) return;
      const n = macToInt(it.mac);
      const block = blockOf(pool.spec, n);
      const home = homeOf(it.mac, n, pool.spec, pool.leases);
      const plain = block !== undefined && home !== POOL_CM && pool.claims[it.mac] === undefined && !isLegacyHome(pool, block);
      if (plain) byHome.set(home, [...(byHome.get(home) ?? []), i]);
      else claimLater.push(i);
    });
    let allocs = items.flatMap((it, i) => (it.mac === undefined ? [i] : []));
    // The pool MACs' block: this node's first not known full, a home the claims write to first.
    const own = ownBlocks(pool.leases, node);
    const candidates = [...own.filter((b) => byHome.has(ledgerCm(pool.leases[String(b)]!))), ...own];
    const allocBlock = allocs.length === 0 ? undefined : candidates.find((b) => {
      const name = ledgerCm(pool.leases[String(b)]!);
      const known = this.fullBlocks.get(name);
      const cached = this.seen.get(name);
      return !(known?.blocks.includes(b) && (cached === undefined || cached.resourceVersion === known.resourceVersion));
    });
    const allocHome = allocBlock === undefined ? undefined : ledgerCm(pool.leases[String(allocBlock)]!);
    const homes = [...byHome.keys()];
    if (allocHome !== undefined && !byHome.has(allocHome)) homes.push(allocHome);
    const anyClaims = Object.keys(pool.claims).length > 0;
    for (const home of homes) {
      const claims = byHome.get(home) ?? [];
      const block = home === allocHome ? allocBlock : undefined;
      // Pool MACs picked on each try of this write, by item: after a 409 the write may have been applied, its answer lost.
      const picked = new Map<number, string[]>();
      const ours = (h: Holding | undefined, c: Claimant) => h !== undefined && h.owner === c.owner && h.uid === c.uid && h.node === node && h.state !== 'released';
      let got = new Map<number, string>();
      let gone = new Map<number, string>();
      // This home's write did not go through: what an earlier try of it picked may be written all the same.
      const strayed = () => {
        for (const [i, macs] of picked) for (const mac of macs) strays.push({ mac, who: items[i]!.who });
      };
      try {
        const done = await this.w.cas(home, ledgerLabels(home), true, (data) => {
          got = new Map();
          gone = new Map();
          const now = this.now();
          if (claims.some((i) => movedAway(data, blockOf(pool.spec, macToInt(items[i]!.mac!))!)) || (block !== undefined && movedAway(data, block))) return 'moved';
          let changed = false;
          for (const i of claims) {
            const { mac, who, strict } = items[i]!;
            let h: Holding;
            try {
              h = reserve(holding(data, mac!), this.claimant(who), now, this.opts.graceSec, mac!);
            } catch (e) {
              if (strict || !(e instanceof CniError && e.code === Code.MacConflict)) throw e;
              gone.set(i, e.message);
              continue;
            }
            // Taken over by this node (a pod re-created here): from now on only this node's DEL releases it.
            if (put(data, mac!, h.node === node ? h : { ...h, node }, 'active', now)) changed = true;
            got.set(i, mac!);
          }
          if (block === undefined) return changed;
          const taken = (x: number) => {
            const v = data[x.toString(16).padStart(12, '0')];
            if (v !== undefined && isLiveEncoded(v)) return true;
            let h = v === undefined ? undefined : decodeHolding(v);
            if (h === undefined && anyClaims) h = pool.claims[intToMac(x)];
            return !isFree(h, now, this.opts.graceSec);
          };
          for (const i of [...allocs, ...gone.keys()]) {
            const c = this.claimant(items[i]!.who);
            const before = picked.get(i)?.at(-1);
            if (before !== undefined && ours(holding(data, before), c)) {
              got.set(i, before);
              continue;
            }
            const x = freeInBlock(pool.spec, block, taken);
            if (x === undefined) break; // full: the rest one by one
            const mac = intToMac(x);
            picked.set(i, [...(picked.get(i) ?? []), mac]);
            put(data, mac, reserve(undefined, c, now, this.opts.graceSec, mac), 'active', now);
            changed = true;
            got.set(i, mac);
          }
          // A pool MAC an earlier try wrote for an item that now gets another (its sticky MAC came free meanwhile): free again, in this write.
          const kept = new Set(got.values());
          for (const [i, macs] of picked) {
            for (const mac of macs) {
              if (kept.has(mac) || !ours(holding(data, mac), this.claimant(items[i]!.who))) continue;
              unhold(data, mac, pool.claims[mac]);
              changed = true;
            }
          }
          return changed;
        });
        if (done === 'moved' || done === 'missing') {
          strayed();
          claimLater.push(...claims);
          continue;
        }
      } catch (e) {
        strayed();
        // At its byte bound: one by one, which skips a full block; anything else stops the batch, this home unwritten.
        if (e instanceof Oversize) {
          claimLater.push(...claims);
          continue;
        }
        for (const i of [...claims, ...(block !== undefined ? allocs : [])]) out[i] = { error: e };
        return out;
      }
      for (const [i, why] of gone) lost.set(i, why);
      for (const [i, mac] of got) out[i] = { mac, ...(lost.has(i) ? { lost: lost.get(i)! } : {}) };
      if (block !== undefined) allocs = allocs.filter((i) => !got.has(i));
      allocs.push(...[...gone.keys()].filter((i) => !got.has(i)));
    }
    claimLater.sort((a, b) => a - b);
    for (const i of claimLater) {
      const { mac, who, strict } = items[i]!;
      try {
        await this.claim(mac!, who);
        out[i] = { mac: mac! };
      } catch (e) {
        if (strict || !(e instanceof CniError && e.code === Code.MacConflict)) {
          out[i] = { error: e };
          return out;
        }
        lost.set(i, e.message);
        allocs.push(i);
      }
    }
    for (const i of [...new Set(allocs)].sort((a, b) => a - b)) {
      try {
        out[i] = { mac: await this.allocate(items[i]!.who), ...(lost.has(i) ? { lost: lost.get(i)! } : {}) };
      } catch (e) {
        out[i] = { error: e };
        return out;
      }
    }
    return out;
  }

  /** Frees `mac` where a write of take() whose answer was lost may have reserved it for `who`: only that holding (this node's, for its pod), back to free at once. */
  private async freeStray(mac: string, who: Who): Promise<void> {
    const c = this.claimant(who);
    await this.rewriteCopies(mac, (cur, at) => {
      if (!at.home || !cur || cur.owner !== c.owner || cur.uid !== c.uid || cur.node !== this.opts.node || cur.state === 'released') return undefined;
      return at.viaLeftover ? { ...withoutRetention(cur), state: 'released', since: 0 } : 'delete';
    });
  }

  /**
   * Leases a block to this node (compare-and-swap on the pool): `want` (a requested MAC's, when still
   * unleased), else the first unleased block with an assignable MAC; then migrates its leftover claims.
   * Nothing is leased when this node gained a block since `seen` was read (or `want` got leased meanwhile).
   */
  private async leaseBlock(seen: PoolView, want?: number): Promise<void> {
    let leased: number | undefined;
    const node = this.opts.node;
    const had = ownBlocks(seen.leases, node).length;
    const lease = await this.w.cas(POOL_CM, ledgerLabels(POOL_CM), false, (data) => {
      leased = undefined;
      const view = poolView({ name: POOL_CM, data });
      const take = (b: number) => {
        leased = b;
        data.LEASES = JSON.stringify({ ...view.leases, [String(b)]: leaseValue(node, b) });
        const bytes = Buffer.byteLength(JSON.stringify(data));
        if (bytes > POOL_MAX_BYTES) {
          throw new CniError(Code.PoolExhausted, `MAC pool ${rangeText(view.spec)}: ConfigMap ${POOL_CM} would grow to ${bytes} bytes with another lease, past its bound of ${POOL_MAX_BYTES}; a larger BLOCK_SIZE needs fewer leases`);
        }
        // Requested MACs scattered over the range could lease a block each: they may take the pool only so far,
        // the rest is kept for the leases nodes need to hand out pool MACs.
        if (want !== undefined && bytes > CLAIM_LEASE_BYTES) {
          throw new CniError(Code.PoolExhausted, `block ${b} of pool ${rangeText(view.spec)} (${intToMac(blockBounds(view.spec, b)[0])} on) is leased by nobody, and leasing it for a requested MAC would take ConfigMap ${POOL_CM} to ${bytes} bytes, past the ${CLAIM_LEASE_BYTES} that requested MACs may use (the rest is kept for pool allocation); request a MAC of a leased block or outside the range`);
        }
        return true;
      };
      if (want !== undefined) return view.leases[String(want)] ? false : take(want);
      if (ownBlocks(view.leases, node).length > had) return false;
      const total = blockCount(view.spec);
      for (let b = 0; b < total; b++) {
        if (view.leases[String(b)]) continue;
        const [lo, hi] = blockBounds(view.spec, b);
        const x = nextAssignable(lo, view.spec.end);
        if (x === undefined) break;
        if (x > hi) {
          b = blockOf(view.spec, x)! - 1; // no assignable MAC in this block: go on at the block of the next one
          continue;
        }
        return take(b);
      }
      throw new CniError(Code.PoolExhausted, `MAC pool ${rangeText(view.spec)} is exhausted: all ${total} blocks of ${view.spec.blockSize} are leased and this node's are full`);
    });
    if (lease === 'missing') throw poolGone();
    if (leased === undefined) return;
    // Claims an earlier release made while the block was unleased move to its ConfigMap, their home from now on.
    const pool = await this.pool(true);
    const moving = Object.entries(pool.claims).filter(([mac]) => blockOf(pool.spec, macToInt(mac)) === leased);
    if (moving.length === 0) return;
    const home = ledgerCm(leaseValue(node, leased));
    await this.w.cas(home, ledgerLabels(home), true, (data) => {
      for (const [mac, h] of moving) if (!data[macKey(mac)]) data[macKey(mac)] = encodeHolding(h);
      return true;
    });
    const moved = await this.w.cas(POOL_CM, ledgerLabels(POOL_CM), false, (data) => {
      for (const [mac] of moving) delete data[macKey(mac)];
      return true;
    });
    if (moved === 'missing') throw poolGone();
  }

  /**
   * Marks `mac` released for `who` on its home (and any leftover in the pool); held for the owner during
   * the grace period (or, retained, while its owner exists). Only the holding of `who`'s pod (its UID; a
   * uid-less one only here, where it was written). True when the home now records it released for `who`'s
   * owner: then recordReleased may point the owner index at it.
   */
  async release(mac: string, who: Who): Promise<boolean> {
    const by = this.claimant(who);
    const copies = await this.rewriteCopies(mac, (cur) => this.releasedBy(cur, by));
    const home = copies.find((c) => c.home);
    return home !== undefined && (home.written || this.releasedFor(home.last, by));
  }

  /** The holding `by`'s DEL leaves at `cur`, or undefined when it changes nothing there. */
  private releasedBy(cur: Holding | undefined, by: Claimant): Holding | undefined {
    // The owner's pod was re-created (another UID, or on another node), which took the MAC over: a late DEL here must not free it.
    if (cur && cur.owner === by.owner && cur.node !== this.opts.node) return undefined;
    const next = release(cur, by, this.now());
    return next && next !== cur ? next : undefined;
  }

  /** Whether `h` is already released for `by`'s owner, by this node: a DEL that finds it so released it. */
  private releasedFor(h: Holding | undefined, by: Claimant): boolean {
    return h?.owner === by.owner && h.state === 'released' && h.node === this.opts.node;
  }

  /**
   * release() of several MACs (one DEL's): the MACs whose home is the same block ConfigMap, without a
   * leftover copy in the pool, in one compare-and-swap there; the others one by one. Answers, for each,
   * what release() would, or the error that stopped it.
   */
  async releaseMany(items: Array<{ mac: string; who: Who }>): Promise<Array<boolean | Error>> {
    const results: Array<boolean | Error> = items.map(() => false);
    const pool = await this.pool();
    const byHome = new Map<string, number[]>();
    items.forEach(({ mac }, i) => {
      const n = macToInt(mac);
      const home = homeOf(mac, n, pool.spec, pool.leases);
      // A MAC of an unleased block, with a leftover, or in a legacy ledger (its marker): release()'s own way.
      const plain = home !== POOL_CM && pool.claims[mac] === undefined && !isLegacyHome(pool, blockOf(pool.spec, n));
      const key = plain ? home : `${i}`;
      byHome.set(key, [...(byHome.get(key) ?? []), i]);
    });
    for (const [home, idx] of byHome) {
      if (idx.length === 1) {
        const { mac, who } = items[idx[0]!]!;
        results[idx[0]!] = await this.release(mac, who).catch((e: unknown) => e as Error);
        continue;
      }
      const done = new Set<number>();
      try {
        await this.w.cas(home, ledgerLabels(home), false, (data) => {
          done.clear();
          let changed = false;
          for (const i of idx) {
            const { mac, who } = items[i]!;
            const by = this.claimant(who);
            const cur = holding(data, mac);
            const next = this.releasedBy(cur, by);
            if (next) {
              data[macKey(mac)] = encodeHolding(next);
              changed = true;
              done.add(i);
            } else if (this.releasedFor(cur, by)) done.add(i);
          }
          return changed;
        });
        for (const i of idx) results[i] = done.has(i);
      } catch (e) {
        for (const i of idx) results[i] = e as Error;
      }
    }
    return results;
  }

  /**
   * Points the owner index at MACs just released (one compare-and-swap per index object: one pod's
   * attachments share one), so that the owner's next pod finds them by one read. A hint: a failure is
   * reported to `warn` and costs only stickiness, never a duplicate (taking the MAC back is a
   * compare-and-swap on its home). Answers the objects written, with their resourceVersion and when
   * their entries expire (none for a retained owner's): the caller deletes them then (dropIndex).
   */
  async recordReleased(released: Array<{ mac: string; who: Who }>): Promise<IndexWrite[]> {
    const now = this.now();
    const byName = new Map<string, OwnerEntry[]>();
    for (const { mac, who } of released) {
      const c = this.claimant(who);
      const k = indexKey(c.owner, c.retain);
      byName.set(k.name, [...(byName.get(k.name) ?? []), { mac, since: now, key: k.key, retained: k.retained }]);
    }
    const written: IndexWrite[] = [];
    for (const [name, entries] of byName) {
      const out: { rv?: string } = {};
      try {
        await this.w.cas(name, { [OWNERS_LABEL]: 'owners' }, true, (data) => putOwners(data, entries, this.now(), this.opts.graceSec), { cache: false, out, createFirst: true });
      } catch (e) {
        // One pod's owners: the first names them (a pod may have many attachments).
        const who = entries.length === 1 ? entries[0]!.key : `${entries[0]!.key} and ${entries.length - 1} more`;
        this.opts.warn?.(`owner index ${name} not updated (a re-created pod of ${who} may get another MAC): ${(e as Error).message}`);
        continue;
      }
      if (out.rv !== undefined) written.push({ name, resourceVersion: out.rv, ...(entries.some((e) => e.retained) ? {} : { until: now + this.opts.graceSec }) });
    }
    return written;
  }

  /** Deletes an index object this node wrote, unless it changed since (another node's write: that node deletes it). */
  async dropIndex(w: IndexWrite): Promise<void> {
    await this.store.delete?.(w.name, w.resourceVersion);
  }

  /**
   * The operator's release (`macmux ledger release`, `gc`): `owner`'s holding of `mac` is released on its home,
   * and in a leftover pool copy, whichever node wrote it; each write a compare-and-swap there. Without `force`
   * it stays the owner's for the grace period; with `force` it is free at once. `held` is false when `owner`
   * holds it nowhere (it changed hands, or was never theirs); `written` names the ConfigMaps changed.
   */
  async operatorRelease(mac: string, owner: Owner, force: boolean, seen?: { node: string; since: number; uid?: string }): Promise<{ held: boolean; written: string[] }> {
    // Only the holding the operator saw: a pod re-created meanwhile (same owner, another node or time) keeps its MAC.
    const theirs = (cur: Holding | undefined, atHome: boolean): cur is Holding =>
      cur?.owner === owner && (!seen || !atHome || (cur.node === seen.node && cur.since === seen.since && cur.uid === seen.uid));
    const copies = await this.rewriteCopies(mac, (cur, at) => {
      if (!theirs(cur, at.home)) return undefined;
      // At home with a leftover still in the pool: a released record dated 0 (free under any grace period)
      // stays, so that a block migration copying an older pool snapshot cannot revive the holding.
      if (force) return at.viaLeftover ? { ...withoutRetention(cur), state: 'released', since: 0 } : 'delete';
      // Whichever pod and node it is: the operator saw this holding and releases it.
      const next = release(cur, { owner, node: cur.node, ...(cur.uid !== undefined ? { uid: cur.uid } : {}) }, this.now());
      return next && next !== cur ? next : undefined;
    });
    return { held: copies.some((c) => theirs(c.last, c.home)), written: copies.filter((c) => c.written).map((c) => c.name) };
  }

  /**
   * Rewrites `mac`'s holding on its home and, while the pool keeps a leftover copy, in the pool too; each a
   * compare-and-swap. A leftover not yet migrated is rewritten on its home too, so that a migration copying
   * an older pool snapshot cannot revive it. `edit` gets the holding there (at home without one, the
   * leftover) and returns the next one, 'delete', or undefined to leave it. A ConfigMap that does not exist
   * is left alone. Resolves to each copy: the holding `edit` last saw there, and whether it was written.
   */
  private async rewriteCopies(mac: string, edit: (cur: Holding | undefined, at: { home: boolean; viaLeftover: boolean }) => Holding | 'delete' | undefined): Promise<Copy[]> {
    const key = macKey(mac);
    const n = macToInt(mac);
    let missing: string | undefined;
    for (let turned = 0; ; ) {
      const { pool, home } = await this.homeOf(mac, n, turned > 0);
      const block = blockOf(pool.spec, n);
      const legacy = home !== POOL_CM && isLegacyHome(pool, block);
      const leftover = home !== POOL_CM ? pool.claims[mac] : undefined;
      const copies: Copy[] = [];
      let away: 'moved' | 'missing' | undefined;
      for (const name of leftover ? [home, POOL_CM] : [home]) {
        const at = { home: name === home, viaLeftover: name === home && leftover !== undefined };
        const copy: Copy = { name, home: at.home, written: false };
        const done = await this.w.cas(name, ledgerLabels(name), at.viaLeftover && !legacy, (data) => {
          if (at.home && movedAway(data, block)) return 'moved';
          copy.last = holding(data, mac) ?? (at.viaLeftover ? leftover : undefined);
          const next = edit(copy.last, at);
          if (next === undefined) return false;
          if (next === 'delete') delete data[key];
          else if (data[key] === encodeHolding(next)) return false;
          else data[key] = encodeHolding(next);
          return true;
        });
        // Turned away by a legacy ledger its block moved out of; or one missing, which is never re-created: the pool
        // is read again (a missing one seen twice as the home, without a leftover to rewrite, holds nothing to rewrite).
        if (done === 'moved' || (done === 'missing' && at.home && legacy && (leftover !== undefined || missing !== home))) {
          away = done;
          missing = done === 'missing' ? home : undefined;
          break;
        }
        copy.written = done === 'written';
        copies.push(copy);
      }
      if (away === undefined) return copies;
      await this.turnedAway(mac, home, away, ++turned);
    }
  }

  /**
   * A write of `mac` turned away by its `home`, for the `turned`-th time: a legacy ledger its block was
   * moved out of (`macmux ledger migrate` is between marking it and moving the lease), or one that is
   * missing. Waits a little before the pool is read again; code 11 once it has waited long enough.
   */
  private async turnedAway(mac: string, home: string, why: 'moved' | 'missing', turned: number): Promise<void> {
    if (turned > MOVE_RETRIES) {
      throw new CniError(
        Code.TryAgainLater,
        why === 'moved'
          ? `MAC ${mac}: its block is being moved out of ${home} into a ConfigMap of its own (macmux ledger migrate), and its lease did not follow yet`
          : `MAC ${mac}: its home ${home}, a node ledger of an earlier release, does not exist, and the pool no longer leases its block to that node`,
      );
    }
    await (this.opts.sleep ?? sleep)(Math.min(50 * 2 ** (turned - 1), 1000));
  }

  /** `macmux ledger migrate` for block `block` (see migrate-block.ts). */
  async migrateBlock(block: number): Promise<BlockMigration> {
    return migrateBlock(this.w, await this.pool(true), block);
  }

  /** The node this ledger writes for. */
  get node(): string {
    return this.opts.node;
  }

  /**
   * The MAC `who`'s owner released last, while it is still theirs (in its grace period, or retained),
   * from the owner index: one read of one small object, whatever the cluster's size. Only a candidate: the
   * caller takes it with claim(), a compare-and-swap on its home that refuses it if it changed hands.
   * `read` keeps the index objects one verb read, so that a pod's attachments (one object) cost one read.
   */
  async findOwner(who: Who, read: IndexReads = new Map()): Promise<string | undefined> {
    const c = this.claimant(who);
    const k = indexKey(c.owner, c.retain);
    if (!read.has(k.name)) read.set(k.name, this.store.get(k.name));
    const cm = await read.get(k.name)!;
    return cm ? lookupOwner(cm.data, k, this.now(), this.opts.graceSec)?.mac : undefined;
  }

  /**
   * A MAC held (reserved or active) for `who`'s pod, written by this node: among `candidates`, and in
   * the blocks this node leases (read fresh). For the sync that undoes an ADD which died before it
   * journaled the MAC it took.
   */
  async findHeld(who: Who, candidates: string[]): Promise<string | undefined> {
    const c = this.claimant(who);
    const pool = await this.pool(true);
    const held = (data: Record<string, string>, mac: string) => {
      const h = holding(data, mac);
      return h !== undefined && h.state !== 'released' && h.owner === c.owner && h.uid === c.uid && h.node === this.opts.node;
    };
    for (const mac of candidates) {
      const cm = await this.store.get(homeOf(mac, macToInt(mac), pool.spec, pool.leases));
      if (cm && held(cm.data, mac)) return mac;
    }
    // Each home once: a legacy ledger is the home of all of its node's legacy blocks.
    for (const home of new Set(blocksOf(pool.leases, this.opts.node).map((b) => ledgerCm(pool.leases[String(b)]!)))) {
      const cm = await this.store.get(home);
      const key = cm && Object.keys(cm.data).find((k) => !RESERVED_KEYS.has(k) && held(cm.data, keyMac(k)));
      if (key) return keyMac(key);
    }
    return undefined;
  }

}

/** One MAC for take(): a requested one (`strict`), a sticky one (its owner's last: taken back if it may be, else a pool MAC), or a pool MAC (no `mac`). */
export interface Take {
  who: Who;
  mac?: string;
  strict?: boolean;
}

/** What take() got for one item: its MAC (and, for a sticky one not taken back, why), the error that stopped the batch there, or undefined: not tried. */
export type Taken = { mac: string; lost?: string } | { error: unknown } | undefined;

/** The owner-index objects one verb has read (or is reading), by name. */
export type IndexReads = Map<string, Promise<Cm | undefined>>;

/** An owner-index object written: its resourceVersion then, and when its entries expire (none: a retained owner's, kept until gc). */
export interface IndexWrite {
  name: string;
  resourceVersion: string;
  until?: number;
}

/** One copy of a MAC's holding that rewriteCopies went through. */
interface Copy {
  name: string;
  home: boolean;
  /** The holding edit last saw there; none when the ConfigMap does not exist. */
  last?: Holding;
  written: boolean;
}

/** Drops the holdings that are free (released past their grace period, not retained): the same as no holding. */
function pruneFree(data: Record<string, string>, now: number, graceSec: number): void {
  for (const [k, v] of Object.entries(data)) {
    if (isLiveEncoded(v)) continue;
    const h = decodeHolding(v);
    if (h && isFree(h, now, graceSec)) delete data[k];
  }
}

function holding(data: Record<string, string>, mac: string): Holding | undefined {
  const v = data[macKey(mac)];
  return v === undefined ? undefined : decodeHolding(v);
}

/**
 * Frees `mac` at its home at once (not released for a grace period): its key dropped, or, with a leftover copy
 * in the pool (which would show through), a released record dated 0, free under any grace period.
 */
function unhold(data: Record<string, string>, mac: string, leftover: Holding | undefined): void {
  if (leftover === undefined) delete data[macKey(mac)];
  else data[macKey(mac)] = encodeHolding({ ...withoutRetention(holding(data, mac)!), state: 'released', since: 0 });
}

/** Writes `h` in state `state`; false when nothing changes. */
function put(data: Record<string, string>, mac: string, h: Holding, state: Holding['state'], now: number): boolean {
  const next = h.state === state ? h : { ...h, state, since: now };
  const encoded = encodeHolding(next);
  if (data[macKey(mac)] === encoded) return false;
  data[macKey(mac)] = encoded;
  return true;
}

/** Whether `block`'s home is a legacy ledger (its lease a bare node name, an earlier release's). */
function isLegacyHome(pool: PoolView, block: number | undefined): boolean {
  const value = block === undefined ? undefined : pool.leases[String(block)];
  return value !== undefined && isLegacyLease(value, block!);
}

