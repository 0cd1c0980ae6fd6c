// The seeded fuzz corpus: a fixed number of cases per kind, each regenerable alone from (seed, index).
import { caseSeed, Rng } from './rng';
import type { CaseBody, FuzzCase, Kind } from './types';
import { configCase } from './configs';
import { annotationCase } from './annotations';
import { cniArgsCase } from './cniargs';
import { envCase } from './environment';
import { nadCase } from './nads';
import { secretCase } from './secrets';
import { trustCase } from './trust';

/** The seed CI runs with; MACMUX_FUZZ_SEED explores others. */
export const DEFAULT_SEED = 20240611;

/** How many cases of each kind, in index order. */
export const QUOTAS: Array<[Kind, number, (rng: Rng, index: number) => CaseBody]> = [
  ['config', 700, configCase],
  ['annotation', 500, annotationCase],
  ['cni-args', 300, cniArgsCase],
  ['env', 250, envCase],
  ['nad', 300, nadCase],
  // Last, so that adding them kept every earlier case's index.
  ['secret', 40, secretCase],
  ['trust', 80, trustCase],
];

export const TOTAL = QUOTAS.reduce((n, [, q]) => n + q, 0);

/** Case `index` of the corpus for `seed`. */
export function caseAt(seed: number, index: number): FuzzCase {
  let start = 0;
  for (const [kind, quota, make] of QUOTAS) {
    if (index < start + quota) return { ...make(new Rng(caseSeed(seed, index)), index), index, seed, kind };
    start += quota;
  }
  throw new Error(`case ${index} is out of range: the corpus has ${TOTAL} cases`);
}

/** The whole corpus, or only `only` (case indexes) when given. */
export function generate(seed: number, only?: number[]): FuzzCase[] {
  const indexes = only ?? Array.from({ length: TOTAL }, (_, i) => i);
  return indexes.map((i) => caseAt(seed, i));
}

/** The seed and case selection from MACMUX_FUZZ_SEED and MACMUX_FUZZ_CASE (a comma list of indexes). */
export function selection(getenv: (k: string) => string | undefined): { seed: number; only?: number[] } {
  const rawSeed = getenv('MACMUX_FUZZ_SEED');
  const seed = rawSeed ? Number(rawSeed) : DEFAULT_SEED;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`MACMUX_FUZZ_SEED must be a non-negative integer, not ${JSON.stringify(rawSeed)}`);
  const rawCase = getenv('MACMUX_FUZZ_CASE');
  if (!rawCase) return { seed };
  const only = rawCase.split(',').map((s) => Number(s.trim()));
  for (const i of only) if (!Number.isInteger(i) || i < 0 || i >= TOTAL) throw new Error(`MACMUX_FUZZ_CASE: ${JSON.stringify(rawCase)} must list case indexes below ${TOTAL}`);
  return { seed, only };
}

/** The command that replays one case. */
export const replayLine = (c: FuzzCase) => `MACMUX_FUZZ_SEED=${c.seed} MACMUX_FUZZ_CASE=${c.index}`;
