// Unit tests for the verbs' stack (script and defer in src/plugin/chain.ts): last in first out, undos only on failure, a failing step logged and the rest still run, and the tally.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { script, Tally } from '../../src/plugin/chain';

const logger = () => {
  const lines: string[] = [];
  return { lines, log: { error: (m: string) => void lines.push(m) } };
};

test('success runs every deferred step, last first, each told the script did not fail', async () => {
  const { log, lines } = logger();
  const ran: string[] = [];
  const out = await script(log, async (s) => {
    s.defer('a', (failed) => void ran.push(`a:${failed}`));
    s.defer('b', async (failed) => void ran.push(`b:${failed}`));
    return 42;
  });
  assert.equal(out, 42);
  assert.deepEqual(ran, ['b:false', 'a:false']);
  assert.deepEqual(lines, []);
});

test('a failure unwinds the stack last first and rethrows the same error; steps deferred after it never ran', async () => {
  const { log, lines } = logger();
  const ran: string[] = [];
  const boom = new Error('delegate failed');
  await assert.rejects(
    script(log, async (s) => {
      s.defer('release', () => void ran.push('release'));
      s.defer('undo 1', (failed) => void (failed && ran.push('undo 1')));
      s.defer('undo 2', (failed) => void (failed && ran.push('undo 2')));
      throw boom;
    }),
    (e) => e === boom,
  );
  assert.deepEqual(ran, ['undo 2', 'undo 1', 'release']);
  assert.deepEqual(lines, ['rolling back: delegate failed']);
});

test('an undo that fails is logged with its name and the rest of the stack still unwinds', async () => {
  const { log, lines } = logger();
  const ran: string[] = [];
  await assert.rejects(
    script(log, async (s) => {
      s.defer('first', () => void ran.push('first'));
      s.defer('DEL of net1', async () => {
        throw new Error('plugin gone');
      });
      throw new Error('publish failed');
    }),
    /publish failed/,
  );
  assert.deepEqual(ran, ['first']);
  assert.deepEqual(lines, ['rolling back: publish failed', 'DEL of net1 failed: plugin gone']);
});

test('an undo that marks the script kept is seen by the undos below it', async () => {
  const { log } = logger();
  const seen: boolean[] = [];
  await assert.rejects(
    script(log, async (s) => {
      s.defer('cache entry', (failed) => void (failed && seen.push(s.kept)));
      s.defer('DEL', (failed) => {
        if (failed) s.kept = true;
      });
      throw new Error('x');
    }),
  );
  assert.deepEqual(seen, [true]);
});

test('the tally sums counts and hands out a copy', () => {
  const t = new Tally();
  t.add({ allocations: 2, releases: 0, conflicts: 1 });
  t.add({ allocations: 0, releases: 3, conflicts: 0 });
  const c = t.counts;
  c.allocations = 99;
  assert.deepEqual(t.counts, { allocations: 2, releases: 3, conflicts: 1 });
});
