// The CNI dispatcher: reads env and stdin, answers VERSION, hands every other verb to ./verb; no process globals.
import { asCniError, type CniError } from './errors';
import { readCommand, type Getenv } from './env';
import { LATEST_VERSION, versionInfo } from './versions';
import { parseJson } from './json';
import { nestedRun } from './nesting';
import { Logger, logSettings, makeSink, type LogSink } from '../log';

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
  const early = logSettings(io.getenv);
  const log = new Logger(early.level, makeSink(early.file, io.stderr));
  let command: string;
  let text: string;
  let runVerb: typeof import('./verb').runVerb;
  try {
    command = readCommand(io.getenv);
    log.with({ verb: command, containerID: io.getenv('CNI_CONTAINERID') || '-' });
    // Before stdin is read: a copy of macmux run by macmux (MACMUX_DELEGATE set) never reads a config.
    const nested = nestedRun(io.getenv, command);
    if (nested) {
      log.error(nested.skip);
      return 0;
    }
    text = await readAll(io.stdin);
    if (command === 'VERSION') {
      const asked = text.trim() ? parseJson(text, 'stdin').cniVersion : undefined;
      io.stdout.write(JSON.stringify(versionInfo(typeof asked === 'string' ? asked : undefined)));
      return 0;
    }
    // Loaded here, inside the try: a binary whose verb chunk cannot be loaded still answers with one error JSON.
    ({ runVerb } = await import('./verb'));
  } catch (e) {
    const err: CniError = asCniError(e);
    log.error(`code ${err.code}: ${err.message}${err.details ? ` (${err.details})` : ''}`);
    io.stdout.write(JSON.stringify(err.toJSON(LATEST_VERSION)));
    return 1;
  }
  return runVerb(io, command, text, started, log);
}

async function readAll(stdin: Io['stdin']): Promise<string> {
  if (typeof stdin === 'string') return stdin;
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString('utf8');
}
