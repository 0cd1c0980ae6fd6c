// The operator CLI, used when CNI_COMMAND is not set: one commander program; each command loads its code only when run.
import { Command } from 'commander';
import { deviceName } from '../util/names';
import { SUPPORTED_VERSIONS } from '../cni/versions';
import { VERSION } from '../version';
import { exitFor, redactedIo, type CliIo } from './io';
import { installCommand } from './install-cmd';
import { ledgerCommand } from './ledger-cmd';
import { doctorCommand } from './doctor-cmd';

export function buildProgram(io: CliIo): Command {
  const program = new Command('macmux')
    .description('Kubernetes CNI meta-plugin with cluster-unique MACs. Run by the container runtime when CNI_COMMAND is set.')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('version')
    .description('print the macmux version and the CNI versions it supports')
    .option('-o, --output <format>', 'text or json', 'text')
    .action((opts: { output: string }) =>
      io.out(opts.output === 'json' ? `${JSON.stringify({ version: VERSION, cniVersions: SUPPORTED_VERSIONS })}\n` : `macmux ${VERSION} (CNI ${SUPPORTED_VERSIONS.join(', ')})\n`),
    );

  program
    .command('name')
    .description('print the device name macmux gives an attachment: "net" + md5(name)[:12]')
    .argument('<attachment>', 'attachment (network) name')
    .option('-o, --output <format>', 'text or json', 'text')
    .action((attachment: string, opts: { output: string }) =>
      io.out(opts.output === 'json' ? `${JSON.stringify({ attachment, device: deviceName(attachment) })}\n` : `${deviceName(attachment)}\n`),
    );

  program.addCommand(installCommand(io));
  program.addCommand(ledgerCommand(io));
  program.addCommand(doctorCommand(io));
  settle(program, io);
  return program;
}

/** addCommand does not pass settings down: every command reports through `io` and throws instead of exiting, so runCli sets the exit code. */
function settle(cmd: Command, io: CliIo): void {
  for (const sub of cmd.commands) {
    sub.configureOutput({ writeOut: io.out, writeErr: io.err }).exitOverride();
    settle(sub, io);
  }
}

/** Runs the CLI on `argv` (without node and script) and returns the exit code. */
export async function runCli(argv: string[], raw: CliIo): Promise<number> {
  const io = redactedIo(raw);
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    const code = (e as { exitCode?: number; code?: string }).exitCode;
    // commander's own errors (usage, --help, --version) are already printed.
    if (typeof code === 'number' && typeof (e as { code?: string }).code === 'string' && (e as { code: string }).code.startsWith('commander.')) {
      return code === 0 ? 0 : 2;
    }
    const msg = (e as Error).message;
    if (msg) io.err(`macmux: ${msg}\n`);
    return exitFor(e);
  }
}
