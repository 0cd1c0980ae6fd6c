// The logger: one line per event to _CNI_LOGGING_FILE or stderr, never stdout.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { oneLine } from './cni/errors';
import { redact } from './util/secrets';

export const Level = { Off: 0, Error: 1, Info: 2, Debug: 3 } as const;
const NAMES = ['off', 'error', 'info', 'debug'];

export interface LogSink {
  write(line: string): void;
}

export interface LogContext {
  verb?: string;
  containerID?: string;
  pod?: string;
}

export class Logger {
  private ctx: LogContext = {};

  constructor(
    private level: number,
    private sink: LogSink,
  ) {}

  /** Adds fields (verb, containerID, pod) that every later line carries. */
  with(ctx: LogContext): this {
    this.ctx = { ...this.ctx, ...ctx };
    return this;
  }

  error(msg: string): void {
    this.log(Level.Error, msg);
  }
  info(msg: string): void {
    this.log(Level.Info, msg);
  }
  debug(msg: string): void {
    this.log(Level.Debug, msg);
  }
  enabled(level: number): boolean {
    return level <= this.level;
  }

  private log(level: number, msg: string): void {
    if (level > this.level) return;
    const { verb = '-', containerID = '-', pod = '-' } = this.ctx;
    const line = `${new Date().toISOString()} ${NAMES[level]} ${verb} ${containerID} ${pod} ${oneLine(redact(msg))}\n`;
    try {
      this.sink.write(line);
    } catch {
      // Logging must never break the verb.
    }
  }
}

/** Kept for callers of the logger's module: the one redaction step lives in util/secrets. */
export { redact };

/** Settings from the environment, which wins, then the config. */
export function logSettings(getenv: (k: string) => string | undefined, conf?: { logLevel?: number; logFile?: string }): { level: number; file?: string } {
  const level = envLogLevel(getenv) ?? conf?.logLevel ?? Level.Error;
  const file = getenv('_CNI_LOGGING_FILE') || conf?.logFile;
  return file ? { level, file } : { level };
}

/** The level _CNI_LOGGING_LEVEL sets, which wins over the config's; undefined when it is unset or not 0 to 3. */
export function envLogLevel(getenv: (k: string) => string | undefined): number | undefined {
  const envLevel = getenv('_CNI_LOGGING_LEVEL');
  const parsed = envLevel !== undefined && envLevel !== '' ? Number(envLevel) : NaN;
  return Number.isInteger(parsed) && parsed >= 0 && parsed <= 3 ? parsed : undefined;
}

/** A sink appending to `file` (created 0600), or writing to `stderr` when there is none. */
export function makeSink(file: string | undefined, stderr: LogSink): LogSink {
  if (!file) return stderr;
  return {
    write(line: string) {
      mkdirSync(dirname(file), { recursive: true });
      appendFileSync(file, line, { mode: 0o600 });
    },
  };
}
