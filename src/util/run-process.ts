// Runs one executable in its own process group, with stdin, an environment, a timeout that kills the group and output caps: for delegates and exec credential plugins.
import { spawn } from 'node:child_process';

/** One run of an executable. */
export interface ProcessRequest {
  /** A path, or a bare name looked up in the PATH of `env`. */
  command: string;
  args?: string[];
  /** Its environment; with `extendEnv`, added to this process's own. */
  env: Record<string, string>;
  extendEnv?: boolean;
  /** Written to its stdin, which is then closed; without it, stdin is /dev/null. */
  stdin?: string;
  /** Past this, the process and everything it started are killed (SIGKILL to its group). */
  timeoutMs: number;
  /** The most stdout may hold: past it, the group is killed (an answer cut short is no answer). */
  maxStdout?: number;
  /** The most of stderr kept (0: none); the rest is counted, not kept. */
  maxStderr?: number;
  /** Tries again this many times, 20 ms then twice as long each time, while the executable is still open for writing (ETXTBSY). */
  textBusyRetries?: number;
}

/** How the run ended. */
export type ProcessOutcome =
  | { kind: 'exited'; status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; stderrBytes: number }
  | { kind: 'timeout' }
  | { kind: 'overflow' };

/** Runs `req.command` to its end; rejects only when it cannot be started (the spawn error, such as ENOENT). */
export async function runProcess(req: ProcessRequest): Promise<ProcessOutcome> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await runOnce(req);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ETXTBSY' || attempt >= (req.textBusyRetries ?? 0)) throw e;
      await new Promise((r) => setTimeout(r, 20 << attempt));
    }
  }
}

function runOnce(req: ProcessRequest): Promise<ProcessOutcome> {
  return new Promise((resolve, reject) => {
    const env = req.extendEnv ? { ...process.env, ...req.env } : req.env;
    // Its own process group, so that a timeout kills the process and anything it started.
    const child = spawn(req.command, req.args ?? [], { env, stdio: [req.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], detached: true });
    // Piped above, so never null.
    const stdout = child.stdout!;
    const stderr = child.stderr!;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let done = false;
    const settle = (how: () => void): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      how();
    };
    const kill = (outcome: ProcessOutcome): void =>
      settle(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
        stdout.destroy();
        stderr.destroy();
        resolve(outcome);
      });
    const timer = setTimeout(() => kill({ kind: 'timeout' }), req.timeoutMs);
    stdout.on('data', (b: Buffer) => {
      outBytes += b.length;
      if (req.maxStdout !== undefined && outBytes > req.maxStdout) kill({ kind: 'overflow' });
      else out.push(b);
    });
    stderr.on('data', (b: Buffer) => {
      const room = (req.maxStderr ?? Infinity) - errBytes;
      errBytes += b.length;
      if (room > 0) err.push(room < b.length ? b.subarray(0, room) : b);
    });
    child.on('error', (e) => settle(() => reject(e)));
    child.on('close', (status, signal) =>
      settle(() =>
        resolve({ kind: 'exited', status, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), stderrBytes: errBytes }),
      ),
    );
    if (child.stdin) {
      // A process that exits without reading stdin closes the pipe (EPIPE); its exit status tells the story.
      child.stdin.on('error', () => {});
      child.stdin.end(req.stdin);
    }
  });
}
