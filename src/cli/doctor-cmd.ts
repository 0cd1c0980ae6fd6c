// `macmux doctor`: checks this node's macmux setup and the cluster ledger (filled in by the doctor work).
import { Command } from 'commander';
import type { CliIo } from './io';

export function doctorCommand(_io: CliIo): Command {
  return new Command('doctor').description('check the config, delegates, API access and the MAC ledger');
}
