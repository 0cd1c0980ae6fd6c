// `macmux ledger list|show|release|gc|sync|migrate`: operator commands over the MAC ledger; each loads its code only when run.
import { Command } from 'commander';
import type { CliIo } from './io';
import type { LedgerOpts } from './ledger/common';

const EXIT_CODES = `
Exit codes: 0 done, 1 refused or failed (the message says why), 2 bad usage or config,
3 not found, 4 API server or lock unavailable (try again).`;

/** The flags every ledger command takes: where the config, the API and the ledger are, and the output format. */
function withGlobals(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'the macmux conflist to read settings from (default $MACMUX_CONFIG, else /etc/cni/net.d/00-macmux.conflist)')
    .option('--kubeconfig <file>', 'kubeconfig for the API (default: the config\'s kubeconfig, else in-cluster)')
    .option('--namespace <ns>', 'namespace of the ledger ConfigMaps (default: the config\'s macNamespace, else kube-system)')
    .option('--node <name>', 'node name (default: the config\'s nodeName, $NODE_NAME, else the hostname)')
    .option('--timeout <sec>', 'keep retrying the API this long before giving up with exit 4', '30')
    .option('-o, --output <format>', 'table or json', 'table')
    .addHelpText('after', EXIT_CODES);
}

export function ledgerCommand(io: CliIo): Command {
  // Commands added with addCommand do not inherit the program's settings: each reports to `io` and throws instead of exiting.
  const settle = (cmd: Command) => cmd.configureOutput({ writeOut: io.out, writeErr: io.err }).exitOverride().showHelpAfterError('(run with --help for usage)');
  const ledger = settle(new Command('ledger')).description('inspect and repair the cluster MAC ledger').addHelpText('after', EXIT_CODES);

  ledger.addCommand(
    withGlobals(settle(new Command('list')))
      .description('list every MAC holding in the ledger ConfigMaps: MAC, owner, state, node, since, ConfigMap, live, home or leftover (--node: only that node\'s)')
      .action(async (opts: LedgerOpts) => (await import('./ledger/list')).list(io, opts)),
  );

  ledger.addCommand(
    withGlobals(settle(new Command('show')))
      .description("show one MAC: its home ConfigMap, the holding there, leftover copies, this node's journal entry and this node's history of it")
      .argument('<mac>', 'the MAC, e.g. 02:aa:00:00:00:01')
      .action(async (mac: string, opts: LedgerOpts) => (await import('./ledger/show')).show(io, mac, opts)),
  );

  ledger.addCommand(
    withGlobals(settle(new Command('release')))
      .description("release a MAC for its current owner on its home (kept for the owner during the grace period); refused while the owner's pod exists")
      .argument('<mac>', 'the MAC, e.g. 02:aa:00:00:00:01')
      .option('--force', 'release even though the pod exists, and free the MAC at once (no grace period)')
      .action(async (mac: string, opts: LedgerOpts & { force?: boolean }) => (await import('./ledger/release')).release(io, mac, opts)),
  );

  ledger.addCommand(
    withGlobals(settle(new Command('gc')))
      .description('release every reserved or active MAC whose pod no longer exists, and free every retained MAC whose owner (StatefulSet, VirtualMachineInstance) is gone')
      .option('--dry-run', 'only print what would be released')
      .action(async (opts: LedgerOpts & { dryRun?: boolean }) => (await import('./ledger/gc')).gc(io, opts)),
  );

  ledger.addCommand(
    withGlobals(settle(new Command('sync')))
      .description("on this node, push releases deferred while the API was down and reclaim MACs of ADDs that died (what every plugin run does first)")
      .action(async (opts: LedgerOpts) => (await import('./ledger/sync')).syncCmd(io, opts)),
  );

  ledger.addCommand(
    withGlobals(settle(new Command('migrate')))
      .description(
        'after an upgrade, once every node runs this release: move every block an earlier release leased (all of a node\'s blocks in its one ConfigMap) into a ConfigMap of its own; safe to run again, which finishes an interrupted run',
      )
      .option('--dry-run', 'only print the blocks it would move')
      .action(async (opts: LedgerOpts & { dryRun?: boolean }) => (await import('./ledger/migrate')).migrate(io, opts)),
  );

  return ledger;
}
