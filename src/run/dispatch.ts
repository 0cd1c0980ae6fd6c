// The CNI dispatcher: reads env and stdin, answers VERSION, hands every other verb to ./verb; no process globals.
import { asCniError, CniError, Code } from '../cni/errors';
import { readCommand, type Getenv } from '../cni/env';
import { LATEST_VERSION, versionInfo } from '../cni/versions';
import { parseJson } from '../cni/json';
import { nestedRun } from '../cni/nesting';
import { envLogLevel, Level, Logger, logSettings, makeSink, type LogSink } from '../log';
import { mark, phaseLine, recordPhases, recordingPhases, sinceStart, span } from '../util/phases';

export interface Io {
  getenv: Getenv;
  /** The whole of stdin, or a stream of it. */
  stdin: string | AsyncIterable<string | Buffer>;
  stdout: { write(s: string): unknown };
  stderr: LogSink;
  /** The whole environment, which delegates inherit (less the CNI_ variables macmux sets); PATH alone without it. */
  environ?: () => Record<string, string | undefined>;
}

/**
 * Runs one CNI invocation and returns the exit code: 0 on success, 1 after printing an error.
 * VERSION is answered here, from the few modules every invocation loads; the verbs live in ./verb,
 * which the binary ships as a separately compiled chunk, so VERSION never parses or runs them.
 */
export async function dispatch(io: Io): Promise<number> {
  const started = Date.now();
  const mainAt = sinceStart();
  // Phase timings are for level 3: recorded from here unless the environment sets a lower level; the verb settles it once the config's level is known.
  const envLevel = envLogLevel(io.getenv);
  recordPhases(envLevel === undefined || envLevel === Level.Debug);
  mark('main', 0, mainAt);
  const early = logSettings(io.getenv);
  const log = new Logger(early.level, makeSink(early.file, io.stderr));
  let command: string;
  let text: string;
  let runVerb: typeof import('./verb').runVerb;
  /** Ends an invocation answered here: its phase line (at level 3) with CNI code `code`; returns it. */
  const done = (code: number): number => {
    if (recordingPhases()) log.debug(phaseLine(code));
    return code;
  };
  try {
    command = readCommand(io.getenv);
    log.with({ verb: command, containerID: io.getenv('CNI_CONTAINERID') || '-' });
    // Before stdin is read: a copy of macmux run by macmux (MACMUX_DELEGATE set) never reads a config.
    const nested = nestedRun(io.getenv, command);
    if (nested) {
      log.error(nested.skip);
      return done(0);
    }
    const stdinRead = span('stdin');
    text = await readAll(io.stdin);
    stdinRead();
    if (command === 'VERSION') {
      const asked = text.trim() ? parseJson(text, 'stdin').cniVersion : undefined;
      io.stdout.write(JSON.stringify(versionInfo(typeof asked === 'string' ? asked : undefined)));
      return done(0);
    }
    // Loaded here, inside the try: a binary whose verb chunk cannot be loaded still answers with one error JSON.
    const chunk = span('chunk');
    ({ runVerb } = await import('./verb'));
    chunk();
  } catch (e) {
    const err: CniError = asCniError(e);
    log.error(`code ${err.code}: ${err.message}${err.details ? ` (${err.details})` : ''}`);
    io.stdout.write(JSON.stringify(err.toJSON(LATEST_VERSION)));
    done(err.code);
    return 1;
  }
  return runVerb(io, command, text, started, log);
}

/** The most stdin macmux reads: a network config is a few KiB; a conflist with 100 delegates well under 1 MiB. */
export const MAX_STDIN_BYTES = 4 * 1024 * 1024;

/** All of stdin, read incrementally: code 6 as soon as it passes MAX_STDIN_BYTES, without buffering the rest. */
async function readAll(stdin: Io['stdin']): Promise<string> {
  const tooBig = (): CniError => new CniError(Code.Decode, `stdin is larger than ${MAX_STDIN_BYTES} bytes (4 MiB), the most macmux reads; not parsed`);
  if (typeof stdin === 'string') {
    if (Buffer.byteLength(stdin) > MAX_STDIN_BYTES) throw tooBig();
    return stdin;
  }
  const chunks: Buffer[] = [];
  let bytes = 0;
  // Leaving the loop early destroys the stream: the writer gets EPIPE rather than filling memory.
  for await (const c of stdin) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    bytes += b.length;
    if (bytes > MAX_STDIN_BYTES) throw tooBig();
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}
