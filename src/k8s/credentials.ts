// Loads API credentials from a kubeconfig (re-read on every invocation) or the in-cluster environment.
import { KubeConfig } from '@kubernetes/client-node';
import { load } from 'js-yaml';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { CniError, Code } from '../cni/errors';

export interface Credentials {
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
  /** The name to verify the server's certificate against (kubeconfig tls-server-name). */
  servername?: string;
  /** The Authorization header value; never logged. */
  authorization?: string;
  /** Other headers the kubeconfig asks for, such as Impersonate-User. */
  headers?: Record<string, string>;
}

/**
 * Credentials from `kubeconfig`, or from the in-cluster service account when it is not given.
 * Supports token, tokenFile, client certificates, and a CA as a file or as data.
 */
export async function loadCredentials(kubeconfig: string | undefined, getenv: (k: string) => string | undefined): Promise<Credentials> {
  const kc = new KubeConfig();
  try {
    if (kubeconfig) {
      kc.loadFromFile(kubeconfig);
      applyTokenFile(kc, kubeconfig);
    } else if (getenv('KUBERNETES_SERVICE_HOST')) {
      kc.loadFromCluster();
    } else {
      throw new Error('no kubeconfig configured and not running in a cluster (KUBERNETES_SERVICE_HOST unset)');
    }
  } catch (e) {
    throw new CniError(Code.InvalidConfig, `kubeconfig${kubeconfig ? ` ${kubeconfig}` : ''}: ${(e as Error).message}`);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) throw new CniError(Code.InvalidConfig, `kubeconfig ${kubeconfig ?? '(in-cluster)'}: no current cluster with a server`);
  const opts: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean; servername?: string; headers?: Record<string, string> } = {};
  try {
    await kc.applyToHTTPSOptions(opts);
  } catch (e) {
    throw new CniError(Code.InvalidConfig, `kubeconfig ${kubeconfig ?? '(in-cluster)'}: ${(e as Error).message}`);
  }
  // A token file written with a trailing newline must not put the newline in the header.
  const authorization = (opts.headers?.Authorization ?? opts.headers?.authorization)?.trim();
  const headers = Object.fromEntries(Object.entries(opts.headers ?? {}).filter(([k]) => k.toLowerCase() !== 'authorization'));
  return {
    server: cluster.server,
    ...(opts.ca ? { ca: opts.ca } : {}),
    ...(opts.cert ? { cert: opts.cert } : {}),
    ...(opts.key ? { key: opts.key } : {}),
    rejectUnauthorized: !cluster.skipTLSVerify,
    ...(cluster.tlsServerName ? { servername: cluster.tlsServerName } : {}),
    ...(authorization ? { authorization } : {}),
    ...(Object.keys(headers).length ? { headers } : {}),
  };
}

/** kubectl's `tokenFile` user field, which the client library does not read: the file's token, read now. */
function applyTokenFile(kc: KubeConfig, kubeconfig: string): void {
  const user = kc.getCurrentUser();
  if (!user || user.token) return;
  const doc = load(readFileSync(kubeconfig, 'utf8')) as { users?: Array<{ name?: string; user?: { tokenFile?: string } }> } | undefined;
  const tokenFile = doc?.users?.find((u) => u.name === user.name)?.user?.tokenFile;
  if (!tokenFile) return;
  const path = isAbsolute(tokenFile) ? tokenFile : join(dirname(kubeconfig), tokenFile);
  let token: string;
  try {
    token = readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new Error(`tokenFile ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  kc.users = kc.users.map((u) => (u.name === user.name ? { ...u, token } : u));
}
