// Section 7: where the milliseconds of section 2's ADD and DEL (and section 3's DEL with the API down) go, from macmux's phase lines at level 3, beside the bare delegates.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePhaseLine, type Span } from '../../src/util/phases';
import { replay } from './capture';
import { figures, REQUESTS, requestList } from './phase-stats';

export { REQUESTS, ROUND_TRIPS } from './phase-stats';
import { PLUGIN_DIR, type PodWorld } from './pod-world';
import { cleanEnv, ok, run, type Run } from './proc';
import type { Recorded } from './roundtrip';
import { median, ms } from './stats';

export const COLUMNS = ['ADD', 'DEL', 'DEL, API down'] as const;
type Column = (typeof COLUMNS)[number];

export interface PhaseRuns {
  /** Per column: label → one value per run. */
  values: Record<Column, Map<string, number[]>>;
  /** The requests of each column's first run, as requestList prints them. */
  requests: Record<Column, string>;
}

/** The phase line in `r`'s stderr, parsed: exactly one, or the run is a failed operation. */
function phasesOf(r: Run): { spans: Span[]; total: number } {
  const lines = r.stderr.split('\n').filter((l) => l.includes(' phases v=1 '));
  const parsed = lines.length === 1 ? parsePhaseLine(lines[0]!) : undefined;
  if (!parsed) throw new Error(`${r.what}: expected one phase line at _CNI_LOGGING_LEVEL=3, found ${lines.length}:\n${r.stderr}`);
  return parsed;
}

/**
 * `runs` pods through macmux at level 3 (ADD and DEL with the API up; then, for other pods, DEL with it
 * down after an ADD at level 0), each run alternating with a replay of the recorded delegate calls on
 * the bare plugins, which gives the bare delegates' times call by call.
 */
export async function phaseRuns(w: PodWorld, rec: Recorded, runs: number): Promise<PhaseRuns> {
  const values = Object.fromEntries(COLUMNS.map((c) => [c, new Map<string, number[]>()])) as PhaseRuns['values'];
  const requests = Object.fromEntries(COLUMNS.map((c) => [c, ''])) as PhaseRuns['requests'];
  const push = (c: Column, label: string, v: number) => values[c].set(label, [...(values[c].get(label) ?? []), v]);
  const take = (c: Column, r: Run) => {
    const { spans, total } = phasesOf(ok(r));
    // MMBENCH_PHASE_LINES=<file> keeps every phase line read, after its column, for a closer look.
    if (process.env.MMBENCH_PHASE_LINES) appendFileSync(process.env.MMBENCH_PHASE_LINES, `${c}\t${r.stderr.split('\n').find((l) => l.includes(' phases v=1 '))}\n`);
    for (const [label, v] of figures(spans, total)) push(c, label, v);
    push(c, 'wall, spawn to exit (bench)', r.ms);
    if (!requests[c]) requests[c] = requestList(spans);
  };
  const debug = { _CNI_LOGGING_LEVEL: '3' };
  const up = w.conf('mmbench-phases');
  const down = w.conf('mmbench-phases', { apiDown: true });
  const viaMacmux = async (apiDown: boolean) => {
    const ns = w.sb.netns('p');
    try {
      const { env } = w.pod('ph', ns);
      if (apiDown) {
        ok(await w.macmux('ADD', up, env));
        take('DEL, API down', await macmux(w, 'DEL', down, { ...env, ...debug }));
      } else {
        take('ADD', await macmux(w, 'ADD', up, { ...env, ...debug }));
        take('DEL', await macmux(w, 'DEL', up, { ...env, ...debug }));
      }
    } finally {
      w.sb.dropNetns(ns);
    }
  };
  const bare = async (i: number) => {
    const ns = w.sb.netns('q');
    try {
      const to = { containerID: `${w.sb.prefix}bph-${i}`, netns: `/run/netns/${ns}` };
      for (const verb of ['ADD', 'DEL'] as const) {
        const calls = await replay(rec.calls, verb, rec.from, to, PLUGIN_DIR);
        const cols: Column[] = verb === 'ADD' ? ['ADD'] : ['DEL', 'DEL, API down'];
        for (const c of cols) {
          calls.forEach((r, k) => push(c, `delegate ${k + 1}: ${r.what.split(' ')[1]} ${verb}, bare`, r.ms));
          push(c, 'delegates, sum, bare', calls.reduce((a, r) => a + r.ms, 0));
        }
      }
    } finally {
      w.sb.dropNetns(ns);
    }
  };
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? [() => viaMacmux(false), () => bare(i)] : [() => bare(i), () => viaMacmux(false)];
    for (const step of order) await step();
  }
  for (let i = 0; i < runs; i++) await viaMacmux(true);
  return { values, requests };
}

