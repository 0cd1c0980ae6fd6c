// Resolves a parsed kubeconfig, or the in-cluster service account, to API credentials the way kubectl does; all I/O goes through KubeconfigIO.
import { isIPv6 } from 'node:net';
import { dirname, isAbsolute, join } from 'node:path';
import { CniError, Code, oneLine, quote } from '../cni/errors';
import type { ProcessRequest } from '../util/run-process';
import type { Credentials } from './credentials';

/** The I/O the resolution needs, supplied by the caller (credentials.ts, or a test). */
export interface KubeconfigIO {
  /** The file's bytes; throws (a NodeJS.ErrnoException) when it cannot be read. */
  readFile(path: string): Buffer;
  /** Runs an exec credential plugin and resolves to its stdout; rejects with an Error saying why it failed. */
  exec(req: ExecRequest): Promise<string>;
}

/** One run of an exec credential plugin: `env` holds the variables to add to the inherited environment (the kubeconfig's `env` and KUBERNETES_EXEC_INFO). */
export type ExecRequest = Pick<ProcessRequest, 'command' | 'args' | 'env'>;

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

type Map = Record<string, unknown>;

const isMap = (v: unknown): v is Map => typeof v === 'object' && v !== null && !Array.isArray(v);

const errnoText = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? oneLine((e as Error).message ?? String(e));

/** Field readers for one kubeconfig; each failure is code 7 naming the kubeconfig and the field. */
class Reader {
  constructor(
    private readonly where: string,
    private readonly dir: string | undefined,
    private readonly io: KubeconfigIO,
  ) {}

  fail(field: string, msg: string): never {
    throw new CniError(Code.InvalidConfig, `${this.where}: ${field ? `${field}: ` : ''}${msg}`);
  }

  /** A string field; absent, null and '' are unset (as in kubectl). */
  str(m: Map, key: string, field: string): string | undefined {
    const v = m[key];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') this.fail(sub(field, key), `a string expected, found ${typeName(v)}`);
    return v;
  }

  bool(m: Map, key: string, field: string): boolean {
    const v = m[key];
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') this.fail(sub(field, key), `true or false expected, found ${typeName(v)}`);
    return v;
  }

  strList(m: Map, key: string, field: string): string[] {
    const v = m[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(sub(field, key), `a list of strings expected, found ${typeName(v)}`);
    return v.map((s, i) => (typeof s === 'string' ? s : this.fail(`${sub(field, key)}[${i}]`, `a string expected, found ${typeName(s)}`)));
  }

  map(m: Map, key: string, field: string): Map | undefined {
    const v = m[key];
    if (v === undefined || v === null) return undefined;
    if (!isMap(v)) this.fail(sub(field, key), `a mapping expected, found ${typeName(v)}`);
    return v;
  }

  /** A path from the kubeconfig: relative ones are relative to the kubeconfig's directory, as in kubectl. */
  path(p: string): string {
    return this.dir === undefined || isAbsolute(p) ? p : join(this.dir, p);
  }

  read(field: string, file: string): Buffer {
    const path = this.path(file);
    try {
      return this.io.readFile(path);
    } catch (e) {
      return this.fail(field, `${path}: ${errnoText(e)}`);
    }
  }

  base64(field: string, data: string): Buffer {
    const compact = data.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) this.fail(field, 'not base64');
    return Buffer.from(compact, 'base64');
  }

  /** The entry of the named list (clusters, contexts, users) called `name`, with its index. */
  entry(doc: Map, list: string, name: string, field: string, inner: string): { m: Map; at: string } {
    const v = doc[list];
    if (v !== undefined && v !== null && !Array.isArray(v)) this.fail(list, `a list expected, found ${typeName(v)}`);
    const items = (v ?? []) as unknown[];
    const i = items.findIndex((e) => isMap(e) && e.name === name);
    if (i < 0) {
      const names = items.flatMap((e) => (isMap(e) && typeof e.name === 'string' ? [quote(e.name)] : []));
      this.fail(field, `${quote(name)} names no entry of ${list}${names.length ? ` (there: ${names.join(', ')})` : ` (${list} is empty)`}`);
    }
    const m = (items[i] as Map)[inner];
    if (!isMap(m)) this.fail(`${list}[${i}].${inner}`, m === undefined || m === null ? 'missing' : `a mapping expected, found ${typeName(m)}`);
    return { m, at: `${list}[${i}].${inner}` };
  }
}

/** `field.key`, or `key` at the top level. */
const sub = (field: string, key: string): string => (field ? `${field}.${key}` : key);

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  // Never the value itself: it may be a token or a password.
  return typeof v === 'object' ? 'a mapping' : `a ${typeof v}`;
}

