// `macmux doctor`: checks this node's macmux setup and the cluster ledger; the checks load only when it runs.
import { Command } from 'commander';
import type { CliIo } from './io';
import type { DoctorOpts } from './doctor/run';

export function doctorCommand(io: CliIo): Command {
  return new Command('doctor')
    .description(
      'check the config, the delegate plugins, API access and RBAC, the NADs, the MAC ledger (integrity, agreement with this node, duplicates) and the environment; ' +
        'prints a checklist and exits 1 when a check failed (warnings do not fail)',
    )
    .option('--config <file>', 'the macmux conflist (default $MACMUX_CONFIG, else /etc/cni/net.d/00-macmux.conflist)')
    .option('--kubeconfig <file>', "the API credentials (default: the config's kubeconfig)")
    .option('--namespace <ns>', "the ledger namespace (default: the config's macNamespace, else kube-system)")
    .option('--node <name>', "this node's name (default: the config's nodeName, $NODE_NAME, else the hostname)")
    .option('--timeout <sec>', 'seconds each phase of API requests may take, retries included', '10')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts: DoctorOpts) => {
      const { runDoctor } = await import('./doctor/run');
      await runDoctor(opts, io);
    });
}
