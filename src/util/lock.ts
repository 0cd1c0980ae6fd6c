// A lock on disk: a directory made by mkdir, its mtime refreshed while held; bounded waiting (code 11 on timeout), stale holders recovered, an undo on every path.
import { mkdirSync, rmdirSync, statSync, utimesSync } from 'node:fs';
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
  const stale = Math.max(opts.staleMs ?? 3000, 2000);
  const deadline = Date.now() + opts.timeoutMs;
  try {
    mkdirSync(dirname(opts.path), { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new CniError(Code.IO, `cannot lock ${opts.what}: cannot create ${dirname(opts.path)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  for (let attempt = 0; ; attempt++) {
    let lock: Held | undefined;
    try {
      lock = tryLock(opts.path, stale);
    } catch (e) {
      throw new CniError(Code.IO, `cannot lock ${opts.what} (${opts.path}): ${(e as Error).message}`);
    }
    if (lock) return hold(lock, stale, opts.onCompromised ?? (() => {}));
    if (Date.now() >= deadline) throw new CniError(Code.TryAgainLater, `timed out after ${opts.timeoutMs / 1000}s waiting for the lock on ${opts.what} (${opts.path})`);
    // Short polls (5 to 25 ms, jittered): with long backoffs a newcomer's first polls won the lock over
    // older waiters, who then waited seconds for a lock each holder keeps for a tenth of one.
    await new Promise((r) => setTimeout(r, Math.min(25, 5 * 2 ** Math.min(attempt, 3)) * (0.5 + Math.random())));
  }
}

/**
 * The protocol (that of proper-lockfile, which earlier versions used, so that both take turns during an upgrade):
 * the lock is the directory at `path`; its holder sets its mtime every third of `stale`; a directory whose mtime is
 * older than `stale` belongs to a dead holder and is removed. Synchronous calls: an uncontended lock costs two
 * system calls, not a round of the thread pool for each.
 */
interface Held {
  path: string;
  /** The mtime this holder last set: another one means the lock was taken over. */
  mtimeMs: number;
  refreshed: number;
  timer?: NodeJS.Timeout;
  released: boolean;
}

/** The locks this process holds, removed if it exits, or is stopped by SIGTERM, SIGINT or SIGHUP, without releasing them (a SIGKILLed holder's go stale). */
const held = new Set<Held>();
let exitHook = false;
const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
const handlers = new Map<string, () => void>();

/** On exit, and on a signal that would end the process: the held locks removed, then the signal's own end (its exit status). */
function hookExit(): void {
  if (exitHook) return;
  exitHook = true;
  const removeAll = () => {
    for (const l of held) removeDir(l.path);
    held.clear();
  };
  process.on('exit', removeAll);
  for (const sig of SIGNALS) {
    // Only where nothing else handles the signal: a handler of its own keeps the process's choice.
    if (process.listenerCount(sig) > 0) continue;
    const onSignal = () => {
      removeAll();
      for (const [s, h] of handlers) process.removeListener(s, h);
      process.kill(process.pid, sig);
    };
    handlers.set(sig, onSignal);
    process.on(sig, onSignal);
  }
}

/** Takes the lock if it is free or stale; undefined while another holder keeps it fresh. */
function tryLock(path: string, stale: number): Held | undefined {
  for (let pass = 0; pass < 2; pass++) {
    try {
      mkdirSync(path);
      return { path, mtimeMs: statSync(path).mtimeMs, refreshed: Date.now(), released: false };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (pass > 0) return undefined; // taken again between the removal and the mkdir
    let mtimeMs: number;
    try {
      mtimeMs = statSync(path).mtimeMs;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile
      throw e;
    }
    if (mtimeMs >= Date.now() - stale) return undefined;
    if (!takeOver(path, mtimeMs, stale)) return undefined; // another waiter is taking it over
  }
  return undefined;
}

/**
 * Removes the stale lock at `path` whose mtime was `seen`, under a second lock (`<path>.takeover`): two
 * waiters that both saw it stale would otherwise both remove it, the second removing the first's new lock,
 * and both hold it. Under the guard the mtime is looked at again, so the second finds the first's fresh
 * lock and leaves it. A guard whose holder died (older than `stale`) is removed for the next try. False
 * when this waiter did not take the lock over (the guard is held, or the lock changed).
 */
export function takeOver(path: string, seen: number, stale: number): boolean {
  const guard = `${path}.takeover`;
  try {
    mkdirSync(guard);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    try {
      if (statSync(guard).mtimeMs < Date.now() - stale) rmdirSync(guard);
    } catch {
      // gone meanwhile: the next try takes it
    }
    return false;
  }
  try {
    let now: number;
    try {
      now = statSync(path).mtimeMs;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true; // released meanwhile
      throw e;
    }
    if (now !== seen) return false; // taken again, or refreshed: not stale any more
    rmdirSync(path); // the dead holder's
    return true;
  } finally {
    removeDir(guard);
  }
}

/** Keeps `lock` fresh until released; a lock found taken over (or gone) is reported to `onCompromised` and not refreshed again. */
function hold(lock: Held, stale: number, onCompromised: (err: Error) => void): () => Promise<void> {
  held.add(lock);
  hookExit();
  const update = Math.max(500, Math.floor(stale / 3));
  const compromised = (err: Error) => {
    lock.released = true;
    held.delete(lock);
    onCompromised(err);
  };
  const refresh = () => {
    lock.timer = setTimeout(() => {
      if (lock.released) return;
      try {
        if (statSync(lock.path).mtimeMs !== lock.mtimeMs) return compromised(new Error(`lock ${lock.path} was taken over (not refreshed within ${stale} ms)`));
        const now = new Date();
        utimesSync(lock.path, now, now);
        lock.mtimeMs = statSync(lock.path).mtimeMs;
        lock.refreshed = Date.now();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' || Date.now() - lock.refreshed > stale) return compromised(e as Error);
      }
      refresh();
    }, update);
    lock.timer.unref();
  };
  refresh();
  return async () => {
    if (lock.released) return;
    lock.released = true;
    clearTimeout(lock.timer);
    held.delete(lock);
    removeDir(lock.path);
  };
}

function removeDir(path: string): void {
  try {
    rmdirSync(path);
  } catch {
    // gone already
  }
}
