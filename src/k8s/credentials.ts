// Loads API credentials from a kubeconfig (re-read on every invocation) or the in-cluster environment: the file and process I/O around kubeconfig.ts.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { CniError, Code, oneLine } from '../cni/errors';
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
  let doc: unknown;
  try {
    doc = load(text, { filename: kubeconfig });
  } catch (e) {
    // js-yaml's message quotes the lines around the error, which may hold the token: only where and why.
    throw new CniError(Code.InvalidConfig, `kubeconfig ${kubeconfig}: not YAML: ${yamlSyntaxError(e)}`);
  }
  registerSecretsIn(doc);
  return registered(await credentialsFromKubeconfig(doc, kubeconfig, io));
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
function runPlugin(req: ExecRequest): Promise<string> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let done = false;
    const child = spawn(req.command, req.args, { env: { ...process.env, ...req.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const finish = (failure?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (failure === undefined) return resolve(Buffer.concat(out).toString('utf8'));
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      child.stdout.destroy();
      child.stderr.destroy();
      reject(new Error(failure));
    };
    const timer = setTimeout(() => finish(`no answer within ${EXEC_TIMEOUT_MS / 1000} s; killed`), EXEC_TIMEOUT_MS);
    child.stdout.on('data', (c: Buffer) => {
      outBytes += c.length;
      if (outBytes > EXEC_MAX_OUTPUT) finish(`printed more than ${EXEC_MAX_OUTPUT} bytes; killed`);
      else out.push(c);
    });
    child.stderr.on('data', (c: Buffer) => {
      errBytes += c.length;
    });
    child.on('error', (e: NodeJS.ErrnoException) => finish(`cannot run it: ${e.code ?? oneLine(e.message)}`));
    child.on('close', (code, signal) => {
      if (code === 0) return finish();
      // Its output is never quoted: a plugin that fails half-way may have printed the credential on either stream.
      const said = errBytes > 0 ? ` (${errBytes} bytes on stderr, not shown: they may hold a credential)` : '';
      finish(`${signal ? `killed by ${signal}` : `exit status ${code}`}${said}`);
    });
  });
}
