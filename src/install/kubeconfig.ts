// The plugin's kubeconfig: the API server, the CA copy and the token FILE (never an inline token), so rotation needs no rewrite.
import { writeIfChanged } from './files';

export interface KubeconfigInput {
  server: string;
  /** Host paths, as the plugin on the host reads them. */
  caFile: string;
  tokenFile: string;
  namespace: string;
}

export function renderKubeconfig(k: KubeconfigInput): string {
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'macmux', cluster: { server: k.server, 'certificate-authority': k.caFile } }],
    users: [{ name: 'macmux', user: { tokenFile: k.tokenFile } }],
    contexts: [{ name: 'macmux', context: { cluster: 'macmux', user: 'macmux', namespace: k.namespace } }],
    'current-context': 'macmux',
  };
  // JSON, which is YAML (kubectl and client-go read it): the plugin parses it without a YAML parser. JSON has no
  // comments, so the file no longer says it is macmux install's; `install` rewrites whatever differs anyway.
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** Writes the kubeconfig (0600) at `localPath` unless it already says this; true when written. */
export function writeKubeconfig(localPath: string, k: KubeconfigInput): boolean {
  return writeIfChanged(localPath, renderKubeconfig(k), 0o600);
}
