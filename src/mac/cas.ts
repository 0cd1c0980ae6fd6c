// Compare-and-swap on the ledger's ConfigMaps through a cache of the copies last seen: the one way the ledger writes.
import { CniError, Code } from '../cni/errors';
import type { Cm, CmStore } from './store';

/** No ledger ConfigMap grows past this many bytes of data (a quarter of the API server's limit): a write that would is refused (code 101). */
export const MAX_OBJECT_BYTES = 256 * 1024;

/** A write that would take ConfigMap `name` past MAX_OBJECT_BYTES. */
export class Oversize extends CniError {
  constructor(readonly cm: string, bytes: number) {
    super(Code.PoolExhausted, `ConfigMap ${cm} would grow to ${bytes} bytes, past the ledger's bound of ${MAX_OBJECT_BYTES} bytes per object`);
  }
}

export interface FullBlocks {
  resourceVersion: string;
  blocks: number[];
}

/** The ConfigMaps of the ledger as last seen, and the one write: a compare-and-swap, retried on 409. */
export class CasCache {
  /** Last seen ConfigMaps, so that the common case is one update with a known resourceVersion. */
  readonly seen = new Map<string, Cm>();
  /**
   * Blocks of a node ledger ConfigMap found holding only reserved or active MACs, at that ConfigMap's
   * resourceVersion. Only a write can free such a MAC (a released one could come free with time), so
   * while the resourceVersion stands, allocation skips them without scanning.
   */
  readonly fullBlocks = new Map<string, FullBlocks>();

  constructor(
    readonly store: CmStore,
    private readonly maxConflicts = 50,
  ) {}

  /** Drops what is known of ConfigMap `name` (it changed under us): its copy and its full blocks. */
  forget(name: string): void {
    this.seen.delete(name);
    this.fullBlocks.delete(name);
  }

  /**
   * Compare-and-swap on ConfigMap `name`: `mutate` edits its data and returns true (write), false (no
   * change) or a string (stop and return it). A 409 re-reads and retries. Missing: created when `create`,
   * else 'missing'. 'written' when it wrote, 'ok' when there was nothing to change.
   */
  async cas<T extends string>(
    name: string,
    labels: Record<string, string>,
    create: boolean,
    mutate: (data: Record<string, string>) => boolean | T,
    opts: { cache?: boolean; out?: { rv?: string }; createFirst?: boolean } = {},
  ): Promise<T | 'ok' | 'written' | 'missing'> {
    const cache = opts.cache ?? true;
    const limit = this.maxConflicts;
    // An object that is usually new (an owner-index object): created without reading it first; one that exists is read and updated.
    if (opts.createFirst && create && !(cache && this.seen.has(name))) {
      const data: Record<string, string> = {};
      const r = mutate(data);
      if (r === true) {
        const made = await this.store.create({ name, labels, data });
        if (made !== 'exists') {
          if (cache) this.seen.set(name, made);
          if (opts.out && made.resourceVersion !== undefined) opts.out.rv = made.resourceVersion;
          return 'written';
        }
      }
    }
    for (let attempt = 0; attempt < limit; attempt++) {
      const fromCache = cache ? this.seen.get(name) : undefined;
      const cm = fromCache ?? (await this.store.get(name));
      if (!cm) {
        if (!create) return 'missing';
        const data: Record<string, string> = {};
        const r = mutate(data);
        if (typeof r === 'string') return r;
        if (!r) return 'ok';
        const made = await this.store.create({ name, labels, data });
        if (made === 'exists') continue;
        if (cache) this.seen.set(name, made);
        if (opts.out && made.resourceVersion !== undefined) opts.out.rv = made.resourceVersion;
        return 'written';
      }
      const data = { ...cm.data };
      let r: boolean | T;
      try {
        r = mutate(data);
      } catch (e) {
        // A verdict reached on a cached copy is checked again on a fresh one before it stands.
        if (fromCache) {
          this.forget(name);
          continue;
        }
        throw e;
      }
      if (typeof r === 'string') {
        if (fromCache) {
          this.forget(name);
          continue;
        }
        return r;
      }
      if (!r) {
        // "Nothing to change" is a verdict too: on a cached copy (maybe older than a write by a process that died), check it on a fresh one.
        if (fromCache) {
          this.forget(name);
          continue;
        }
        return 'ok';
      }
      const bytes = Buffer.byteLength(JSON.stringify(data));
      if (bytes > MAX_OBJECT_BYTES) throw new Oversize(name, bytes);
      const written = await this.store.update({ ...cm, data });
      if (written === 'conflict') {
        this.forget(name);
        continue;
      }
      if (cache) this.seen.set(name, written);
      if (opts.out && written.resourceVersion !== undefined) opts.out.rv = written.resourceVersion;
      return 'written';
    }
    throw new CniError(Code.TryAgainLater, `ConfigMap ${name}: gave up after ${limit} conflicting writes`);
  }
}
