// Section 1: VERSION cold start of the binary against `node -e 0`, interleaved run by run, both under /usr/bin/time.
import { cleanEnv, ok, run } from './proc';

export interface PairSamples {
  /** macmux's wall times (ms) */
  ms: number[];
  rssKiB: number[];
  /** the baseline's wall times (ms) */
  baseMs: number[];
  baseRssKiB: number[];
}

export async function versionColdStart(binary: string, runs: number): Promise<PairSamples> {
  const s: PairSamples = { ms: [], rssKiB: [], baseMs: [], baseRssKiB: [] };
  const macmux = () => run(binary, [], { env: cleanEnv({ CNI_COMMAND: 'VERSION' }), input: '{"cniVersion":"1.0.0"}', rss: true, what: `${binary} (CNI_COMMAND=VERSION)` });
  const node = () => run(process.execPath, ['-e', '0'], { env: cleanEnv(), rss: true });
  // One untimed run each: the page cache holds both executables before the first sample.
  ok(await macmux());
  ok(await node());
  for (let i = 0; i < runs; i++) {
    // Alternate which goes first, so neither always runs right after the other.
    const order = i % 2 === 0 ? [macmux, node] : [node, macmux];
    for (const f of order) {
      const r = ok(await f());
      if (f === macmux) {
        s.ms.push(r.ms);
        s.rssKiB.push(r.rssKiB ?? NaN);
      } else {
        s.baseMs.push(r.ms);
        s.baseRssKiB.push(r.rssKiB ?? NaN);
      }
    }
  }
  return s;
}

/** `node -e 0`'s peak RSS under /usr/bin/time, `runs` times (section 5's baseline when section 1 is not run). */
export async function nodeRss(runs: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) out.push(ok(await run(process.execPath, ['-e', '0'], { env: cleanEnv(), rss: true })).rssKiB ?? NaN);
  return out;
}
