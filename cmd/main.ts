// Entrypoint: a CNI plugin when CNI_COMMAND is set, otherwise the operator CLI.
import { dispatch } from '../src/run/dispatch';
import { fdWriter, stdinChunks, type FdWriter } from './stdio';

/** Where the invocation writes: the file descriptors for a CNI verb (./stdio), process.stdout and process.stderr for the CLI. */
let out: FdWriter | undefined;
let err: FdWriter | undefined;

async function main(): Promise<number> {
  if (process.env.CNI_COMMAND !== undefined) {
    out = fdWriter(1, () => process.stdout);
    err = fdWriter(2, () => process.stderr);
    return dispatch({
      getenv: (k) => process.env[k],
      stdin: stdinChunks(),
      stdout: out,
      stderr: err,
      environ: () => process.env,
    });
  }
  const { runCli } = await import('../src/cli/program');
  return runCli(process.argv.slice(2), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), getenv: (k) => process.env[k] });
}

main().then(
  (code) => exitAfterFlush(code),
  (e) => {
    (err ?? fdWriter(2, () => process.stderr)).write(`macmux: ${(e as Error)?.message ?? String(e)}\n`);
    exitAfterFlush(999 % 256);
  },
);

/** Exits once stdout and stderr have drained, so no output is lost. */
function exitAfterFlush(code: number): void {
  process.exitCode = code;
  if (out && err) out.flushed(() => err!.flushed(() => process.exit(code)));
  else process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}
