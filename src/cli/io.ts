// What CLI commands print to and the exit codes scripts can rely on.
import { CniError, Code } from '../cni/errors';
import { redact } from '../util/secrets';

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  getenv: (name: string) => string | undefined;
}

/** `io` with every line it prints redacted: the one redaction step of the operator CLI and install's log. */
export function redactedIo(io: CliIo): CliIo {
  return { ...io, out: (s) => io.out(redact(s)), err: (s) => io.err(redact(s)) };
}

/** Exit codes of every operator command. */
export const Exit = {
  Ok: 0,
  /** A check failed, or the operation was refused (the message says why and what to do). */
  Failed: 1,
  /** Bad usage or a bad config file. */
  Usage: 2,
  /** The thing asked about does not exist. */
  NotFound: 3,
  /** The API server or a lock was unavailable: try again later. */
  Unavailable: 4,
} as const;

/** A failure that ends a command with `exit` and a message that says what to do next. */
export class CliFailure extends Error {
  constructor(
    readonly exit: number,
    message: string,
  ) {
    super(message);
  }
}

/** The exit code for an error thrown by a command. */
export function exitFor(e: unknown): number {
  if (e instanceof CliFailure) return e.exit;
  if (e instanceof CniError) {
    if (e.code === Code.InvalidConfig || e.code === Code.Decode) return Exit.Usage;
    if (e.code === Code.TryAgainLater) return Exit.Unavailable;
  }
  return Exit.Failed;
}

/** One line per item: JSON when `-o json`, else the table `render` makes. */
export function print(io: CliIo, output: string | undefined, json: unknown, render: () => string): void {
  io.out(output === 'json' ? `${JSON.stringify(json, null, 2)}\n` : render());
}

/** Left-aligned columns with a header row. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}
