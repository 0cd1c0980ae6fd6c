// Unit tests for src/cni/dispatch.ts run in-process: exit codes, error JSON on stdout, logs only on the stderr sink.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dispatch } from '../../src/run/dispatch';

const ALL = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];
const ISO_LINE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z (error|info|debug) /;
const FULL = { CNI_CONTAINERID: 'c1', CNI_NETNS: '/var/run/netns/pod1', CNI_IFNAME: 'eth0', CNI_PATH: '/nonexistent/cni/bin' };
const made: string[] = [];
const tmp = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), `macmux-${prefix}-`));
  made.push(dir);
  return dir;
};
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

interface Run {
  status: number;
  /** Each write to stdout. */
  writes: string[];
  json: Record<string, unknown>;
  logs: string[];
}

async function run(env: Record<string, string>, stdin: string | AsyncIterable<string | Buffer>): Promise<Run> {
  const writes: string[] = [];
  const logs: string[] = [];
  const all: Record<string, string> = { _CNI_LOGGING_LEVEL: '3', ...env };
  const status = await dispatch({ getenv: (k) => all[k], stdin, stdout: { write: (s: string) => writes.push(s) }, stderr: { write: (l: string) => void logs.push(l) } });
  // Nothing but one JSON document ever reaches stdout, and no log line does.
  assert.ok(writes.length <= 1, `one write at most: ${JSON.stringify(writes)}`);
  for (const w of writes) assert.doesNotMatch(w, ISO_LINE);
  const json = writes.length ? (JSON.parse(writes.join('')) as Record<string, unknown>) : {};
  for (const l of logs) assert.match(l, ISO_LINE);
  return { status, writes, json, logs };
}

const conf = (extra: Record<string, unknown> = {}) => JSON.stringify({ cniVersion: '1.0.0', name: 'macmux', type: 'macmux', delegates: [{ name: 'flannel', type: 'flannel' }], ...extra });

const VERSION: Array<[string, string | AsyncIterable<string | Buffer>, string]> = [
  ['empty stdin', '', '1.1.0'],
  ['whitespace stdin', ' \n', '1.1.0'],
  ['{"cniVersion":"0.4.0"}', '{"cniVersion":"0.4.0"}', '0.4.0'],
  ['a streamed config', (async function* () { yield '{"cniVe'; yield Buffer.from('rsion":"0.3.1","name":"x"}'); })(), '0.3.1'],
];
for (const [name, stdin, want] of VERSION) {
  test(`VERSION with ${name} answers ${want}`, async () => {
    const r = await run({ CNI_COMMAND: 'VERSION' }, stdin);
    assert.equal(r.status, 0);
    assert.deepEqual(r.json, { cniVersion: want, supportedVersions: ALL });
    assert.equal(r.logs.filter((l) => l.includes(' error ')).length, 0);
  });
}

const FAILURES: Array<[string, Record<string, string>, string, { code: number; cniVersion: string; msg: RegExp }]> = [
  ['missing env', { CNI_COMMAND: 'ADD' }, conf(), { code: 4, cniVersion: '1.0.0', msg: /CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_PATH/ }],
  ['missing DEL env', { CNI_COMMAND: 'DEL', CNI_NETNS: '/x' }, conf(), { code: 4, cniVersion: '1.0.0', msg: /for DEL: CNI_CONTAINERID, CNI_IFNAME$/ }],
  ['unknown verb', { ...FULL, CNI_COMMAND: 'UPDATE' }, conf(), { code: 4, cniVersion: '1.1.0', msg: /unknown CNI_COMMAND "UPDATE"/ }],
  ['non-JSON stdin', { ...FULL, CNI_COMMAND: 'ADD' }, 'cniVersion=1.0.0', { code: 6, cniVersion: '1.1.0', msg: /network config is not valid JSON/ }],
  ['empty stdin for ADD', { ...FULL, CNI_COMMAND: 'ADD' }, '', { code: 6, cniVersion: '1.1.0', msg: /not valid JSON/ }],
  ['a JSON array', { ...FULL, CNI_COMMAND: 'DEL' }, '[]', { code: 6, cniVersion: '1.1.0', msg: /not a JSON object/ }],
  ['VERSION with non-JSON stdin', { CNI_COMMAND: 'VERSION' }, '{', { code: 6, cniVersion: '1.1.0', msg: /stdin is not valid JSON/ }],
  ['schema error', { ...FULL, CNI_COMMAND: 'ADD' }, conf({ cniVersion: '0.4.0', logLevel: 'loud', delegates: [{ name: 'g' }] }), { code: 7, cniVersion: '0.4.0', msg: /\$\.delegates\[0\]: .*\$\.logLevel: must be integer/ }],
  ['unsupported cniVersion', { ...FULL, CNI_COMMAND: 'ADD' }, conf({ cniVersion: '0.5.0' }), { code: 1, cniVersion: '1.1.0', msg: /unsupported cniVersion "0\.5\.0"/ }],
];
for (const [name, env, stdin, want] of FAILURES) {
  test(`${name} gives code ${want.code} as JSON on stdout and exit 1`, async () => {
    const r = await run(env, stdin);
    assert.equal(r.status, 1);
    assert.equal(r.json.code, want.code);
    assert.equal(r.json.cniVersion, want.cniVersion);
    assert.match(String(r.json.msg), want.msg);
    assert.deepEqual(Object.keys(r.json).filter((k) => !['cniVersion', 'code', 'msg', 'details'].includes(k)), []);
    assert.ok(r.logs.some((l) => l.includes(` error `) && l.includes(`code ${want.code}: `)), `error logged to stderr: ${r.logs.join('')}`);
  });
}

