// Unit tests for src/log.ts: settings from env and config, the line format, level filtering and redaction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level, Logger, logSettings, makeSink, redact } from '../../src/log';

const getenv = (vars: Record<string, string>) => (k: string) => vars[k];
const capture = () => {
  const lines: string[] = [];
  return { lines, sink: { write: (l: string) => void lines.push(l) } };
};

const SETTINGS: Array<[string, Record<string, string>, { logLevel?: number; logFile?: string } | undefined, { level: number; file?: string }]> = [
  ['defaults to error level, no file', {}, undefined, { level: 1 }],
  ['conf level and file', {}, { logLevel: 3, logFile: '/var/log/mm.log' }, { level: 3, file: '/var/log/mm.log' }],
  ['env level wins over conf', { _CNI_LOGGING_LEVEL: '2' }, { logLevel: 3 }, { level: 2 }],
  ['env level 0 turns logging off', { _CNI_LOGGING_LEVEL: '0' }, { logLevel: 3 }, { level: 0 }],
  ['env file wins over conf', { _CNI_LOGGING_FILE: '/tmp/env.log' }, { logFile: '/var/log/mm.log' }, { level: 1, file: '/tmp/env.log' }],
  ['empty env values fall back to conf', { _CNI_LOGGING_LEVEL: '', _CNI_LOGGING_FILE: '' }, { logLevel: 2, logFile: '/c.log' }, { level: 2, file: '/c.log' }],
  ['non-numeric env level falls back to conf', { _CNI_LOGGING_LEVEL: 'debug' }, { logLevel: 2 }, { level: 2 }],
  ['out-of-range env level falls back to conf', { _CNI_LOGGING_LEVEL: '4' }, { logLevel: 0 }, { level: 0 }],
  ['negative env level falls back to the default', { _CNI_LOGGING_LEVEL: '-1' }, undefined, { level: 1 }],
  ['fractional env level falls back to the default', { _CNI_LOGGING_LEVEL: '2.5' }, {}, { level: 1 }],
];
for (const [name, env, conf, want] of SETTINGS) {
  test(`logSettings: ${name}`, () => assert.deepEqual(logSettings(getenv(env), conf), want));
}

const ISO = '\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z';

test('a line is: ISO time, level, verb, containerID, pod, message, on one line', () => {
  const { lines, sink } = capture();
  const before = Date.now();
  new Logger(Level.Debug, sink).with({ verb: 'ADD', containerID: 'c0ffee' }).with({ pod: 'default/web-0' }).info('adding green on net9f27410725ab');
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, new RegExp(`^${ISO} info ADD c0ffee default/web-0 adding green on net9f27410725ab\\n$`));
  const t = Date.parse(lines[0]!.split(' ')[0]!);
  assert.ok(t >= before - 1000 && t <= Date.now() + 1000);
});

test('missing context fields print as "-" and a multi-line message stays on one line', () => {
  const { lines, sink } = capture();
  new Logger(Level.Error, sink).error('first\n  second\r\nthird\n');
  assert.match(lines[0]!, new RegExp(`^${ISO} error - - - first; second; third\\n$`));
  assert.equal(lines[0]!.split('\n').length, 2);
});

const FILTER: Array<[number, string[]]> = [
  [Level.Off, []],
  [Level.Error, ['error']],
  [Level.Info, ['error', 'info']],
  [Level.Debug, ['error', 'info', 'debug']],
];
for (const [level, want] of FILTER) {
  test(`level ${level} logs ${want.join(', ') || 'nothing'}`, () => {
    const { lines, sink } = capture();
    const log = new Logger(level, sink);
    log.error('e');
    log.info('i');
    log.debug('d');
    assert.deepEqual(lines.map((l) => l.split(' ')[1]), want);
    assert.deepEqual([Level.Error, Level.Info, Level.Debug].map((l) => log.enabled(l)), [level >= 1, level >= 2, level >= 3]);
  });
}

const REDACT: Array<[string, string]> = [
  ['Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln', 'Authorization: Bearer <redacted>'],
  ['header bearer abc-DEF_123~+/= ok', 'header bearer <redacted> ok'],
  ['{"token":"s3cr3t","user":"u"}', '{"token":"<redacted>","user":"u"}'],
  ['password=hunter2 next', 'password=<redacted> next'],
  ['client-key-data: LS0tLS1CRUdJTi==', 'client-key-data: <redacted>'],
  ['nothing secret here', 'nothing secret here'],
];
for (const [input, want] of REDACT) {
  test(`redact(${JSON.stringify(input)})`, () => assert.equal(redact(input), want));
}

test('the logger redacts what it writes', () => {
  const { lines, sink } = capture();
  new Logger(Level.Info, sink).info('GET /api with Bearer abc.def.ghi');
  assert.match(lines[0]!, /with Bearer <redacted>\n$/);
  assert.doesNotMatch(lines[0]!, /abc\.def/);
});

test('a failing sink never throws into the caller', () => {
  const log = new Logger(Level.Debug, { write: () => { throw new Error('EPIPE'); } });
  assert.doesNotThrow(() => log.error('x'));
});

test('makeSink: stderr without a file, else a 0600 file and nothing on stderr', (t) => {
  const { lines, sink } = capture();
  assert.equal(makeSink(undefined, sink), sink);
  const dir = mkdtempSync(join(tmpdir(), 'macmux-log-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'sub', 'macmux.log');
  const log = new Logger(Level.Info, makeSink(file, sink)).with({ verb: 'DEL' });
  log.info('one');
  log.info('two');
  const text = readFileSync(file, 'utf8');
  assert.match(text, new RegExp(`^${ISO} info DEL - - one\\n${ISO} info DEL - - two\\n$`));
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(lines, []);
});