interface Cluster {
  server: string;
  ca?: Buffer;
  insecure: boolean;
  servername?: string;
  /** For an exec plugin with provideClusterInfo: the `client.authentication.k8s.io/exec` extension's config. */
  execConfig?: unknown;
}

/**
 * Credentials from a parsed kubeconfig `doc` read from `path`: current-context, its cluster and its
 * user. Files it names are read through `io` now (so rotated tokens and certificates are used), and
 * an exec plugin is run through it. Throws code 7 naming `path` and the field.
 */
export async function credentialsFromKubeconfig(doc: unknown, path: string, io: KubeconfigIO): Promise<Credentials> {
  const r: Reader = new Reader(`kubeconfig ${path}`, dirname(path), io);
  if (doc !== undefined && doc !== null && !isMap(doc)) r.fail('', `not a kubeconfig: a YAML mapping expected, found ${typeName(doc)}`);
  const root: Map = isMap(doc) ? doc : {};
  const current = r.str(root, 'current-context', '') ?? r.fail('current-context', 'not set (kubectl config use-context <name> sets it)');
  const ctx = r.entry(root, 'contexts', current, 'current-context', 'context');
  const clusterName = r.str(ctx.m, 'cluster', ctx.at) ?? r.fail(`${ctx.at}.cluster`, 'not set');
  const cl = r.entry(root, 'clusters', clusterName, `${ctx.at}.cluster`, 'cluster');
  const cluster = readCluster(r, cl.m, cl.at);
  const userName = r.str(ctx.m, 'user', ctx.at);
  const user = userName === undefined ? undefined : r.entry(root, 'users', userName, `${ctx.at}.user`, 'user');
  const auth = user ? await readUser(r, user.m, user.at, cluster, io) : {};
  return {
    server: cluster.server,
    ...(cluster.ca ? { ca: cluster.ca } : {}),
    ...(auth.cert ? { cert: auth.cert } : {}),
    ...(auth.key ? { key: auth.key } : {}),
    rejectUnauthorized: !cluster.insecure,
    ...(cluster.servername ? { servername: cluster.servername } : {}),
    ...(auth.authorization ? { authorization: auth.authorization } : {}),
    ...(auth.headers && Object.keys(auth.headers).length ? { headers: auth.headers } : {}),
  };
}

function readCluster(r: Reader, m: Map, at: string): Cluster {
  const server = r.str(m, 'server', at) ?? r.fail(`${at}.server`, 'not set');
  let url: URL | undefined;
  try {
    url = new URL(server);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || !url.hostname) r.fail(`${at}.server`, `${quote(server)} is not an https:// (or http://) URL`);
  const caData = r.str(m, 'certificate-authority-data', at);
  const caFile = r.str(m, 'certificate-authority', at);
  // As in kubectl, the data wins over the file when both are set.
  const ca = caData !== undefined ? r.base64(`${at}.certificate-authority-data`, caData) : caFile !== undefined ? r.read(`${at}.certificate-authority`, caFile) : undefined;
  const servername = r.str(m, 'tls-server-name', at);
  const execExt = r.map(m, 'extensions', at)?.['client.authentication.k8s.io/exec'];
  return {
    server: server.replace(/\/$/, ''),
    ...(ca ? { ca } : {}),
    insecure: r.bool(m, 'insecure-skip-tls-verify', at),
    ...(servername ? { servername } : {}),
    ...(execExt !== undefined ? { execConfig: execExt } : {}),
  };
}

interface Auth {
  cert?: Buffer;
  key?: Buffer;
  authorization?: string;
  headers?: Record<string, string>;
}

