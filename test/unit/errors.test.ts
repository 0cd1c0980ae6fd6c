// Unit tests for src/cni/errors.ts: the spec's error JSON and turning anything thrown into a CniError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asCniError, CniError, Code, oneLine } from '../../src/cni/errors';

test('toJSON without details has exactly cniVersion, code and msg', () => {
  const e = new CniError(Code.InvalidEnv, 'missing CNI_NETNS');
  assert.deepEqual(e.toJSON('0.4.0'), { cniVersion: '0.4.0', code: 4, msg: 'missing CNI_NETNS' });
  assert.equal(JSON.stringify(e.toJSON('1.1.0')), '{"cniVersion":"1.1.0","code":4,"msg":"missing CNI_NETNS"}');
});

test('toJSON includes details only when set', () => {
  const e = new CniError(Code.InvalidConfig, 'plugin "x" not found', 'searched: /opt/cni/bin');
  assert.deepEqual(e.toJSON('1.0.0'), { cniVersion: '1.0.0', code: 7, msg: 'plugin "x" not found', details: 'searched: /opt/cni/bin' });
  assert.ok(!('details' in new CniError(7, 'm', '').toJSON('1.0.0')));
});

test('CniError is an Error carrying code and details', () => {
  const e = new CniError(Code.TryAgainLater, 'busy', 'later');
  assert.ok(e instanceof Error);
  assert.deepEqual([e.name, e.code, e.message, e.details], ['CniError', 11, 'busy', 'later']);
});

test('asCniError returns a CniError itself, never wrapping it twice', () => {
  const e = new CniError(Code.MacConflict, 'conflict', 'd');
  assert.equal(asCniError(e), e);
  assert.equal(asCniError(asCniError(e)), e);
  assert.equal(asCniError(e).code, 100);
});

const OTHERS: Array<[string, unknown, string]> = [
  ['an Error', new Error('boom'), 'boom'],
  ['a TypeError', new TypeError('x is not a function'), 'x is not a function'],
  ['a multi-line Error', new Error('first line\n    at foo (a.js:1:1)\n  at bar\n'), 'first line; at foo (a.js:1:1); at bar'],
  ['a CRLF message', new Error('a\r\nb'), 'a; b'],
  ['a string', 'plain\nstring', 'plain; string'],
  ['a number', 42, '42'],
  ['undefined', undefined, 'undefined'],
];
for (const [name, thrown, msg] of OTHERS) {
  test(`asCniError turns ${name} into a one-line code 999`, () => {
    const e = asCniError(thrown);
    assert.ok(e instanceof CniError);
    assert.equal(e.code, 999);
    assert.equal(e.message, msg);
    assert.doesNotMatch(e.message, /\n/);
    assert.doesNotMatch(JSON.stringify(e.toJSON('1.1.0')), /\\n/);
  });
}

test('oneLine trims and joins lines with "; "', () => {
  assert.equal(oneLine('  a  \n\n  b \n'), 'a; b');
  assert.equal(oneLine('single'), 'single');
});
