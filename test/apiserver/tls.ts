// Test API server TLS: a throwaway EC P-256 CA and a 127.0.0.1/localhost server certificate, made with the openssl CLI.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TlsMaterial {
  /** PEM of the CA certificate clients must trust. */
  caPem: string;
  /** PEM of the server certificate (SANs IP:127.0.0.1, DNS:localhost), signed by the CA. */
  certPem: string;
  keyPem: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function openssl(cwd: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd, timeout: 20_000 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new Error('the openssl CLI is missing: run scripts/setup.sh (it installs Debian\'s openssl)');
    throw new Error(`openssl ${args[0]} failed: ${err.stderr?.trim() || err.message}`);
  }
}

/** Makes a fresh CA and server certificate (three openssl runs, well under a second). */
export async function generateTls(): Promise<TlsMaterial> {
  const dir = await mkdtemp(join(tmpdir(), 'macmux-tls-'));
  try {
    // -config /dev/null: no dependence on the system openssl.cnf.
    await openssl(dir, ['req', '-config', '/dev/null', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '7',
      '-subj', '/CN=macmux-test-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    await openssl(dir, ['req', '-config', '/dev/null', '-new', ...EC, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
    await writeFile(join(dir, 'server.ext'), [
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'));
    await openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${randomBytes(8).toString('hex')}`,
      '-days', '7', '-extfile', 'server.ext', '-out', 'server.crt']);
    const [caPem, certPem, keyPem] = await Promise.all(['ca.crt', 'server.crt', 'server.key'].map((f) => readFile(join(dir, f), 'utf8')));
    return { caPem, certPem, keyPem };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

let cached: Promise<TlsMaterial> | undefined;

/** The CA and server certificate of this process: made on first use and shared by every server it starts. */
export function tlsMaterial(): Promise<TlsMaterial> {
  cached ??= generateTls().catch((e: unknown) => {
    cached = undefined;
    throw e;
  });
  return cached;
}