async function readUser(r: Reader, m: Map, at: string, cluster: Cluster, io: KubeconfigIO): Promise<Auth> {
  const provider = r.map(m, 'auth-provider', at);
  if (provider) {
    const name = typeof provider.name === 'string' ? ` ${quote(provider.name)}` : '';
    r.fail(`${at}.auth-provider`, `the auth-provider${name} is not supported (kubectl deprecated it); use a token, tokenFile or exec credential plugin instead`);
  }
  const token = r.str(m, 'token', at);
  const tokenFile = r.str(m, 'tokenFile', at);
  const username = r.str(m, 'username', at);
  const password = r.str(m, 'password', at);
  if ((token !== undefined || tokenFile !== undefined) && (username !== undefined || password !== undefined)) {
    r.fail(at, 'more than one authentication method (a token and a username/password); kubectl allows only one');
  }
  const out: Auth = {};
  out.cert = pemOf(r, m, at, 'client-certificate');
  out.key = pemOf(r, m, at, 'client-key');
  if (token !== undefined) {
    out.authorization = `Bearer ${token.trim()}`;
  } else if (tokenFile !== undefined) {
    const text = r.read(`${at}.tokenFile`, tokenFile).toString('utf8').trim();
    if (!text) r.fail(`${at}.tokenFile`, `${r.path(tokenFile)} is empty`);
    out.authorization = `Bearer ${text}`;
  } else if (username !== undefined || password !== undefined) {
    out.authorization = `Basic ${Buffer.from(`${username ?? ''}:${password ?? ''}`).toString('base64')}`;
  }
  const exec = r.map(m, 'exec', at);
  if (exec) Object.assign(out, await runExec(r, exec, `${at}.exec`, cluster, io));
  if (out.cert && !out.key) r.fail(`${at}.client-key`, 'not set, but a client certificate is');
  if (out.key && !out.cert) r.fail(`${at}.client-certificate`, 'not set, but a client key is');
  const headers = impersonation(r, m, at);
  if (Object.keys(headers).length) out.headers = headers;
  return out;
}

/** `<field>` (a file) or `<field>-data` (base64), never both, as in kubectl. */
function pemOf(r: Reader, m: Map, at: string, field: string): Buffer | undefined {
  const file = r.str(m, field, at);
  const data = r.str(m, `${field}-data`, at);
  if (file !== undefined && data !== undefined) r.fail(`${at}.${field}-data`, `${field} is set too; set only one of them`);
  if (data !== undefined) return r.base64(`${at}.${field}-data`, data);
  return file !== undefined ? r.read(`${at}.${field}`, file) : undefined;
}

/**
 * The Impersonate-* headers of `as`, `as-uid`, `as-groups` and `as-user-extra`. The transport sends
 * one value per header name, so more than one group, or more than one value of an extra, is refused.
 */
function impersonation(r: Reader, m: Map, at: string): Record<string, string> {
  const headers: Record<string, string> = {};
  const as = r.str(m, 'as', at);
  if (as !== undefined) headers['Impersonate-User'] = as;
  const uid = r.str(m, 'as-uid', at);
  if (uid !== undefined) headers['Impersonate-Uid'] = uid;
  const groups = r.strList(m, 'as-groups', at);
  if (groups.length > 1) r.fail(`${at}.as-groups`, `${groups.length} groups given; macmux sends at most one Impersonate-Group`);
  if (groups[0] !== undefined) headers['Impersonate-Group'] = groups[0];
  const extra = r.map(m, 'as-user-extra', at) ?? {};
  for (const key of Object.keys(extra)) {
    const values = r.strList(extra, key, `${at}.as-user-extra`);
    if (values.length > 1) r.fail(`${at}.as-user-extra.${key}`, `${values.length} values given; macmux sends at most one per key`);
    if (values[0] !== undefined) headers[`Impersonate-Extra-${headerKeyEscape(key)}`] = values[0];
  }
  return headers;
}

