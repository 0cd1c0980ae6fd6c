// Spawns the processes the bench times: a clean environment (PATH only, plus what the caller gives), wall time, peak RSS via /usr/bin/time.
import { spawn, spawnSync } from 'node:child_process';

export const TIME = '/usr/bin/time';
const RSS_MARK = 'mmbench-maxrss-kib=';
export const BASE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** PATH and `extra` only: nothing of the bench's own environment (NODE_EXTRA_CA_CERTS, NODE_OPTIONS, CNI_*) leaks in. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: BASE_PATH, ...extra };
}

export interface Run {
  /** what was run, for error messages */
  what: string;
  status: number;
  stdout: string;
  stderr: string;
  /** wall time from spawn to exit, in ms, as seen by the bench */
  ms: number;
  /** peak RSS in KiB, when run under /usr/bin/time */
  rssKiB?: number;
}

export interface RunOptions {
  env: Record<string, string>;
  input?: string;
  /** wrap in /usr/bin/time to read the peak RSS (adds the ~1 ms of one more exec to the wall time) */
  rss?: boolean;
  /** a label for error messages; the command line without it */
  what?: string;
}

/** Runs `cmd args` without blocking the event loop (the API test server lives in this process). */
export function run(cmd: string, args: string[], o: RunOptions): Promise<Run> {
  const [file, argv] = o.rss ? [TIME, ['-f', `${RSS_MARK}%M`, cmd, ...args]] : [cmd, args];
  const what = o.what ?? [cmd, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(file, argv, { env: o.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (status, signal) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      let stderr = Buffer.concat(err).toString('utf8');
      let rssKiB: number | undefined;
      if (o.rss) {
        const at = stderr.lastIndexOf(RSS_MARK);
        if (at >= 0) {
          rssKiB = Number(stderr.slice(at + RSS_MARK.length).trim());
          // time's own lines: the mark, and "Command exited with non-zero status N" before it
          stderr = stderr.slice(0, at).replace(/Command (exited with non-zero status \d+|terminated by signal \d+)\n?$/, '');
        }
      }
      resolve({ what, status: status ?? (signal ? 128 : -1), stdout: Buffer.concat(out).toString('utf8'), stderr, ms, ...(rssKiB !== undefined ? { rssKiB } : {}) });
    });
    child.stdin.on('error', () => undefined); // a process that exits before reading stdin
    child.stdin.end(o.input ?? '');
  });
}

/** An operation of the bench failed (not a timing): carries the process's output for the report. */
export class OperationFailed extends Error {
  constructor(readonly result: Run) {
    super(`${result.what} exited with status ${result.status}\n--- stdout ---\n${result.stdout.trim()}\n--- stderr ---\n${result.stderr.trim()}`);
  }
}

/** `r`, or OperationFailed when it exited non-zero. */
export function ok(r: Run): Run {
  if (r.status !== 0) throw new OperationFailed(r);
  return r;
}

/**
 * Drops `file` from the page cache, so that the next run reads it from disk as a node binary installed a while
 * ago is. A file-backed page counts in a process's RSS once mapped, and how many pages one fault maps depends
 * on the size of the page-cache folios that hold the file: a binary just written by the build can show several
 * MiB more peak RSS than the same bytes read back from disk.
 */
export function evict(file: string): void {
  spawnSync('sync', [file], { stdio: 'ignore' });
  spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none'], { stdio: 'ignore' });
}
