// The header line: which machine, kernel, Node and binary the figures come from.
import { cpus, release } from 'node:os';
import { statSync } from 'node:fs';

export function machineLine(binary: string, runs: number): string {
  const c = cpus();
  const model = (c[0]?.model ?? 'unknown CPU').replace(/\s+/g, ' ').trim();
  const size = statSync(binary).size;
  return `macmux bench: ${c.length} cores (${model}), Linux ${release()}, Node ${process.version}, ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}; ` +
    `binary ${binary} (${(size / 2 ** 20).toFixed(1)} MiB); medians of ${runs} interleaved runs per side unless stated`;
}

/** The warning when the bench's own environment would slow every Node start (the bench's children never get it). */
export function envWarnings(): string[] {
  const w: string[] = [];
  if (process.env.NODE_EXTRA_CA_CERTS) {
    w.push(`warning: NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS} is set in the bench's environment (about 45 ms on every Node start); the processes it times run with PATH only and do not get it`);
  }
  if (process.env.NODE_OPTIONS) w.push(`warning: NODE_OPTIONS is set in the bench's environment; the processes it times do not get it`);
  return w;
}
