// The operator CLI, used when CNI_COMMAND is not set.
import { Command } from 'commander';
import { deviceName } from '../util/names';
import { SUPPORTED_VERSIONS } from '../cni/versions';
import { VERSION } from '../version';

export function buildProgram(out: (s: string) => void, err: (s: string) => void): Command {
  const program = new Command('macmux')
    .description('Kubernetes CNI meta-plugin with cluster-unique MACs. Run by the container runtime when CNI_COMMAND is set.')
    .configureOutput({ writeOut: out, writeErr: err })
    .exitOverride();

  program
    .command('version')
    .description('print the macmux version and the CNI versions it supports')
    .action(() => out(`macmux ${VERSION} (CNI ${SUPPORTED_VERSIONS.join(', ')})\n`));

  program
    .command('name')
    .description('print the device name macmux gives an attachment: "net" + md5(name)[:12]')
    .argument('<attachment>', 'attachment (network) name')
    .action((attachment: string) => out(`${deviceName(attachment)}\n`));

  return program;
}

/** Runs the CLI on `argv` (without node and script) and returns the exit code. */
export async function runCli(argv: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const program = buildProgram(out, err);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    const code = (e as { exitCode?: number }).exitCode;
    if (typeof code === 'number') return code;
    err(`macmux: ${(e as Error).message}\n`);
    return 1;
  }
}
