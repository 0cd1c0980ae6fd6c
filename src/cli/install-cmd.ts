// `macmux install`: the DaemonSet's entrypoint (filled in by the install work).
import { Command } from 'commander';
import type { CliIo } from './io';

export function installCommand(_io: CliIo): Command {
  return new Command('install').description('install macmux on this node (the DaemonSet entrypoint)');
}
