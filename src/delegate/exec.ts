// Runs one plugin binary with the CNI environment and stdin through the process runner, and maps how it ended to a CniError.
import { CniError, Code, oneLine } from '../cni/errors';
import { runProcess, type ProcessRequest } from '../util/run-process';
import { redact } from '../util/secrets';
import { span } from '../util/phases';
import { basename } from 'node:path';

/** One delegate run: the plugin's path, its whole environment, its stdin, its timeout, and `what` naming it in errors (such as `macvlan (green) ADD`). */
export type PluginRequest = Pick<ProcessRequest, 'command' | 'env' | 'timeoutMs'> & { stdin: string; what: string };

const ETXTBSY_RETRIES = 5;

/** Runs the plugin and returns its stdout; a failure becomes a CniError keeping the plugin's code and message. */
export async function execPlugin(req: PluginRequest): Promise<string> {
  const { what, ...run } = req;
  let end;
  // The phase: the command and the plugin's file name in the bin directory (never the network's name).
  const phase = span(`delegate:${req.env.CNI_COMMAND ?? '-'}:${basename(req.command)}`);
  try {
    end = await runProcess({ ...run, textBusyRetries: ETXTBSY_RETRIES });
  } catch (e) {
    phase('err');
    throw new CniError(Code.IO, `${what}: cannot run ${req.command}: ${(e as Error).message}`);
  }
  phase();
  if (end.kind === 'exited') {
    if (end.status === 0) return end.stdout;
    throw pluginError(what, end.stdout, end.stderr, end.status, end.signal);
  }
  // No output cap is set: only the timeout ends a run early.
  throw new CniError(Code.TryAgainLater, `${what}: timed out after ${req.timeoutMs / 1000}s`);
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
