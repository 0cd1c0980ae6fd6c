// The plugin's kubeconfig: the API server, the CA copy and the token FILE (never an inline token), so rotation needs no rewrite.
import { dump } from 'js-yaml';
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
  return `# Written by macmux install: the macmux plugin's API credentials. Do not edit; it is rewritten.\n${dump(doc, { lineWidth: -1 })}`;
}

/** Writes the kubeconfig (0600) at `localPath` unless it already says this; true when written. */
export function writeKubeconfig(localPath: string, k: KubeconfigInput): boolean {
  return writeIfChanged(localPath, renderKubeconfig(k), 0o600);
}