/**
 * The API requests of the ADD and DEL of `runs` pods of 2.'s kind whose names the API server generated (a Deployment's
 * pods): no owner-index object is read or written for them. Medians.
 */
export async function generatedRequests(w: PodWorld, runs: number): Promise<{ add: number; del: number }> {
  const counts = { add: [] as number[], del: [] as number[] };
  const conf = w.conf('mmbench-phases');
  const count = (r: Run) => figures(phasesOf(ok(r)).spans, 0).find(([l]) => l === REQUESTS)?.[1] ?? NaN;
  for (let i = 0; i < runs; i++) {
    const ns = w.sb.netns('g');
    try {
      const { env } = w.pod('gen', ns, { generated: true });
      counts.add.push(count(await macmux(w, 'ADD', conf, { ...env, _CNI_LOGGING_LEVEL: '3' })));
      counts.del.push(count(await macmux(w, 'DEL', conf, { ...env, _CNI_LOGGING_LEVEL: '3' })));
    } finally {
      w.sb.dropNetns(ns);
    }
  }
  return { add: median(counts.add), del: median(counts.del) };
}

/** macmux `command` with `env` (which may set the log level): what PodWorld.macmux runs. */
function macmux(w: PodWorld, command: 'ADD' | 'DEL', conf: Record<string, unknown>, env: Record<string, string>): Promise<Run> {
  return run(w.binary, [], { env: cleanEnv({ CNI_COMMAND: command, ...env }), input: JSON.stringify(conf), what: `macmux ${command} (${env.CNI_CONTAINERID})` });
}

/** The markdown table of the medians, one row per label (in the order first met), one column per verb; then each verb's requests. */
export function renderPhases(p: PhaseRuns, runs: number): string {
  const labels: string[] = [];
  for (const c of COLUMNS) for (const l of p.values[c].keys()) if (!labels.includes(l) && !l.endsWith(', bare')) labels.push(l);
  // Each bare delegate right under macmux's run of the same call.
  const sorted = labels.flatMap((l) => ([...COLUMNS].some((c) => p.values[c].has(`${l}, bare`)) ? [l, `${l}, bare`] : [l]));
  const isCount = (l: string) => l.endsWith('(count)');
  const cell = (c: Column, l: string) => {
    const xs = p.values[c].get(l);
    if (!xs) return '';
    const m = median(xs);
    return isCount(l) ? (Number.isInteger(m) ? String(m) : m.toFixed(1)) : ms(m);
  };
  const rows = sorted.map((l) => `| ${l} | ${COLUMNS.map((c) => cell(c, l)).join(' | ')} |`);
  const overhead = COLUMNS.map((c) => {
    const [wall, bareSum] = [p.values[c].get('wall, spawn to exit (bench)'), p.values[c].get('delegates, sum, bare')];
    return wall && bareSum ? ms(median(wall) - median(bareSum)) : '';
  });
  rows.push(`| **overhead: wall − bare delegates (medians)** | ${overhead.join(' | ')} |`);
  return [
    `7. Phases at \`_CNI_LOGGING_LEVEL=3\` (median of ${runs} runs each; a phase's median, so the rows need not add up)`,
    '',
    `| phase | ${COLUMNS.join(' | ')} |`,
    `| --- | ${COLUMNS.map(() => '---').join(' | ')} |`,
    ...rows,
    '',
    ...COLUMNS.map((c) => `- ${c} requests: ${p.requests[c]}`),
  ].join('\n');
}

export const phaseNotes = (runs: number) =>
  `- 7: ${runs} more pods of 2.'s kind through macmux at \`_CNI_LOGGING_LEVEL=3\` (ADD and DEL with the API up; the DEL with the API down after an ADD at level 0), alternating with replays of the recorded delegate calls on the bare plugins. ` +
  `Each figure is the median over runs of the phase line's spans (docs/operations.md, debugging): times from the process's start; a request is a sequential round trip when it overlaps no earlier one; "in no phase" is the total less the union of all spans but the held locks. ` +
  `Level 3 also writes the other debug lines to stderr, so these runs are slightly slower than 2.'s. Source: ${join('scripts', 'bench', 'phases.ts')}.`;
