// Unit tests for src/util/lock: a directory lock, waited for up to its timeout (code 11), a dead holder's taken over once stale, a taken-over holder told, shared with proper-lockfile's protocol.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { lock as plLock } from 'proper-lockfile';
import { takeLock, takeOver, withLock } from '../../src/util/lock';
import { CniError, Code } from '../../src/cni/errors';

const made: string[] = [];
const tmp = () => {
  const dir = mkdtempSync(join(tmpdir(), 'macmux-lock-'));
  made.push(dir);
  return dir;
};
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('held: a second taker waits for the release; the directory is gone after', async () => {
  const path = join(tmp(), 'sub', 'x.lock');
  const order: string[] = [];
  const release = await takeLock({ path, what: 'x', timeoutMs: 2000 });
  assert.ok(statSync(path).isDirectory(), 'the lock is a directory, its parent made');
  const second = withLock({ path, what: 'x', timeoutMs: 2000 }, async () => void order.push('second'));
  await sleep(60);
  order.push('first released');
  await release();
  await second;
  assert.deepEqual(order, ['first released', 'second']);
  assert.equal(existsSync(path), false);
  await release(); // twice: nothing left to undo
});

test('a fresh lock held elsewhere times out with code 11 naming what is locked; a stale one is taken over', async () => {
  const path = join(tmp(), 'y.lock');
  mkdirSync(path); // another process's, refreshed just now
  const t0 = Date.now();
  await assert.rejects(withLock({ path, what: 'the thing', timeoutMs: 300 }, async () => {}), (e: unknown) => e instanceof CniError && e.code === Code.TryAgainLater && /timed out after 0\.3s waiting for the lock on the thing/.test(e.message));
  assert.ok(Date.now() - t0 >= 300);
  const old = new Date(Date.now() - 10_000);
  utimesSync(path, old, old); // its holder died 10 s ago
  assert.equal(await withLock({ path, what: 'the thing', timeoutMs: 300, staleMs: 3000 }, async () => 'ran'), 'ran');
  assert.equal(existsSync(path), false);
});

test('the holder keeps its lock fresh, and is told when it was taken over anyway', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const path = join(tmp(), 'z.lock');
  const compromised: Error[] = [];
  const release = await takeLock({ path, what: 'z', timeoutMs: 1000, staleMs: 3000, onCompromised: (e) => compromised.push(e) });
  const old = new Date(Date.now() - 2000);
  utimesSync(path, old, old);
  const before = statSync(path).mtimeMs;
  // Not refreshed by this holder: someone else's mtime.
  t.mock.timers.tick(1000);
  assert.equal(compromised.length, 1, 'the holder learns its lock was taken over');
  assert.equal(statSync(path).mtimeMs, before, 'and stops refreshing it');
  await release();
  assert.ok(existsSync(path), 'a taken-over lock is not removed by its former holder');
});

test('refreshed every second while held', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const path = join(tmp(), 'r.lock');
  const release = await takeLock({ path, what: 'r', timeoutMs: 1000, staleMs: 3000, onCompromised: (e) => assert.fail(e) });
  const first = statSync(path).mtimeMs;
  await new Promise((r) => setImmediate(r));
  const wait = Date.now();
  while (Date.now() - wait < 20); // the clock moves on (mtime resolution)
  t.mock.timers.tick(1000);
  assert.ok(statSync(path).mtimeMs > first, 'mtime moved forward');
  await release();
  assert.equal(existsSync(path), false);
});

test('the same protocol as proper-lockfile (older versions on the node during an upgrade): each waits for the other', async () => {
  const path = join(tmp(), 'p.lock');
  const theirs = await plLock(path, { realpath: false, lockfilePath: path, stale: 3000, retries: 0 });
  await assert.rejects(withLock({ path, what: 'p', timeoutMs: 200 }, async () => {}), (e: unknown) => e instanceof CniError && e.code === Code.TryAgainLater);
  await theirs();
  const ours = await takeLock({ path, what: 'p', timeoutMs: 200 });
  await assert.rejects(plLock(path, { realpath: false, lockfilePath: path, stale: 3000, retries: 0 }), /already being held/);
  await ours();
});

test('two waiters that both saw a lock stale: the first takes it over, the second leaves the first one its new lock', async () => {
  const path = join(tmp(), 'race.lock');
  mkdirSync(path);
  const old = new Date(Date.now() - 10_000);
  utimesSync(path, old, old);
  const seen = statSync(path).mtimeMs; // both waiters stat it: stale
  // The first takes it over and holds a fresh lock of its own.
  const release = await takeLock({ path, what: 'race', timeoutMs: 1000, staleMs: 3000 });
  const mine = statSync(path).mtimeMs;
  assert.notEqual(mine, seen);
  // The second goes on from what it saw: it must not remove the first's lock.
  assert.equal(takeOver(path, seen, 3000), false);
  assert.ok(existsSync(path), "the first waiter's lock is still there");
  assert.equal(existsSync(`${path}.takeover`), false, 'the takeover guard is removed after');
  await release();
});

test('a lock held when the process gets SIGTERM is removed before the signal ends it', async () => {
  const path = join(tmp(), 'sig.lock');
  const lockModule = join(__dirname, '..', '..', 'src', 'util', 'lock.ts');
  const script = `require(${JSON.stringify(lockModule)}).takeLock({ path: ${JSON.stringify(path)}, what: 'sig', timeoutMs: 1000 }).then(() => { process.stdout.write('held\\n'); setInterval(() => {}, 1000); });`;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
    child.on('exit', () => reject(new Error('exited before holding the lock')));
  });
  assert.ok(existsSync(path), 'held');
  const ended = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, signal) => r(signal)));
  child.kill('SIGTERM');
  assert.equal(await ended, 'SIGTERM', 'it still ends by the signal');
  assert.equal(existsSync(path), false, 'its lock is gone: nobody waits for it to go stale');
});
