// Pure arithmetic on phase lines (src/util/phases.ts) for the bench: sequential round trips, covered time, one invocation's figures by label.
import type { Span } from '../../src/util/phases';

/** The labels of the request counts in section 7. */
export const REQUESTS = 'API requests (count)';
export const ROUND_TRIPS = 'API sequential round trips (count)';

const end = (s: Span) => s.start + s.ms;

/**
 * How many of `requests` are round trips the invocation waited for one after another: a request counts
 * when it starts after every earlier-started one has ended (it overlaps none of them).
 */
export function sequentialRequests(requests: readonly Span[]): number {
  const sorted = [...requests].sort((a, b) => a.start - b.start);
  let seq = 0;
  let until = -Infinity;
  for (const r of sorted) {
    if (r.start >= until) seq++;
    until = Math.max(until, end(r));
  }
  return seq;
}

/** The time covered by at least one of `spans` (their union's length), within [from, to] when given. */
export function covered(spans: readonly Span[], from = -Infinity, to = Infinity): number {
  const cut = spans.map((s) => [Math.max(s.start, from), Math.min(end(s), to)] as const).filter(([a, b]) => b > a);
  cut.sort((x, y) => x[0] - y[0]);
  let sum = 0;
  let [lo, hi] = [NaN, NaN];
  for (const [a, b] of cut) {
    if (Number.isNaN(lo) || a > hi) {
      if (!Number.isNaN(lo)) sum += hi - lo;
      [lo, hi] = [a, b];
    } else hi = Math.max(hi, b);
  }
  return Number.isNaN(lo) ? sum : sum + hi - lo;
}

const is = (prefix: string) => (s: Span) => s.key === prefix || s.key.startsWith(`${prefix}:`);
const total = (spans: readonly Span[]) => spans.reduce((a, s) => a + s.ms, 0);
const field = (s: Span, i: number) => s.key.split(':')[i] ?? '';

/** What the bench prints of one invocation: [label, value] in a fixed order (ms, except the counts). */
export function figures(spans: readonly Span[], totalMs: number): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  const put = (label: string, v: number) => out.push([label, v]);
  const one = (key: string) => total(spans.filter((s) => s.key === key));
  put('process start → main (node, the main script)', one('main'));
  put('stdin', one('stdin'));
  put('verb chunk load', one('chunk'));
  put('config and schema', one('config'));
  for (const kind of ['container', 'ledger']) {
    const waits = spans.filter(is(`lock:${kind}`));
    if (waits.length) put(`lock wait: ${kind}`, total(waits));
  }
  const api = spans.filter(is('api'));
  put(REQUESTS, api.length);
  put(ROUND_TRIPS, sequentialRequests(api));
  put('API time, sum of requests', total(api));
  put('API time, wall (their union)', covered(api));
  // The first request opens the connection (TCP, TLS): what a reused session or connection would save.
  if (api.length) put('… of which the first request (connects)', [...api].sort((a, b) => a.start - b.start)[0]!.ms);
  const held = spans.filter(is('held:ledger'));
  if (held.length) {
    const inside = spans.filter((s) => is('api')(s) || is('write')(s));
    const ledger = total(held);
    const busy = held.reduce((a, h) => a + covered(inside, h.start, end(h)), 0);
    put('ledger work (under its lock)', ledger);
    put('… of which API requests and file writes', busy);
    put('… of which the rest (reads, JSON, CPU)', ledger - busy);
  }
  const delegates = spans.filter(is('delegate'));
  delegates.forEach((d, i) => put(`delegate ${i + 1}: ${field(d, 2)} ${field(d, 1)}`, d.ms));
  put('delegates, sum', total(delegates));
  const files = [...new Set(spans.filter(is('write')).map((s) => field(s, 1)))].filter((f) => f !== 'stats');
  for (const f of files) {
    const [w, fs, ds] = [total(spans.filter(is(`write:${f}`))), total(spans.filter(is(`fsync:${f}`))), total(spans.filter(is(`dirsync:${f}`)))];
    put(`write ${f} (without its fsyncs)`, w - fs - ds);
    if (fs + ds > 0) put(`fsync ${f} (file + directory)`, fs + ds);
  }
  put('stats (lock, read, write)', one('stats'));
  // Everything but the held locks, which contain the rest: what no phase covers is macmux's own CPU (plan, parsing, results) and waiting on nothing named.
  put('in no phase (CPU: plans, JSON, results)', totalMs - covered(spans.filter((s) => !is('held')(s))));
  put('total, process start → phase line', totalMs);
  return out;
}

/** A short list of the requests: `GET pods, PUT configmaps ×2, GET configmaps 404` (kinds in the order first made; a status when not 2xx). */
export function requestList(spans: readonly Span[]): string {
  const counts = new Map<string, number>();
  for (const s of spans.filter(is('api'))) {
    const status = field(s, 3);
    const k = `${field(s, 1)} ${field(s, 2)}${/^2\d\d$/.test(status) ? '' : ` ${status}`}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => (n > 1 ? `${k} ×${n}` : k)).join(', ') || 'none';
}
