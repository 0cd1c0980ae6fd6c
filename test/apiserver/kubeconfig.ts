// Test API server kubeconfigs: writes a kubeconfig (JSON as macmux install writes it, or YAML) naming the server, its CA file and a token (inline or as a tokenFile).
import { writeFileSync } from 'node:fs';

export interface KubeconfigOptions {
  /** e.g. https://127.0.0.1:43121 */
  server: string;
  /** path of the CA certificate (PEM) */
  caFile: string;
  /** inline bearer token (`user.token`) */
  token?: string;
  /** path of a file holding the bearer token (`user.tokenFile`, as client-go and kubectl spell it) */
  tokenFile?: string;
  /** default namespace of the context */
  namespace?: string;
  /** 'json' (the default: what macmux install writes) or 'yaml' (as an operator's kubeconfig may be) */
  format?: 'json' | 'yaml';
}

/** JSON strings are valid YAML double-quoted scalars. */
const q = (s: string): string => JSON.stringify(s);

function checkAuth(o: KubeconfigOptions): void {
  if ((o.token === undefined) === (o.tokenFile === undefined)) throw new Error('kubeconfig: give exactly one of token and tokenFile');
}

/** The kubeconfig as JSON, the way macmux install writes it: one cluster, one user, one context, current. */
export function kubeconfigJson(o: KubeconfigOptions): string {
  checkAuth(o);
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'macmux-test', cluster: { server: o.server, 'certificate-authority': o.caFile } }],
    users: [{ name: 'macmux', user: o.token !== undefined ? { token: o.token } : { tokenFile: o.tokenFile } }],
    contexts: [{ name: 'macmux-test', context: { cluster: 'macmux-test', user: 'macmux', ...(o.namespace ? { namespace: o.namespace } : {}) } }],
    'current-context': 'macmux-test',
    preferences: {},
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** The same kubeconfig as block YAML. */
export function kubeconfigYaml(o: KubeconfigOptions): string {
  checkAuth(o);
  const user = o.token !== undefined ? `    token: ${q(o.token)}` : `    tokenFile: ${q(o.tokenFile as string)}`;
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: macmux-test',
    '  cluster:',
    `    server: ${q(o.server)}`,
    `    certificate-authority: ${q(o.caFile)}`,
    'users:',
    '- name: macmux',
    '  user:',
    user,
    'contexts:',
    '- name: macmux-test',
    '  context:',
    '    cluster: macmux-test',
    '    user: macmux',
    ...(o.namespace ? [`    namespace: ${q(o.namespace)}`] : []),
    'current-context: macmux-test',
    'preferences: {}',
    '',
  ].join('\n');
}

/** Writes the kubeconfig to `path` (mode 0600) and returns `path`. */
export function writeKubeconfig(path: string, o: KubeconfigOptions): string {
  writeFileSync(path, o.format === 'yaml' ? kubeconfigYaml(o) : kubeconfigJson(o), { mode: 0o600 });
  return path;
}
