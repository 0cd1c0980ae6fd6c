// execPlugin runs real executables: it retries ETXTBSY, enforces the timeout and keeps a plugin's error.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execPlugin } from '../../src/delegate/exec';
import { CniError } from '../../src/cni/errors';

function script(t: { after: (fn: () => void) => void }, body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'macmux-exec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'plugin');
  writeFileSync(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return path;
}

const req = (path: string, timeoutMs = 5000) => ({ command: path, env: { PATH: '/usr/bin:/bin', CNI_COMMAND: 'ADD' }, stdin: '{"x":1}', timeoutMs, what: 'fake (net) ADD' });

it('passes stdin and env, and returns stdout', async (t) => {
  const path = script(t, 'read line; echo "$CNI_COMMAND $line"');
  assert.equal((await execPlugin(req(path))).trim(), 'ADD {"x":1}');
});

it('retries while the binary is still open for writing (ETXTBSY)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'macmux-exec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'plugin');
  const fd = openSync(path, 'w', 0o755);
  writeSync(fd, '#!/bin/sh\necho installed\n');
  setTimeout(() => closeSync(fd), 60); // the "installer" finishes a little later
  assert.equal((await execPlugin(req(path))).trim(), 'installed');
});

it('kills a plugin that outlives its timeout, and what it started, with code 11', async (t) => {
  const path = script(t, `sleep 60 & echo $! > "$(dirname "$0")/child.pid"; wait`);
  await assert.rejects(execPlugin(req(path, 300)), (e: unknown) => e instanceof CniError && e.code === 11 && /fake \(net\) ADD: timed out/.test(e.message));
  const pid = Number(readFileSync(join(dirname(path), 'child.pid'), 'utf8'));
  assert.ok(pid > 0);
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(alive(pid), false, "the plugin's child was killed too");
});

/** True while `pid` exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

it("keeps a failing plugin's code, message and details", async (t) => {
  const path = script(t, `echo '{"cniVersion":"1.0.0","code":11,"msg":"busy","details":"try later"}'; exit 1`);
  await assert.rejects(execPlugin(req(path)), (e: unknown) => e instanceof CniError && e.code === 11 && e.message === 'fake (net) ADD: busy' && e.details === 'try later');
});

it('reports a crash with its exit status and the first line of stderr only', async (t) => {
  const path = script(t, 'echo "panic: boom" >&2; echo "  goroutine 1" >&2; exit 2');
  await assert.rejects(execPlugin(req(path)), (e: unknown) => e instanceof CniError && e.code === 999 && e.message === 'fake (net) ADD: exited with status 2: panic: boom');
});
