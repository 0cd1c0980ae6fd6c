// The node's stats file format and how one invocation is added to it (pure: no I/O).

export const STATS_FORMAT = 1;

/** What one invocation did to the ledger. */
export interface MacCounts {
  /** MACs taken for an owner: from the pool, or requested and recorded. */
  allocations: number;
  /** MACs released in the cluster, or deferred to the next sync. */
  releases: number;
  /** Requested MACs refused because another owner holds them (code 100). */
  conflicts: number;
}

/** Upper bounds (seconds) of the invocation-duration histogram buckets; changing them needs a new STATS_FORMAT. */
export const BUCKETS: readonly number[] = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export type Result = 'success' | 'failure';

/** Durations of one verb and result: per-bucket counts (not cumulative; the last is above the largest bound), sum and count. */
export interface Durations {
  buckets: number[];
  sum: number;
  count: number;
}

export interface Stats {
  format: typeof STATS_FORMAT;
  /** The bucket bounds `durations` were counted with (always BUCKETS in this format). */
  le: number[];
  allocations: number;
  releases: number;
  conflicts: number;
  /** verb → result → CNI error code (0 on success) → invocations. */
  invocations: Record<string, Record<string, Record<string, number>>>;
  /** verb → result → durations. */
  durations: Record<string, Record<string, Durations>>;
}

/** What one plugin invocation adds. */
export interface Invocation {
  verb: string;
  result: Result;
  code: number;
  seconds: number;
  counts: MacCounts;
}

export const emptyStats = (): Stats => ({ format: STATS_FORMAT, le: [...BUCKETS], allocations: 0, releases: 0, conflicts: 0, invocations: {}, durations: {} });

/** The bucket a duration falls in: the first whose bound is at least `seconds`, else the overflow bucket. */
export function bucketIndex(seconds: number): number {
  const i = BUCKETS.findIndex((b) => seconds <= b);
  return i < 0 ? BUCKETS.length : i;
}

/** `stats` plus one invocation (a new object; `stats` is not changed). */
export function addInvocation(stats: Stats, inv: Invocation): Stats {
  const s = structuredClone(stats);
  s.allocations += inv.counts.allocations;
  s.releases += inv.counts.releases;
  s.conflicts += inv.counts.conflicts;
  const byResult = (s.invocations[inv.verb] ??= {});
  const byCode = (byResult[inv.result] ??= {});
  byCode[String(inv.code)] = (byCode[String(inv.code)] ?? 0) + 1;
  const seconds = Number.isFinite(inv.seconds) && inv.seconds > 0 ? inv.seconds : 0;
  const d = ((s.durations[inv.verb] ??= {})[inv.result] ??= { buckets: new Array<number>(BUCKETS.length + 1).fill(0), sum: 0, count: 0 });
  d.buckets[bucketIndex(seconds)]! += 1;
  d.sum += seconds;
  d.count += 1;
  return s;
}

/** Cumulative bucket counts (`le` order, ending with +Inf, which equals the count). */
export function cumulative(d: Durations): number[] {
  let total = 0;
  return d.buckets.map((n) => (total += n));
}

/** Parses a stats file; throws an Error saying what is wrong when it is not one (the caller moves it aside). */
export function parseStats(text: string): Stats {
  const v = JSON.parse(text) as unknown;
  if (!isObject(v)) throw new Error('not a JSON object');
  if (v.format !== STATS_FORMAT) throw new Error(`unknown format ${JSON.stringify(v.format)}`);
  if (!Array.isArray(v.le) || v.le.length !== BUCKETS.length || v.le.some((b, i) => b !== BUCKETS[i])) throw new Error('bucket bounds differ from this version');
  for (const k of ['allocations', 'releases', 'conflicts'] as const) count(v[k], k);
  const invocations = nested(v.invocations, 'invocations', 3);
  walk(invocations, 3, (n, where) => count(n, where), 'invocations');
  const durations = nested(v.durations, 'durations', 2);
  walk(durations, 2, (d, where) => checkDurations(d, where), 'durations');
  return v as unknown as Stats;
}

function checkDurations(d: unknown, where: string): void {
  if (!isObject(d)) throw new Error(`${where} is not an object`);
  if (!Array.isArray(d.buckets) || d.buckets.length !== BUCKETS.length + 1) throw new Error(`${where}.buckets must have ${BUCKETS.length + 1} counts`);
  d.buckets.forEach((n, i) => count(n, `${where}.buckets[${i}]`));
  count(d.count, `${where}.count`);
  if (typeof d.sum !== 'number' || !Number.isFinite(d.sum) || d.sum < 0) throw new Error(`${where}.sum is not a duration`);
  if ((d.buckets as number[]).reduce((a, b) => a + b, 0) !== d.count) throw new Error(`${where}: bucket counts do not add up to its count`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function count(n: unknown, where: string): void {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new Error(`${where} is not a count`);
}

function nested(v: unknown, where: string, depth: number): Record<string, unknown> {
  if (!isObject(v)) throw new Error(`${where} is not an object`);
  if (depth > 1) for (const [k, inner] of Object.entries(v)) nested(inner, `${where}.${k}`, depth - 1);
  return v;
}

function walk(v: Record<string, unknown>, depth: number, leaf: (x: unknown, where: string) => void, where: string): void {
  for (const [k, inner] of Object.entries(v)) {
    if (depth === 1) leaf(inner, `${where}.${k}`);
    else walk(inner as Record<string, unknown>, depth - 1, leaf, `${where}.${k}`);
  }
}
