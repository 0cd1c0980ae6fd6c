// The ConfigMaps that hold the ledger, as a store with compare-and-swap; the API and tests provide one each.
export interface Cm {
  name: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  /** Kept as read, so that a compare-and-swap does not drop kubectl's last-applied-configuration. */
  annotations?: Record<string, string>;
  data: Record<string, string>;
}

export interface CmStore {
  get(name: string): Promise<Cm | undefined>;
  /** 'exists' when another writer created it first. */
  create(cm: Cm): Promise<Cm | 'exists'>;
  /** Succeeds only if `cm.resourceVersion` is current: 'conflict' otherwise (HTTP 409). */
  update(cm: Cm): Promise<Cm | 'conflict'>;
  /** Deletes it if its resourceVersion is still `resourceVersion` (a DeleteOptions precondition): 'conflict' otherwise. */
  delete?(name: string, resourceVersion: string): Promise<'deleted' | 'conflict' | 'missing'>;
  /** Every ConfigMap with the label `key`, whatever its value; all but the one named `except`, when given. */
  list(labelKey: string, except?: string): Promise<Cm[]>;
  /** The names and resourceVersions of those ConfigMaps, without their data (a metadata-only list). */
  listMeta?(labelKey: string): Promise<Array<{ name: string; resourceVersion?: string }>>;
}

/** A store in memory with real resourceVersion semantics, for unit tests and benchmarks. */
export class MemoryStore implements CmStore {
  private rv = 0;
  readonly cms = new Map<string, Cm>();
  writes = 0;
  /** Write requests (create and update calls), refused ones ('exists', 'conflict') included: what an API server serves. */
  attempts = 0;
  /** Requests served, by kind: for tests of how much a lookup reads. */
  reads = { get: 0, list: 0, listMeta: 0, listed: 0 };
  /** Objects answered by get and list, and their data's size (UTF-8 bytes of JSON.stringify(data)): what lookups cost. */
  objectsRead = 0;
  bytesRead = 0;

  async get(name: string): Promise<Cm | undefined> {
    this.reads.get++;
    const cm = this.cms.get(name);
    if (cm) this.count(cm);
    return cm && structuredClone(cm);
  }
  async create(cm: Cm): Promise<Cm | 'exists'> {
    this.attempts++;
    if (this.cms.has(cm.name)) return 'exists';
    this.writes++;
    const stored = { ...structuredClone(cm), resourceVersion: String(++this.rv) };
    this.cms.set(cm.name, stored);
    return structuredClone(stored);
  }
  async update(cm: Cm): Promise<Cm | 'conflict'> {
    this.attempts++;
    const cur = this.cms.get(cm.name);
    if (!cur || cur.resourceVersion !== cm.resourceVersion) return 'conflict';
    this.writes++;
    const stored = { ...structuredClone(cm), resourceVersion: String(++this.rv) };
    this.cms.set(cm.name, stored);
    return structuredClone(stored);
  }
  async delete(name: string, resourceVersion: string): Promise<'deleted' | 'conflict' | 'missing'> {
    this.attempts++;
    const cur = this.cms.get(name);
    if (!cur) return 'missing';
    if (cur.resourceVersion !== resourceVersion) return 'conflict';
    this.writes++;
    this.cms.delete(name);
    return 'deleted';
  }
  async list(labelKey: string, except?: string): Promise<Cm[]> {
    this.reads.list++;
    const out = [...this.cms.values()].filter((c) => c.labels?.[labelKey] !== undefined && c.name !== except).map((c) => structuredClone(c));
    this.reads.listed += out.length;
    for (const c of out) this.count(c);
    return out;
  }
  async listMeta(labelKey: string): Promise<Array<{ name: string; resourceVersion?: string }>> {
    this.reads.listMeta++;
    return [...this.cms.values()].filter((c) => c.labels?.[labelKey] !== undefined).map((c) => ({ name: c.name, ...(c.resourceVersion ? { resourceVersion: c.resourceVersion } : {}) }));
  }
  private count(cm: Cm): void {
    this.objectsRead++;
    this.bytesRead += Buffer.byteLength(JSON.stringify(cm.data));
  }
}
