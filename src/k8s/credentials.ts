// Loads API credentials from a kubeconfig (re-read on every invocation) or the in-cluster environment: the file and process I/O around kubeconfig.ts.
import { readFileSync } from 'node:fs';
import { CniError, Code, oneLine } from '../cni/errors';
import { runProcess } from '../util/run-process';
import { registerSecret, registerSecretsIn } from '../util/secrets';
import { yamlSyntaxError } from '../util/parse-errors';
import { credentialsFromKubeconfig, inClusterCredentials, type ExecRequest, type KubeconfigIO } from './kubeconfig';

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

/** How long an exec credential plugin may run before it is killed and the load fails. */
export const EXEC_TIMEOUT_MS = 5_000;
/** The most output an exec credential plugin may print. */
const EXEC_MAX_OUTPUT = 1 << 20;

const io: KubeconfigIO = { readFile: (path) => readFileSync(path), exec: runPlugin };

/**
 * Credentials from `kubeconfig`, or from the in-cluster service account when it is not given.
 * Supports what kubectl does for a plugin's kubeconfig (token, tokenFile, basic auth, client
 * certificates, a CA as a file or data, tls-server-name, impersonation, exec plugins); every file is
 * read now, so rotated tokens are used. Every failure is code 7 naming the kubeconfig.
 */
export async function loadCredentials(kubeconfig: string | undefined, getenv: (k: string) => string | undefined): Promise<Credentials> {
  if (!kubeconfig) {
    if (!getenv('KUBERNETES_SERVICE_HOST')) {
      throw new CniError(Code.InvalidConfig, 'kubeconfig: no kubeconfig configured and not running in a cluster (KUBERNETES_SERVICE_HOST unset)');
    }
    return registered(inClusterCredentials(getenv, io));
  }
  let text: string;
  try {
    text = readFileSync(kubeconfig, 'utf8');
  } catch (e) {
    throw new CniError(Code.InvalidConfig, `kubeconfig ${kubeconfig}: cannot read it: ${(e as NodeJS.ErrnoException).code ?? oneLine((e as Error).message)}`);
  }
  const doc = parseKubeconfig(text, kubeconfig);
  registerSecretsIn(doc);
  return registered(await credentialsFromKubeconfig(doc, kubeconfig, io));
}

/**
 * The kubeconfig's document. The one macmux install writes is JSON (which is YAML: kubectl reads it too),
 * parsed without js-yaml, which is loaded only for a YAML kubeconfig (about 3 ms of every ADD and DEL).
 * Text JSON.parse refuses (a YAML flow mapping, a syntax error) goes to js-yaml, so its errors are as before.
 */
function parseKubeconfig(text: string, kubeconfig: string): unknown {
  if (/^\s*\{/.test(text)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // Not JSON: YAML decides, and words the error.
    }
  }
  // Required here, not at the top: a JSON kubeconfig never loads it.
  const { load } = require('js-yaml') as typeof import('js-yaml');
  try {
    return load(text, { filename: kubeconfig });
  } catch (e) {
    // js-yaml's message quotes the lines around the error, which may hold the token: only where and why.
    throw new CniError(Code.InvalidConfig, `kubeconfig ${kubeconfig}: not YAML: ${yamlSyntaxError(e)}`);
  }
}

/** Registers the credentials' secrets (the token or basic-auth pair, the client key) for redaction, and returns them. */
function registered(creds: Credentials): Credentials {
  if (creds.authorization) {
    registerSecret(creds.authorization);
    registerSecret(creds.authorization.replace(/^\S+\s+/, ''));
    if (/^basic\s/i.test(creds.authorization)) registerSecret(Buffer.from(creds.authorization.replace(/^\S+\s+/, ''), 'base64').toString('utf8'));
  }
  registerSecret(creds.key);
  return creds;
}

/**
 * Runs an exec credential plugin with stdin on /dev/null (never interactive), in its own process
 * group so that a timeout kills whatever it started too; resolves to its stdout.
 */
async function runPlugin(req: ExecRequest): Promise<string> {
  let end;
  try {
    // Its stderr is counted, never kept: a plugin that fails half-way may have printed the credential on either stream.
    end = await runProcess({ ...req, extendEnv: true, timeoutMs: EXEC_TIMEOUT_MS, maxStdout: EXEC_MAX_OUTPUT, maxStderr: 0 });
  } catch (e) {
    throw new Error(`cannot run it: ${(e as NodeJS.ErrnoException).code ?? oneLine((e as Error).message)}`);
  }
  if (end.kind === 'timeout') throw new Error(`no answer within ${EXEC_TIMEOUT_MS / 1000} s; killed`);
  if (end.kind === 'overflow') throw new Error(`printed more than ${EXEC_MAX_OUTPUT} bytes; killed`);
  if (end.status === 0) return end.stdout;
  const said = end.stderrBytes > 0 ? ` (${end.stderrBytes} bytes on stderr, not shown: they may hold a credential)` : '';
  throw new Error(`${end.signal ? `killed by ${end.signal}` : `exit status ${end.status}`}${said}`);
}
