// Runs one plugin binary with the CNI environment and stdin, with a timeout and ETXTBSY retries.
import { spawn } from 'node:child_process';
import { CniError, Code, oneLine } from '../cni/errors';
import { redact } from '../util/secrets';

export interface ExecRequest {
  path: string;
  env: Record<string, string>;
  stdin: string;
  timeoutMs: number;
  /** Names the delegate in errors, such as `macvlan (green) ADD`. */
  what: string;
}

const ETXTBSY_RETRIES = 5;

/** Runs the plugin and returns its stdout; a failure becomes a CniError keeping the plugin's code and message. */
export async function execPlugin(req: ExecRequest): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await runOnce(req);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ETXTBSY' && attempt < ETXTBSY_RETRIES) {
        await new Promise((r) => setTimeout(r, 20 << attempt));
        continue;
      }
      if (e instanceof CniError) throw e;
      throw new CniError(Code.IO, `${req.what}: cannot run ${req.path}: ${(e as Error).message}`);
    }
  }
}

function runOnce(req: ExecRequest): Promise<string> {
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout kills the plugin and anything it started.
    const child = spawn(req.path, [], { env: req.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      child.stdout.destroy();
      child.stderr.destroy();
      reject(new CniError(Code.TryAgainLater, `${req.what}: timed out after ${req.timeoutMs / 1000}s`));
    }, req.timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {
      // A plugin that exits without reading stdin closes the pipe; its exit status tells the story.
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (timedOut) return;
      if (status === 0) return resolve(stdout);
      reject(pluginError(req.what, stdout, stderr, status, signal));
    });
    child.stdin.end(req.stdin);
  });
}

/** The plugin's own error JSON from stdout, else from stderr, else its stderr text; redacted (a plugin may quote its config, passwords included). */
export function pluginError(what: string, stdout: string, stderr: string, status: number | null, signal: NodeJS.Signals | null): CniError {
  for (const text of [stdout, stderr]) {
    const parsed = errorJson(text);
    if (parsed) return new CniError(parsed.code, `${what}: ${redact(parsed.msg)}`, redact(parsed.details));
  }
  // Only the first line: a crashing plugin's stderr may be a whole stack trace, which must not reach stdout.
  const why = signal ? `killed by ${signal}` : `exited with status ${status}`;
  // Redacted before it is cut: a secret cut in two would no longer be recognised.
  const first = redact((stderr || stdout).trim().split(/\r?\n/)[0]?.trim() ?? '').slice(0, 300);
  return new CniError(Code.Internal, `${what}: ${why}${first ? `: ${first}` : ''}`);
}

function errorJson(text: string): { code: number; msg: string; details: string } | undefined {
  const t = text.trim();
  if (!t.startsWith('{')) return undefined;
  try {
    const v = JSON.parse(t) as Record<string, unknown>;
    if (typeof v.code !== 'number') return undefined;
    return { code: v.code, msg: oneLine(String(v.msg ?? '')), details: oneLine(String(v.details ?? '')) };
  } catch {
    return undefined;
  }
}
