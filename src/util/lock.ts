// A lock on disk (proper-lockfile): bounded waiting (code 11 on timeout), stale holders recovered, an undo on every path.
import { lock } from 'proper-lockfile';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { CniError, Code } from '../cni/errors';
import { span } from './phases';

export interface LockOptions {
  /** The lock directory's path (created and removed by the lock). */
  path: string;
  /** What is locked, for the timeout message. */
  what: string;
  /** Give up (code 11) after this long. */
  timeoutMs: number;
  /** A holder that stops refreshing for this long is presumed dead and its lock taken over. */
  staleMs?: number;
  onCompromised?: (err: Error) => void;
  /** Names the lock in the phase line (`lock:<phase>` waiting, `held:<phase>` holding): a fixed word, never a path. */
  phase?: string;
}

/** Runs `fn` holding the lock; waits with backoff while another process holds it, up to the timeout. */
export async function withLock<T>(opts: LockOptions, fn: () => Promise<T>): Promise<T> {
  const release = await acquire(opts);
  try {
    return await fn();
  } finally {
    await release().catch(() => {
      // already released or compromised: nothing left to undo
    });
  }
}

/** Takes the lock, waiting as withLock does; returns its release, which never fails (a lock already released or compromised leaves nothing to undo). */
export async function takeLock(opts: LockOptions): Promise<() => Promise<void>> {
  const release = await acquire(opts);
  return () => release().catch(() => {});
}

/** Takes the lock, timing the wait; the release it returns ends the hold's span. */
async function acquire(opts: LockOptions): Promise<() => Promise<void>> {
  const name = opts.phase ?? 'other';
  const wait = span(`lock:${name}`);
  const release = await acquireUntimed(opts).finally(() => wait());
  const held = span(`held:${name}`);
  return () => {
    held();
    return release();
  };
}

async function acquireUntimed(opts: LockOptions): Promise<() => Promise<void>> {
  const stale = opts.staleMs ?? 3000;
  const deadline = Date.now() + opts.timeoutMs;
  try {
    mkdirSync(dirname(opts.path), { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new CniError(Code.IO, `cannot lock ${opts.what}: cannot create ${dirname(opts.path)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  for (let attempt = 0; ; attempt++) {
    try {
      return await lock(opts.path, {
        realpath: false,
        lockfilePath: opts.path,
        stale,
        update: Math.max(500, Math.floor(stale / 3)),
        retries: 0,
        onCompromised: opts.onCompromised ?? (() => {}),
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') {
        throw new CniError(Code.IO, `cannot lock ${opts.what} (${opts.path}): ${(e as Error).message}`);
      }
      if (Date.now() >= deadline) throw new CniError(Code.TryAgainLater, `timed out after ${opts.timeoutMs / 1000}s waiting for the lock on ${opts.what} (${opts.path})`);
      // Short polls (5 to 25 ms, jittered): with long backoffs a newcomer's first polls won the lock over
      // older waiters, who then waited seconds for a lock each holder keeps for a tenth of one.
      await new Promise((r) => setTimeout(r, Math.min(25, 5 * 2 ** Math.min(attempt, 3)) * (0.5 + Math.random())));
    }
  }
}
