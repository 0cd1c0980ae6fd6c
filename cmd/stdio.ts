// Stdin, stdout and stderr of a CNI invocation through their file descriptors, so that node's process.stdin/stdout/stderr streams are made only when a blocking read or write is refused.
import { readSync, writeSync } from 'node:fs';

/**
 * Fd 0 (`fd`), read with blocking reads when first iterated (a copy run by macmux never reads it). process.stdin on
 * a pipe is a socket and loads node's net and stream modules: a few ms and about 2 MiB of every VERSION. A
 * read that fails (a non-blocking pipe: EAGAIN) hands the rest to process.stdin (`stream`), which reports
 * real errors as before.
 */
export async function* stdinChunks(fd = 0, stream: () => AsyncIterable<Buffer | string> = () => process.stdin): AsyncGenerator<Buffer | string> {
  const buf = Buffer.allocUnsafe(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch {
      yield* stream();
      return;
    }
    if (n === 0) return;
    yield Buffer.from(buf.subarray(0, n));
  }
}

/** A writer to fd 1 or 2; `flushed` calls back once everything written has left the process. */
export interface FdWriter {
  write(s: string): void;
  flushed(cb: () => void): void;
}

/**
 * Writes to `fd` (1 or 2) with blocking writes, as node writes to pipes and files on Linux anyway; from the first
 * write that fails (EAGAIN on a non-blocking pipe, EPIPE), the rest goes to `stream()`, in order, and fails
 * there as it did before.
 */
export function fdWriter(fd: number, stream: () => Pick<NodeJS.WriteStream, 'write'>): FdWriter {
  let fallback: Pick<NodeJS.WriteStream, 'write'> | undefined;
  return {
    write(s) {
      if (fallback) {
        fallback.write(s);
        return;
      }
      const b = Buffer.from(s, 'utf8');
      let off = 0;
      try {
        while (off < b.length) off += writeSync(fd, b, off);
      } catch {
        fallback = stream();
        fallback.write(b.subarray(off));
      }
    },
    flushed(cb) {
      if (fallback) fallback.write('', cb);
      else cb();
    },
  };
}
