// Pure statistics and number formatting for the bench: medians, nearest-rank percentiles, ratios, target verdicts.

/** Nearest-rank percentile (p in 0..100) of `xs`; NaN when empty. With n samples, p99 is the ceil(0.99·n)-th smallest. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[Math.min(s.length, rank) - 1]!;
}

/** The median: the mean of the two middle values for an even count. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Which sample of `n` the nearest-rank p-th percentile is, counted from the largest: "2nd largest of 96". */
export function rankFromTop(n: number, p: number): string {
  const fromTop = n - Math.max(1, Math.ceil((p / 100) * n)) + 1;
  const suffix = fromTop === 1 ? 'st' : fromTop === 2 ? 'nd' : fromTop === 3 ? 'rd' : 'th';
  return fromTop === 1 ? `the largest of ${n}` : `the ${fromTop}${suffix} largest of ${n}`;
}

export const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1)) + ' ms';
export const mib = (kib: number): string => (kib / 1024).toFixed(1) + ' MiB';
export const ratio = (x: number): string => x.toFixed(2) + '×';

/** A target: the measured value must be at most `limit`; `show` formats values of its unit. */
export interface Target {
  limit: number;
  show: (x: number) => string;
}

/** "met" or "missed by <how much> (<percent>)" for `value` against an upper `limit`. */
export function verdict(value: number, t: Target): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value <= t.limit) return 'met';
  const over = value - t.limit;
  return `**missed** by ${t.show(over)} (${((over / t.limit) * 100).toFixed(0)}% over)`;
}