/** client-go's escaping of an extra's key in a header name: bytes that are not header token characters, and %, as %XX. */
function headerKeyEscape(key: string): string {
  let out = '';
  for (const b of Buffer.from(key, 'utf8')) {
    const c = String.fromCharCode(b);
    out += b < 0x80 && c !== '%' && /[A-Za-z0-9!#$&'*+\-.^_`|~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Runs a client.authentication.k8s.io exec plugin (v1 or v1beta1), never interactively, and reads its ExecCredential. */
async function runExec(r: Reader, m: Map, at: string, cluster: Cluster, io: KubeconfigIO): Promise<Auth> {
  const command = r.str(m, 'command', at) ?? r.fail(`${at}.command`, 'not set');
  const apiVersion = r.str(m, 'apiVersion', at) ?? r.fail(`${at}.apiVersion`, `not set (${EXEC_API_VERSIONS.join(' or ')})`);
  if (!EXEC_API_VERSIONS.includes(apiVersion)) r.fail(`${at}.apiVersion`, `${quote(apiVersion)} is not supported (${EXEC_API_VERSIONS.join(' or ')})`);
  const args = r.strList(m, 'args', at);
  const envList = m.env ?? [];
  if (!Array.isArray(envList)) r.fail(`${at}.env`, `a list of {name, value} expected, found ${typeName(envList)}`);
  const env: Record<string, string> = {};
  envList.forEach((e, i) => {
    if (!isMap(e)) r.fail(`${at}.env[${i}]`, `a mapping {name, value} expected, found ${typeName(e)}`);
    const name = r.str(e, 'name', `${at}.env[${i}]`) ?? r.fail(`${at}.env[${i}].name`, 'not set');
    env[name] = r.str(e, 'value', `${at}.env[${i}]`) ?? '';
  });
  const spec: Map = { interactive: false };
  if (r.bool(m, 'provideClusterInfo', at)) {
    spec.cluster = {
      server: cluster.server,
      ...(cluster.servername ? { 'tls-server-name': cluster.servername } : {}),
      ...(cluster.insecure ? { 'insecure-skip-tls-verify': true } : {}),
      ...(cluster.ca ? { 'certificate-authority-data': cluster.ca.toString('base64') } : {}),
      ...(cluster.execConfig !== undefined ? { config: cluster.execConfig } : {}),
    };
  }
  env.KUBERNETES_EXEC_INFO = JSON.stringify({ apiVersion, kind: 'ExecCredential', spec });
  // As in kubectl, a command with a slash in it is relative to the kubeconfig's directory; a bare name is looked up in PATH.
  const path = command.includes('/') ? r.path(command) : command;
  const what = `command ${quote(path)}`;
  let stdout: string;
  try {
    stdout = await io.exec({ command: path, args, env });
  } catch (e) {
    return r.fail(at, `${what} failed: ${oneLine((e as Error).message ?? String(e)) || 'no reason given'}`);
  }
  let cred: unknown;
  try {
    cred = JSON.parse(stdout);
  } catch {
    // The output is not quoted: it may hold a credential.
    r.fail(at, `${what} printed no ExecCredential JSON (${stdout.length} bytes)`);
  }
  if (!isMap(cred) || cred.kind !== 'ExecCredential') r.fail(at, `${what} printed no ExecCredential (kind: ExecCredential expected)`);
  if (cred.apiVersion !== apiVersion) r.fail(at, `${what} returned apiVersion ${quote(String(cred.apiVersion))}; the kubeconfig asks for ${quote(apiVersion)}`);
  const status = cred.status;
  if (!isMap(status)) r.fail(at, `${what} returned an ExecCredential without a status`);
  const field = (k: string): string | undefined => {
    const v = status[k];
    if (v === undefined || v === null || v === '') return undefined;
    return typeof v === 'string' ? v : r.fail(at, `${what} returned status.${k} that is not a string`);
  };
  const token = field('token');
  const certPem = field('clientCertificateData');
  const keyPem = field('clientKeyData');
  if ((certPem === undefined) !== (keyPem === undefined)) r.fail(at, `${what} returned only one of status.clientCertificateData and status.clientKeyData`);
  if (token === undefined && certPem === undefined) r.fail(at, `${what} returned neither status.token nor status.clientCertificateData and clientKeyData`);
  return {
    ...(token !== undefined ? { authorization: `Bearer ${token.trim()}` } : {}),
    ...(certPem !== undefined && keyPem !== undefined ? { cert: Buffer.from(certPem), key: Buffer.from(keyPem) } : {}),
  };
}

/**
 * Credentials of the pod's service account (kubectl's in-cluster config): the server from
 * KUBERNETES_SERVICE_HOST and _PORT (https, an IPv6 host bracketed), the token and CA read now from `dir`.
 */
export function inClusterCredentials(getenv: (k: string) => string | undefined, io: Pick<KubeconfigIO, 'readFile'>, dir = SERVICE_ACCOUNT_DIR): Credentials {
  const r: Reader = new Reader('kubeconfig (in-cluster)', undefined, { readFile: io.readFile, exec: () => Promise.reject(new Error('no exec in-cluster')) });
  const host = getenv('KUBERNETES_SERVICE_HOST');
  const port = getenv('KUBERNETES_SERVICE_PORT');
  if (!host) r.fail('', 'KUBERNETES_SERVICE_HOST is not set');
  if (!port) r.fail('', `KUBERNETES_SERVICE_PORT is not set (KUBERNETES_SERVICE_HOST is ${quote(host)})`);
  const server = `https://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  try {
    new URL(server);
  } catch {
    r.fail('', `KUBERNETES_SERVICE_HOST ${quote(host)} and KUBERNETES_SERVICE_PORT ${quote(port)} make no URL`);
  }
  const token = r.read('service account token file', join(dir, 'token')).toString('utf8').trim();
  if (!token) r.fail('service account token file', `${join(dir, 'token')} is empty`);
  return { server, ca: r.read('service account CA', join(dir, 'ca.crt')), rejectUnauthorized: true, authorization: `Bearer ${token}` };
}
