// `macmux ledger ...`: operator commands over the MAC ledger (filled in by the ledger CLI work).
import { Command } from 'commander';
import type { CliIo } from './io';

export function ledgerCommand(_io: CliIo): Command {
  return new Command('ledger').description('inspect and repair the cluster MAC ledger');
}
