// runProcess runs real executables: stdin and env, the timeout that kills the whole group, the output caps, EPIPE and ETXTBSY.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProcess, type ProcessRequest } from '../../src/util/run-process';

const ENV = { PATH: '/usr/bin:/bin' };

function dir(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'macmux-run-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A shell script in `d` running `body`. */
function script(d: string, body: string): string {
  const path = join(d, 'script');
  writeFileSync(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return path;
}

const run = (command: string, more: Partial<ProcessRequest> = {}) => runProcess({ command, env: ENV, timeoutMs: 5000, ...more });

/** True while `pid` exists and is not a zombie (where the container's init does not reap orphans). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
  return !alive(pid);
}

it('passes args, stdin and exactly the env given, and returns both streams and the status', async (t) => {
  const path = script(dir(t), 'read line; echo "$1 $CNI_COMMAND $line ${HOME:-nohome}"; echo oops >&2; exit 4');
  assert.deepEqual(await run(path, { args: ['a1'], env: { ...ENV, CNI_COMMAND: 'ADD' }, stdin: '{"x":1}' }), {
    kind: 'exited',
    status: 4,
    signal: null,
    stdout: 'a1 ADD {"x":1} nohome\n',
    stderr: 'oops\n',
    stderrBytes: 5,
  });
});

it('with extendEnv, adds env to the inherited environment; without stdin, reads /dev/null', async (t) => {
  const path = script(dir(t), 'if read line; then echo "read $line"; else echo eof; fi; echo "$MACMUX_RUN_TEST_INHERITED $EXTRA"');
  process.env.MACMUX_RUN_TEST_INHERITED = 'inherited';
  t.after(() => delete process.env.MACMUX_RUN_TEST_INHERITED);
  const end = await run(path, { env: { EXTRA: 'extra' }, extendEnv: true });
  assert.equal(end.kind === 'exited' && end.stdout, 'eof\ninherited extra\n');
});

it('kills the process and what it started (its group) after the timeout', async (t) => {
  const d = dir(t);
  const path = script(d, `sleep 60 & echo $! > "${d}/child"; wait`);
  const started = Date.now();
  assert.deepEqual(await run(path, { timeoutMs: 300 }), { kind: 'timeout' });
  assert.ok(Date.now() - started < 2000, 'answers at the timeout, without waiting for the sleeper');
  const pid = Number(readFileSync(join(d, 'child'), 'utf8'));
  assert.ok(pid > 0);
  assert.equal(await gone(pid), true, 'the forked sleeper was killed too');
});

it('kills the group once stdout passes maxStdout', async (t) => {
  const d = dir(t);
  const path = script(d, `sleep 60 & echo $! > "${d}/child"; head -c 100000 /dev/zero; wait`);
  assert.deepEqual(await run(path, { maxStdout: 1000 }), { kind: 'overflow' });
  assert.equal(await gone(Number(readFileSync(join(d, 'child'), 'utf8'))), true);
});

it('keeps at most maxStderr bytes of stderr and counts the rest', async (t) => {
  const path = script(dir(t), 'head -c 70000 /dev/zero | tr "\\0" e >&2; echo done');
  const kept = await run(path, { maxStderr: 10 });
  assert.ok(kept.kind === 'exited');
  assert.deepEqual([kept.status, kept.stdout, kept.stderr, kept.stderrBytes], [0, 'done\n', 'eeeeeeeeee', 70000]);
  const none = await run(path, { maxStderr: 0 });
  assert.ok(none.kind === 'exited' && none.stderr === '' && none.stderrBytes === 70000);
});

it('a process that exits without reading a large stdin: its status, no EPIPE error', async (t) => {
  const path = script(dir(t), 'exit 3');
  const end = await run(path, { stdin: 'x'.repeat(4 << 20) });
  assert.ok(end.kind === 'exited');
  assert.equal(end.status, 3);
});

it('retries while the executable is still open for writing (ETXTBSY), only when asked', async (t) => {
  const d = dir(t);
  const open = (name: string) => {
    const path = join(d, name);
    const fd = openSync(path, 'w', 0o755);
    writeSync(fd, '#!/bin/sh\necho installed\n');
    return { path, fd };
  };
  const once = open('once');
  await assert.rejects(run(once.path), (e: NodeJS.ErrnoException) => e.code === 'ETXTBSY');
  closeSync(once.fd);
  const later = open('later');
  setTimeout(() => closeSync(later.fd), 60); // the "installer" finishes a little later
  const end = await run(later.path, { textBusyRetries: 5 });
  assert.equal(end.kind === 'exited' && end.stdout, 'installed\n');
});

it('rejects with the spawn error when the command cannot be started', async () => {
  await assert.rejects(run('/nonexistent/macmux-no-such-command'), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
});
