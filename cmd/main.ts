// Entrypoint: a CNI plugin when CNI_COMMAND is set, otherwise the operator CLI.
import { dispatch } from '../src/run/dispatch';

async function main(): Promise<number> {
  if (process.env.CNI_COMMAND !== undefined) {
    return dispatch({
      getenv: (k) => process.env[k],
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
      environ: () => process.env,
    });
  }
  const { runCli } = await import('../src/cli/program');
  return runCli(process.argv.slice(2), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), getenv: (k) => process.env[k] });
}

main().then(
  (code) => exitAfterFlush(code),
  (e) => {
    process.stderr.write(`macmux: ${(e as Error)?.message ?? String(e)}\n`);
    exitAfterFlush(999 % 256);
  },
);

/** Exits once stdout and stderr have drained, so no output is lost. */
function exitAfterFlush(code: number): void {
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}