test('with MACMUX_DELEGATE set (macmux running a copy of itself as a plugin) ADD, CHECK, GC and STATUS are refused and DEL does nothing, before stdin is read', async () => {
  for (const command of ['ADD', 'CHECK', 'GC', 'STATUS']) {
    const untouched = { [Symbol.asyncIterator]: () => assert.fail('stdin was read') } as AsyncIterable<string>;
    const r = await run({ ...FULL, CNI_COMMAND: command, MACMUX_DELEGATE: '1' }, untouched);
    assert.equal(r.status, 1);
    assert.equal(r.json.code, 7);
    assert.match(String(r.json.msg), /^macmux refuses to run as a delegate of macmux: MACMUX_DELEGATE is set/);
  }
  const untouched = { [Symbol.asyncIterator]: () => assert.fail('stdin was read') } as AsyncIterable<string>;
  const d = await run({ ...FULL, CNI_COMMAND: 'DEL', MACMUX_DELEGATE: '1' }, untouched);
  assert.deepEqual([d.status, d.writes], [0, []], 'DEL succeeds with nothing on stdout');
  assert.ok(d.logs.some((l) => l.includes(' error ') && l.includes('macmux refuses to run as a delegate of macmux: DEL does nothing')), d.logs.join(''));
  const v = await run({ CNI_COMMAND: 'VERSION', MACMUX_DELEGATE: '1' }, '');
  assert.equal(v.status, 0);
});

test('log level 0 keeps the stderr sink silent but the error JSON still printed', async () => {
  const r = await run({ CNI_COMMAND: 'ADD', _CNI_LOGGING_LEVEL: '0' }, conf());
  assert.equal(r.status, 1);
  assert.equal(r.json.code, 4);
  assert.deepEqual(r.logs, []);
});

async function addMissingPlugin() {
  const binDir = tmp('bindir');
  const pathDirs = [tmp('path1'), tmp('path2')];
  const cacheDir = tmp('cache');
  const r = await run(
    { ...FULL, CNI_COMMAND: 'ADD', CNI_PATH: pathDirs.join(':') },
    conf({ binDir, cacheDir, delegates: [{ name: 'flannel', type: 'no-such-plugin' }, { name: 'green', type: 'macvlan' }] }),
  );
  return { r, cacheDir, searched: [binDir, ...pathDirs] };
}

test('ADD with a plugin that does not exist gives code 7 naming it and every directory searched', async () => {
  const { r, searched } = await addMissingPlugin();
  assert.equal(r.status, 1);
  assert.deepEqual(r.json, { cniVersion: '1.0.0', code: 7, msg: 'plugin "no-such-plugin" not found', details: `searched: ${searched.join(', ')}` });
});

test('ADD with a plugin that does not exist leaves no cache entry', async () => {
  const { r, cacheDir } = await addMissingPlugin();
  assert.equal(r.status, 1);
  assert.ok(r.logs.some((l) => l.includes('no-such-plugin (flannel) DEL skipped: plugin not installed, so it never ran')), 'the rollback skipped the missing plugin');
  const dir = join(cacheDir, 'cache');
  assert.deepEqual(existsSync(dir) ? readdirSync(dir) : [], []);
});

test('DEL with no cache entry and a missing plugin succeeds silently on stdout', async () => {
  const cacheDir = tmp('cache');
  const r = await run({ ...FULL, CNI_COMMAND: 'DEL', CNI_PATH: tmp('path') }, conf({ cacheDir }));
  assert.equal(r.status, 0);
  assert.deepEqual(r.writes, []);
  assert.ok(r.logs.some((l) => l.includes('plugin "flannel" not found')));
  assert.deepEqual(existsSync(join(cacheDir, 'cache')) ? readdirSync(join(cacheDir, 'cache')) : [], []);
});
