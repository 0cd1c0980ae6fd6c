// The phase recorder: at log level 3, where each invocation's milliseconds went (spans from process start), for one log line; a no-op below.

/** One recorded span: ms since the process started, and how long it took. */
export interface Span {
  key: string;
  start: number;
  ms: number;
}

interface Recorder {
  on: boolean;
  spans: Span[];
}

/** The end of a span: records it (the first call only), `attrs` (such as `200:1834`) appended to its key after a colon. */
export type End = (attrs?: string) => void;

// The main script and the verb chunk each bundle their own copy of this module: one recorder for both, on globalThis.
const SLOT = Symbol.for('macmux.phases');
const rec: Recorder = ((globalThis as Record<symbol, Recorder | undefined>)[SLOT] ??= { on: false, spans: [] });

const NOOP: End = () => {};

/** Milliseconds since this process started (node's own clock for it, as precise as hrtime). */
export const sinceStart = (): number => process.uptime() * 1000;

/** Turns recording on or off; off drops what was recorded. The dispatcher decides, the verb settles it once the config's level is known. */
export function recordPhases(on: boolean): void {
  rec.on = on;
  if (!on) rec.spans.length = 0;
}

export const recordingPhases = (): boolean => rec.on;

/** Starts span `key` now; the returned function ends it. Off, both cost one property read. */
export function span(key: string): End {
  if (!rec.on) return NOOP;
  const start = sinceStart();
  let ended = false;
  return (attrs) => {
    if (ended || !rec.on) return;
    ended = true;
    rec.spans.push({ key: attrs === undefined ? key : `${key}:${attrs}`, start, ms: sinceStart() - start });
  };
}

/** Records span `key` from `start` (ms since process start) to `end`. */
export function mark(key: string, start: number, end = sinceStart()): void {
  if (rec.on) rec.spans.push({ key, start, ms: end - start });
}

/** Runs `fn` inside span `key`, ended however `fn` ends. */
export async function timed<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const end = span(key);
  try {
    return await fn();
  } finally {
    end();
  }
}

/** Runs `fn` inside span `key`, for synchronous work. */
export function timedSync<T>(key: string, fn: () => T): T {
  const end = span(key);
  try {
    return fn();
  } finally {
    end();
  }
}

/** A key part made of nothing but [A-Za-z0-9._-], at most 40 characters: no space, `=` or `+` can break the line. */
export const keyPart = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || '_';

const num = (x: number): string => x.toFixed(2);

/**
 * The phase line (docs/operations.md, debugging): `phases v=1 code=<CNI code, 0 on success> total=<ms>` then one
 * `<key>=<start>+<ms>` per span in the order they started, times in ms since the process started.
 */
export function phaseLine(code: number, total = sinceStart()): string {
  const spans = [...rec.spans].sort((a, b) => a.start - b.start);
  const keys = spans.map((s) => ` ${s.key.split(':').map(keyPart).join(':')}=${num(s.start)}+${num(s.ms)}`);
  return `phases v=1 code=${code} total=${num(total)}${keys.join('')}`;
}

/** A parsed phase line: the inverse of phaseLine, for the bench and the tests; undefined when `text` holds none. */
export function parsePhaseLine(text: string): { code: number; total: number; spans: Span[] } | undefined {
  const m = / phases v=1 code=(-?\d+) total=([\d.]+)((?: [^ =]+=[\d.]+\+[\d.]+)*)\s*$/.exec(text);
  if (!m) return undefined;
  const spans = m[3]!
    .trim()
    .split(' ')
    .filter(Boolean)
    .map((tok) => {
      const [key, at] = [tok.slice(0, tok.lastIndexOf('=')), tok.slice(tok.lastIndexOf('=') + 1)];
      const [start, ms] = at.split('+').map(Number) as [number, number];
      return { key, start, ms };
    });
  return { code: Number(m[1]), total: Number(m[2]), spans };
}
