// `macmux install`: the DaemonSet's entrypoint; its flags here, its code (src/install/) loaded only when it runs.
import { Command } from 'commander';
import type { CliIo } from './io';
import type { InstallFlags } from '../install/paths';

export function installCommand(io: CliIo): Command {
  return new Command('install')
    .description(
      'install macmux on this node (the DaemonSet entrypoint): copy the binary to the CNI bin dir, write the conflist wrapping the primary network and the plugin kubeconfig, keep the token copy fresh, serve /healthz, /livez and /metrics',
    )
    .option('--root <dir>', 'host root as mounted in the container; host paths are written under it (and into configs without it)', '/host')
    .option('--bin-dir <dir>', 'host CNI bin dir', '/opt/cni/bin')
    .option('--conf-dir <dir>', 'host CNI conf dir', '/etc/cni/net.d')
    .option('--state-dir <dir>', "host state dir, the plugin's cacheDir (kubeconfig, token and CA copies, ledger, stats)", '/var/lib/macmux')
    .option('--conflist-name <name>', "macmux's conflist file name in the conf dir (must sort first)", '00-macmux.conflist')
    .option('--primary <file>', "the primary network config's file name in the conf dir (default: the lexically first *.conf/*.conflist/*.json that is not macmux's)")
    .option('--config <file>', 'JSON object of macmux plugin settings merged into the written plugin config (default /etc/macmux/config.json when it exists)')
    .option('--namespace <ns>', 'the ledger namespace, written as macNamespace (default $POD_NAMESPACE, else kube-system)')
    .option('--server <url>', 'API server (default https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT)')
    .option('--token-file <file>', 'the projected service-account token', '/var/run/secrets/tokens/macmux')
    .option('--ca-file <file>', "the cluster CA", '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt')
    .option('--listen <addr>', "/healthz, /livez and /metrics address: ip:port or [ip]:port (the DaemonSet's [$(POD_IP)]:9733 is the node's address kubelet probes), :port for every address; port 0 picks a free port", '127.0.0.1:9733')
    .option('--interval <sec>', 'seconds between re-checks of the conf dir, token and CA (file changes also trigger one)', '10')
    .option('--scan-interval <sec>', 'seconds between ledger censuses for the metrics', '60')
    .option('--cleanup-on-exit', 'remove the conflist on SIGTERM/SIGINT')
    .option('--once', 'install once and exit (no server, no watching); exit 0 when everything is in place')
    .action(async (flags: InstallFlags) => {
      const { runInstall } = await import('../install/run');
      await runInstall(flags, io);
    });
}
