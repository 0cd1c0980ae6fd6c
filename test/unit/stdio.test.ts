// Unit tests for cmd/stdio.ts: blocking reads and writes on the descriptors, and the hand-over to node's streams, in order, where a descriptor refuses them (EAGAIN).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fdWriter, stdinChunks } from '../../cmd/stdio';

/** Both ends of a new FIFO, each non-blocking: a read of an empty one and a write to a full one fail with EAGAIN. */
function nonBlockingFifo(t: { after: (f: () => void) => void }): { r: number; w: number } {
  const dir = mkdtempSync(join(tmpdir(), 'macmux-stdio-'));
  const path = join(dir, 'fifo');
  execFileSync('mkfifo', [path]);
  const r = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const w = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  t.after(() => {
    closeSync(r);
    closeSync(w);
    rmSync(dir, { recursive: true, force: true });
  });
  return { r, w };
}

async function all(it: AsyncIterable<Buffer | string>): Promise<string> {
  let s = '';
  for await (const c of it) s += c.toString();
  return s;
}

test('stdin: read from the descriptor to its end, without the stream', async (t) => {
  const { r, w } = nonBlockingFifo(t);
  writeSync(w, '{"cniVersion":');
  writeSync(w, '"1.0.0"}');
  let streamed = false;
  // The writer stays open, so the reads end with EAGAIN here; the stream then gives the end of the input.
  const text = await all(
    stdinChunks(r, () => {
      streamed = true;
      return (async function* () {})();
    }),
  );
  assert.equal(text, '{"cniVersion":"1.0.0"}');
  assert.ok(streamed, 'an EAGAIN hands over to the stream');
});

test('stdin: what a descriptor that would block has not given comes from the stream, after what it gave', async (t) => {
  const { r, w } = nonBlockingFifo(t);
  writeSync(w, 'first,');
  const text = await all(stdinChunks(r, () => (async function* () {
    yield Buffer.from('second,');
    yield 'third';
  })()));
  assert.equal(text, 'first,second,third');
});

test('stdout: blocking writes while they go through; from the first refused one, the rest to the stream, in order', async (t) => {
  const { r, w } = nonBlockingFifo(t);
  const streamed: Buffer[] = [];
  const stream = {
    write: ((b: string | Uint8Array, cb?: () => void) => {
      streamed.push(Buffer.from(b));
      cb?.();
      return true;
    }) as NodeJS.WriteStream['write'],
  };
  const out = fdWriter(w, () => stream);
  out.write('small;');
  const big = 'é'.repeat(200_000); // more than a pipe holds, multi-byte
  out.write(big);
  out.write('after');
  const direct: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    try {
      const n = readSync(r, buf);
      if (n === 0) break;
      direct.push(Buffer.from(buf.subarray(0, n)));
    } catch {
      break; // EAGAIN: all the direct writes are read
    }
  }
  assert.ok(streamed.length > 0, 'the pipe filled, so the stream took over');
  assert.equal(Buffer.concat([...direct, ...streamed]).toString('utf8'), `small;${big}after`);
  let flushed = false;
  out.flushed(() => (flushed = true));
  assert.ok(flushed, 'flushed through the stream');
});
