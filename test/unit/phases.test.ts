// Unit tests for src/util/phases.ts (the phase recorder and its line) and scripts/bench/phase-stats.ts (round trips, covered time).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keyPart, mark, parsePhaseLine, phaseLine, recordPhases, recordingPhases, span, timed, timedSync, type Span } from '../../src/util/phases';
import { covered, figures, requestList, sequentialRequests } from '../../scripts/bench/phase-stats';

const s = (key: string, start: number, ms: number): Span => ({ key, start, ms });

test('phases: recorded spans come out on one line, in start order, and parse back', async () => {
  recordPhases(true);
  try {
    mark('main', 0, 20);
    const end = span('api:GET:pods');
    await timed('chunk', async () => {});
    timedSync('config', () => 1);
    end('200:1834');
    end('500:1'); // a second end is ignored
    const line = phaseLine(0, 99.5);
    assert.match(line, /^phases v=1 code=0 total=99\.50 main=0\.00\+20\.00 api:GET:pods:200:1834=[\d.]+\+[\d.]+ chunk=[\d.]+\+[\d.]+ config=[\d.]+\+[\d.]+$/);
    const parsed = parsePhaseLine(`2026-01-01T00:00:00.000Z debug ADD c1 - ${line}`)!;
    assert.equal(parsed.code, 0);
    assert.equal(parsed.total, 99.5);
    assert.deepEqual(parsed.spans.map((x) => x.key), ['main', 'api:GET:pods:200:1834', 'chunk', 'config']);
    assert.deepEqual(parsed.spans[0], { key: 'main', start: 0, ms: 20 });
  } finally {
    recordPhases(false);
  }
});

test('phases: a key part with spaces, `=`, `+` or slashes cannot break the line', () => {
  recordPhases(true);
  try {
    span('delegate:ADD:a b=c+d/e')();
    const line = phaseLine(0, 1);
    assert.equal(line.split(' ').length, 5, line);
    assert.deepEqual(parsePhaseLine(` ${line}`)?.spans.map((x) => x.key), ['delegate:ADD:a_b_c_d_e']);
    assert.equal(keyPart('x'.repeat(100)).length, 40);
    assert.equal(keyPart(''), '_');
  } finally {
    recordPhases(false);
  }
});

test('phases: off, nothing is recorded, turning off drops what was, and a span is cheap', () => {
  recordPhases(true);
  mark('main', 0, 1);
  recordPhases(false);
  assert.equal(recordingPhases(), false);
  span('x')();
  mark('y', 0, 1);
  assert.equal(phaseLine(0, 1), 'phases v=1 code=0 total=1.00');
  // Off, a span is a property read and a shared no-op: a million take well under a second even on a loaded machine.
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 1_000_000; i++) span('write:cache')();
  assert.ok(Number(process.hrtime.bigint() - t0) / 1e6 < 1000);
});

test('parsePhaseLine: undefined without a phase line', () => {
  assert.equal(parsePhaseLine('2026-01-01T00:00:00.000Z debug ADD c1 - start netns=-'), undefined);
  assert.equal(parsePhaseLine('phases v=2 code=0 total=1'), undefined);
});

test('sequentialRequests: a request counts when it overlaps no earlier one', () => {
  assert.equal(sequentialRequests([]), 0);
  // three in parallel, then one after all of them, then two chained
  const reqs = [s('a', 0, 10), s('b', 1, 20), s('c', 2, 5), s('d', 21, 2), s('e', 23, 1), s('f', 24, 1)];
  assert.equal(sequentialRequests(reqs), 4);
  assert.equal(sequentialRequests([...reqs].reverse()), 4, 'order of the list does not matter');
  // one starting inside the longest of the earlier ones is not sequential, even after a shorter one ended
  assert.equal(sequentialRequests([s('a', 0, 30), s('b', 1, 2), s('c', 5, 1)]), 1);
});

test('covered: the union of spans, optionally clipped', () => {
  assert.equal(covered([]), 0);
  assert.equal(covered([s('a', 0, 10), s('b', 5, 10), s('c', 20, 5)]), 20);
  assert.equal(covered([s('a', 0, 10), s('b', 5, 10), s('c', 20, 5)], 8, 22), 9);
});

test('figures and requestList: one invocation, by label', () => {
  const spans = [
    s('main', 0, 20),
    s('chunk', 21, 5),
    s('config', 26, 2),
    s('api:GET:pods:200:10', 30, 4),
    s('api:GET:network-attachment-definitions:200:10', 34, 3),
    s('api:GET:network-attachment-definitions:200:10', 34, 3),
    s('lock:ledger', 40, 1),
    s('held:ledger', 41, 10),
    s('api:PUT:configmaps:200:10', 42, 3),
    s('write:journal', 46, 4),
    s('fsync:journal', 46, 2),
    s('dirsync:journal', 48, 1),
    s('delegate:ADD:bridge', 52, 20),
    s('stats', 73, 1),
  ];
  const f = new Map(figures(spans, 75));
  assert.equal(f.get('API requests (count)'), 4);
  assert.equal(f.get('API sequential round trips (count)'), 3);
  assert.equal(f.get('API time, sum of requests'), 13);
  assert.equal(f.get('API time, wall (their union)'), 10);
  assert.equal(f.get('… of which the first request (connects)'), 4);
  assert.equal(f.get('ledger work (under its lock)'), 10);
  assert.equal(f.get('… of which API requests and file writes'), 7);
  assert.equal(f.get('delegate 1: bridge ADD'), 20);
  assert.equal(f.get('write journal (without its fsyncs)'), 1);
  assert.equal(f.get('fsync journal (file + directory)'), 3);
  // 75 less main 20, chunk 5, config 2, api 30-37, lock 1, put 42-45, write 46-50, delegate 20, stats 1
  assert.equal(f.get('in no phase (CPU: plans, JSON, results)'), 75 - (20 + 5 + 2 + 7 + 1 + 3 + 4 + 20 + 1));
  assert.equal(requestList(spans), 'GET pods, GET network-attachment-definitions ×2, PUT configmaps');
  assert.equal(requestList([s('api:GET:configmaps:404:10', 0, 1), s('api:GET:configmaps:err', 2, 1), s('api:GET:configmaps:err', 4, 1)]), 'GET configmaps 404, GET configmaps err ×2');
});
