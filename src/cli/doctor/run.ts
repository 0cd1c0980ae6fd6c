// Runs `macmux doctor`: gathers the facts, judges them, prints the checklist (or JSON) and fails when a check failed.
import { CliFailure, Exit, print, type CliIo } from '../io';
import type { GlobalOpts } from '../setup';
import { evaluate } from './evaluate';
import { gather } from './gather';
import { renderReport } from './render';

export interface DoctorOpts extends GlobalOpts {
  timeout?: string;
}

export async function runDoctor(opts: DoctorOpts, io: CliIo): Promise<void> {
  const output = opts.output ?? 'text';
  if (output !== 'text' && output !== 'json') throw new CliFailure(Exit.Usage, `unknown output format "${output}": use -o text or -o json`);
  const timeout = Number(opts.timeout ?? 10);
  if (!Number.isFinite(timeout) || timeout <= 0) throw new CliFailure(Exit.Usage, `--timeout ${opts.timeout}: give the seconds per API phase, a number above 0`);
  const report = evaluate(await gather(opts, io.getenv, timeout * 1000));
  print(io, output, report, () => renderReport(report));
  const failed = report.checks.filter((c) => c.status === 'fail').map((c) => c.name);
  if (failed.length) {
    throw new CliFailure(Exit.Failed, `doctor: ${failed.length} check${failed.length === 1 ? '' : 's'} failed (${failed.join(', ')}); follow the hints ${output === 'json' ? 'in the report' : 'above'}`);
  }
}
