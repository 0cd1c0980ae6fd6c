// Unit tests for src/k8s/trust.ts and src/k8s/agent.ts: the direct-CA fast path accepts only what OpenSSL would, and hands the rest to OpenSSL, over real TLS.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:https';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { notDirectlyTrusted, parseCas } from '../../src/k8s/trust';
import { ApiTransport } from '../../src/k8s/http';
import { CniError } from '../../src/cni/errors';

const dir = mkdtempSync(join(tmpdir(), 'macmux-trust-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
const read = (f: string) => readFileSync(join(dir, f), 'utf8');

/** A self-signed CA `name` (CA:TRUE unless `notCa`). */
function ca(name: string, notCa = false): void {
  openssl(['req', '-config', '/dev/null', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '7', '-subj', `/CN=${name}`,
    '-addext', `basicConstraints=critical,CA:${notCa ? 'FALSE' : 'TRUE'}`, ...(notCa ? [] : ['-addext', 'keyUsage=critical,keyCertSign,cRLSign'])]);
}

/** A certificate `name` signed by `issuer`, with the given extensions, valid for 7 days from now. */
function leaf(name: string, issuer: string, ext: string[]): void {
  openssl(['req', '-config', '/dev/null', '-new', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  writeFileSync(join(dir, `${name}.ext`), `${ext.join('\n')}\n`);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.crt`, '-CAkey', `${issuer}.key`, '-set_serial', String(Date.now()), '-days', '7', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
}

const SERVER = ['subjectAltName=IP:127.0.0.1,DNS:localhost', 'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth'];

before(() => {
  ca('root');
  ca('other');
  ca('notca', true);
  leaf('good', 'root', SERVER);
  leaf('elsewhere', 'root', ['subjectAltName=DNS:api.example.com', ...SERVER.slice(1)]);
  leaf('clientonly', 'root', [SERVER[0]!, SERVER[1]!, 'extendedKeyUsage=clientAuth']);
  leaf('noeku', 'root', SERVER.slice(0, 3));
  leaf('byother', 'other', SERVER);
  leaf('bynotca', 'notca', SERVER);
  leaf('mid', 'root', ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign']);
  leaf('viamid', 'mid', SERVER);
});

describe('notDirectlyTrusted', () => {
  it('accepts a certificate the CA issued for the host, by IP or DNS name, with or without an EKU', () => {
    const cas = parseCas(read('root.crt'));
    assert.equal(notDirectlyTrusted(read('good.crt'), cas, '127.0.0.1'), undefined);
    assert.equal(notDirectlyTrusted(read('good.crt'), cas, 'localhost'), undefined);
    assert.equal(notDirectlyTrusted(read('noeku.crt'), cas, 'localhost'), undefined);
    assert.equal(notDirectlyTrusted(read('elsewhere.crt'), cas, 'api.example.com'), undefined);
    // a bundle: the issuer is found among several CAs
    assert.equal(notDirectlyTrusted(read('good.crt'), parseCas(read('other.crt') + read('root.crt')), '127.0.0.1'), undefined);
  });

  it('refuses, with the reason, anything else: another host, another CA, a non-CA issuer, an intermediate, client-only, out of its validity, garbage', () => {
    const cas = parseCas(read('root.crt'));
    assert.match(notDirectlyTrusted(read('good.crt'), cas, '127.0.0.2')!, /does not name 127\.0\.0\.2/);
    assert.match(notDirectlyTrusted(read('good.crt'), cas, 'example.com')!, /does not name example\.com/);
    assert.match(notDirectlyTrusted(read('elsewhere.crt'), cas, '127.0.0.1')!, /does not name/);
    assert.match(notDirectlyTrusted(read('byother.crt'), cas, '127.0.0.1')!, /not signed by a CA of the kubeconfig/);
    assert.match(notDirectlyTrusted(read('bynotca.crt'), parseCas(read('notca.crt')), '127.0.0.1')!, /not signed/);
    assert.match(notDirectlyTrusted(read('viamid.crt'), cas, '127.0.0.1')!, /not signed/);
    assert.match(notDirectlyTrusted(read('clientonly.crt'), cas, '127.0.0.1')!, /server authentication/);
    assert.match(notDirectlyTrusted('not a certificate', cas, '127.0.0.1')!, /unreadable/);
    assert.match(notDirectlyTrusted(read('good.crt'), [], '127.0.0.1')!, /not signed/);
    // valid from its notBefore until its notAfter, 7 days on
    assert.match(notDirectlyTrusted(read('good.crt'), cas, '127.0.0.1', new Date('2001-01-01'))!, /not valid now/);
    assert.match(notDirectlyTrusted(read('good.crt'), cas, '127.0.0.1', new Date(Date.now() + 8 * 86400_000))!, /not valid now/);
    assert.equal(notDirectlyTrusted(read('good.crt'), cas, '127.0.0.1', new Date(Date.now() + 6 * 86400_000)), undefined);
  });

  it('parseCas reads every certificate of a bundle and skips what is not one', () => {
    assert.equal(parseCas(read('root.crt') + read('other.crt')).length, 2);
    assert.equal(parseCas('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n').length, 0);
    assert.equal(parseCas('').length, 0);
  });
});

describe('the HTTPS agent', () => {
  /** An HTTPS server presenting `cert` (plus `chain`), recording the Authorization headers it receives. */
  async function serve(cert: string, chain = ''): Promise<{ url: string; seen: string[]; server: Server }> {
    const seen: string[] = [];
    const server = createServer({ cert: read(`${cert}.crt`) + chain, key: read(`${cert}.key`) }, (req, res) => {
      seen.push(String(req.headers.authorization));
      res.setHeader('Content-Type', 'application/json');
      res.end('{"kind":"Status","message":"hello"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
  }

  async function get(url: string, caFile: string, servername?: string): Promise<{ status?: number; error?: CniError; log: string[] }> {
    const log: string[] = [];
    const t = new ApiTransport({ server: url, ca: Buffer.from(read(caFile)), rejectUnauthorized: true, authorization: 'Bearer secret', ...(servername ? { servername } : {}) }, 3000, (m) => log.push(m));
    try {
      return { status: (await t.send({ method: 'GET', path: '/x', verb: 'get', resource: 'x' })).status, log };
    } catch (e) {
      return { error: e as CniError, log };
    } finally {
      t.close();
    }
  }

  it('serves a certificate issued by the kubeconfig CA on the fast path, and a chain through an intermediate by full verification', async (t) => {
    const direct = await serve('good');
    const chained = await serve('viamid', read('mid.crt'));
    t.after(() => {
      direct.server.close();
      chained.server.close();
    });
    const a = await get(direct.url, 'root.crt');
    assert.equal(a.status, 200);
    assert.deepEqual(a.log.filter((l) => l.startsWith('TLS')), []);
    assert.deepEqual(direct.seen, ['Bearer secret']);
    const b = await get(chained.url, 'root.crt');
    assert.equal(b.status, 200, b.error?.message);
    assert.ok(b.log.some((l) => /^TLS: .*not signed.*verifying the chain in full/.test(l)), b.log.join('\n'));
    assert.deepEqual(chained.seen, ['Bearer secret']);
  });

  it('a server the CA did not vouch for, or not for that name, gets code 7 from OpenSSL and never sees the token', async (t) => {
    const wrongCa = await serve('byother');
    const wrongName = await serve('elsewhere');
    t.after(() => {
      wrongCa.server.close();
      wrongName.server.close();
    });
    const a = await get(wrongCa.url, 'root.crt');
    assert.equal(a.error?.code, 7, a.error?.message);
    assert.match(a.error!.message, /check the kubeconfig/);
    const b = await get(wrongName.url, 'root.crt');
    assert.equal(b.error?.code, 7, b.error?.message);
    assert.match(b.error!.message, /ERR_TLS_CERT_ALTNAME_INVALID/);
    assert.deepEqual([...wrongCa.seen, ...wrongName.seen], []);
    // tls-server-name: the name the certificate must carry instead of the address
    const c = await get(wrongName.url, 'root.crt', 'api.example.com');
    assert.equal(c.status, 200, c.error?.message);
    assert.deepEqual(c.log.filter((l) => l.startsWith('TLS')), []);
  });

  it('a server that accepts connections and never speaks TLS: the request ends in its budget (code 11), and closing drops the handshake', { timeout: 20_000 }, async (t) => {
    const sockets: Socket[] = [];
    const closed: Socket[] = [];
    const silent = createTcpServer((s) => {
      sockets.push(s);
      s.on('close', () => closed.push(s));
      s.on('error', () => {});
      s.resume(); // reads (and drops) the client hello, so the client's close is seen
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    t.after(() => {
      for (const s of sockets) s.destroy();
      silent.close();
    });
    const transport = new ApiTransport({ server: `https://127.0.0.1:${(silent.address() as AddressInfo).port}`, ca: Buffer.from(read('root.crt')), rejectUnauthorized: true }, 500, () => {});
    const error = await transport.send({ method: 'GET', path: '/x', verb: 'get', resource: 'x' }).then(
      () => undefined,
      (e: CniError) => e,
    );
    assert.equal(error?.code, 11, error?.message);
    assert.match(error!.message, /unreachable: get x: ETIMEDOUT/);
    assert.ok(sockets.length >= 1, 'the transport connected');
    transport.close();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(closed.length, sockets.length, 'every connection still in its handshake is closed with the transport');
  });
});
