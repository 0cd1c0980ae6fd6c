// Unit tests for src/k8s/trust.ts, src/k8s/agent.ts and src/k8s/tls-errors.ts: the direct-CA fast path accepts only what OpenSSL would, hands the rest to OpenSSL, over real TLS, and a rejected certificate is code 7 at once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:https';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { DirectTrust, notDirectlyTrusted, parseCas } from '../../src/k8s/trust';
import { ApiTransport } from '../../src/k8s/http';
import { CniError } from '../../src/cni/errors';
import { certificateRejection, markCertificateRejection } from '../../src/k8s/tls-errors';

const dir = mkdtempSync(join(tmpdir(), 'macmux-trust-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
const read = (f: string) => readFileSync(join(dir, f), 'utf8');

/** A self-signed CA `name` (CA:TRUE unless `notCa`; `ext` replaces the key usage when given). */
function ca(name: string, notCa = false, ext?: string[]): void {
  const more = ext ?? (notCa ? [] : ['keyUsage=critical,keyCertSign,cRLSign']);
  openssl(['req', '-config', '/dev/null', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '7', '-subj', `/CN=${name}`,
    '-addext', `basicConstraints=critical,CA:${notCa ? 'FALSE' : 'TRUE'}`, ...more.flatMap((e) => ['-addext', e])]);
}

/** A certificate `name` signed by `issuer`, with the given extensions, valid for 7 days from now (`sign`: more `openssl x509` options, `key`: its key options). */
function leaf(name: string, issuer: string, ext: string[], sign: string[] = [], key = EC): void {
  openssl(['req', '-config', '/dev/null', '-new', ...key, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  writeFileSync(join(dir, `${name}.ext`), `${ext.join('\n')}\n`);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.crt`, '-CAkey', `${issuer}.key`, '-set_serial', String(Date.now()), '-days', '7', '-extfile', `${name}.ext`, '-out', `${name}.crt`, ...sign]);
}

const SERVER = ['subjectAltName=IP:127.0.0.1,DNS:localhost', 'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth'];
const [SAN, NOT_CA, KU_SIG, EKU_SERVER] = SERVER as [string, string, string, string];
const CA_KU = 'keyUsage=critical,keyCertSign,cRLSign';

/**
 * Chains the fast path once accepted although OpenSSL rejects them (or accepted without evaluating
 * what they carry): a server certificate `name` signed by the kubeconfig CA `issuer` (made with
 * `caExt` when given, else root). `openssl` is what Node's full verification says.
 */
interface Case {
  name: string;
  caExt?: string[];
  ext: string[];
  sign?: string[];
  key?: string[];
  issuer?: string;
  /** the error code of OpenSSL's verdict, or 'accepts' */
  openssl: string;
  /** the fast path's reason to defer */
  defer: RegExp;
}
const CASES: Case[] = [
  { name: 'ca-nc-excluded', caExt: [CA_KU, 'nameConstraints=critical,excluded;IP:127.0.0.0/255.0.0.0'], ext: SERVER, openssl: 'UNSPECIFIED: excluded subtree violation', defer: /CA .*2\.5\.29\.30 \(critical\)/ },
  { name: 'ca-nc-permitted', caExt: [CA_KU, 'nameConstraints=permitted;DNS:example.com'], ext: SERVER, openssl: 'UNSPECIFIED: permitted subtree violation', defer: /CA .*2\.5\.29\.30/ },
  { name: 'ca-eku-client', caExt: [CA_KU, 'extendedKeyUsage=clientAuth'], ext: SERVER, openssl: 'INVALID_PURPOSE', defer: /CA .*does not allow server authentication/ },
  { name: 'ca-eku-any', caExt: [CA_KU, 'extendedKeyUsage=anyExtendedKeyUsage'], ext: SERVER, openssl: 'INVALID_PURPOSE', defer: /CA .*does not allow server authentication/ },
  { name: 'ca-ku-nocertsign', caExt: ['keyUsage=critical,digitalSignature'], ext: SERVER, openssl: 'UNSPECIFIED: key usage does not include certificate signing', defer: /not signed by a CA/ },
  { name: 'ca-critical-unknown', caExt: [CA_KU, '1.2.3.4=critical,ASN1:NULL'], ext: SERVER, openssl: 'UNSPECIFIED: unhandled critical extension', defer: /CA .*1\.2\.3\.4 \(critical\)/ },
  { name: 'leaf-eku-any', ext: [SAN, NOT_CA, KU_SIG, 'extendedKeyUsage=anyExtendedKeyUsage'], openssl: 'INVALID_PURPOSE', defer: /server certificate does not allow server authentication/ },
  { name: 'leaf-ku-certsign', ext: [SAN, NOT_CA, 'keyUsage=critical,keyCertSign', EKU_SERVER], openssl: 'INVALID_PURPOSE', defer: /without digitalSignature or keyEncipherment/ },
  { name: 'leaf-critical-unknown', ext: [...SERVER, '1.2.3.4=critical,ASN1:NULL'], openssl: 'UNSPECIFIED: unhandled critical extension', defer: /server certificate has extension 1\.2\.3\.4 \(critical\)/ },
  { name: 'leaf-critical-skid', ext: [...SERVER, 'subjectKeyIdentifier=critical,hash'], openssl: 'UNSPECIFIED: unhandled critical extension', defer: /2\.5\.29\.14 marked critical/ },
  { name: 'leaf-ns-client', ext: [...SERVER, 'nsCertType=client'], openssl: 'INVALID_PURPOSE', defer: /server certificate has extension 2\.16\.840\.1\.113730\.1\.1/ },
  { name: 'leaf-sha1', ext: SERVER, sign: ['-sha1'], openssl: 'UNSPECIFIED: CA signature digest algorithm too weak', defer: /signed with algorithm 1\.2\.840\.10045\.4\.1/ },
  { name: 'leaf-via-intermediate-ca', ext: SERVER, issuer: 'mid', openssl: 'UNABLE_TO_GET_ISSUER_CERT', defer: /not a self-signed root/ },
  // OpenSSL accepts these: the fast path leaves them to it all the same
  { name: 'ca-ns-client', caExt: [CA_KU, 'nsCertType=client'], ext: SERVER, openssl: 'accepts', defer: /CA .*2\.16\.840\.1\.113730\.1\.1/ },
  { name: 'ca-policy-constraints', caExt: [CA_KU, 'policyConstraints=critical,requireExplicitPolicy:0'], ext: SERVER, openssl: 'accepts', defer: /CA .*2\.5\.29\.36 \(critical\)/ },
  { name: 'leaf-ku-keyagreement', ext: [SAN, NOT_CA, 'keyUsage=critical,keyAgreement', EKU_SERVER], openssl: 'accepts', defer: /without digitalSignature or keyEncipherment/ },
  { name: 'leaf-rsa1024', ext: SERVER, key: ['-newkey', 'rsa:1024', '-nodes'], openssl: 'accepts', defer: /key type or size/ },
];
const issuerOf = (c: Case) => c.issuer ?? (c.caExt ? `ca-${c.name}` : 'root');

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
  // kubeadm's layout: an RSA CA with a SAN, an RSA server certificate with both TLS key usages
  const RSA = ['-newkey', 'rsa:2048', '-nodes'];
  openssl(['req', '-config', '/dev/null', '-x509', ...RSA, '-keyout', 'kubeadm.key', '-out', 'kubeadm.crt', '-days', '7', '-subj', '/CN=kubernetes',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign', '-addext', 'subjectAltName=DNS:kubernetes']);
  leaf('kubeadm-apiserver', 'kubeadm', [SAN, 'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', EKU_SERVER, 'authorityKeyIdentifier=keyid'], [], RSA);
  for (const c of CASES) {
    if (c.caExt) ca(`ca-${c.name}`, false, c.caExt);
    leaf(c.name, issuerOf(c), c.ext, c.sign, c.key);
  }
});

describe('notDirectlyTrusted', () => {
  it('accepts a certificate the CA issued for the host, by IP or DNS name, with or without an EKU', () => {
    const cas = parseCas(read('root.crt'));
    assert.equal(notDirectlyTrusted(read('good.crt'), cas, '127.0.0.1'), undefined);
    assert.equal(notDirectlyTrusted(read('good.crt'), cas, 'localhost'), undefined);
    assert.equal(notDirectlyTrusted(read('noeku.crt'), cas, 'localhost'), undefined);
    assert.equal(notDirectlyTrusted(read('elsewhere.crt'), cas, 'api.example.com'), undefined);
    assert.equal(notDirectlyTrusted(read('kubeadm-apiserver.crt'), parseCas(read('kubeadm.crt')), '127.0.0.1'), undefined);
    // a bundle: the issuer is found among several CAs
    assert.equal(notDirectlyTrusted(read('good.crt'), parseCas(read('other.crt') + read('root.crt')), '127.0.0.1'), undefined);
  });

  it('refuses, with the reason, anything else: another host, another CA, a non-CA issuer, an intermediate, client-only, out of its validity, garbage', () => {
    const cas = parseCas(read('root.crt'));
    assert.match(notDirectlyTrusted(read('good.crt'), cas, '127.0.0.2')!, /does not name 127\.0\.0\.2/);
    assert.match(notDirectlyTrusted(read('good.crt'), cas, 'example.com')!, /does not name example\.com/);
    assert.match(notDirectlyTrusted(read('elsewhere.crt'), cas, '127.0.0.1')!, /does not name/);
    assert.match(notDirectlyTrusted(read('byother.crt'), cas, '127.0.0.1')!, /not signed by a CA of the kubeconfig/);
    assert.match(notDirectlyTrusted(read('bynotca.crt'), parseCas(read('notca.crt')), '127.0.0.1')!, /CA that signed it is not a CA/);
    assert.match(notDirectlyTrusted(read('viamid.crt'), cas, '127.0.0.1')!, /not signed/);
    assert.match(notDirectlyTrusted(read('clientonly.crt'), cas, '127.0.0.1')!, /server authentication/);
    assert.match(notDirectlyTrusted('not a certificate', cas, '127.0.0.1')!, /unreadable/);
    assert.match(notDirectlyTrusted(read('good.crt'), [], '127.0.0.1')!, /not signed/);
    // valid from its notBefore until its notAfter, 7 days on
    assert.match(notDirectlyTrusted(read('good.crt'), cas, '127.0.0.1', new Date('2001-01-01'))!, /not valid now/);
    assert.match(notDirectlyTrusted(read('good.crt'), cas, '127.0.0.1', new Date(Date.now() + 8 * 86400_000))!, /not valid now/);
    assert.equal(notDirectlyTrusted(read('good.crt'), cas, '127.0.0.1', new Date(Date.now() + 6 * 86400_000)), undefined);
  });

  it('defers, with the reason, every certificate or CA carrying what it does not evaluate', () => {
    for (const c of CASES) assert.match(notDirectlyTrusted(read(`${c.name}.crt`), parseCas(read(`${issuerOf(c)}.crt`)), '127.0.0.1') ?? 'accepted', c.defer, c.name);
    // two CAs of the issuer's name in the bundle: OpenSSL picks one, so the fast path stays out of it
    ca('root2');
    const twin = read('root2.crt');
    openssl(['req', '-config', '/dev/null', '-x509', ...EC, '-keyout', 'twin.key', '-out', 'twin.crt', '-days', '7', '-subj', '/CN=ROOT', '-addext', 'basicConstraints=critical,CA:TRUE']);
    assert.equal(notDirectlyTrusted(read('good.crt'), parseCas(twin + read('root.crt')), '127.0.0.1'), undefined);
    assert.match(notDirectlyTrusted(read('good.crt'), parseCas(read('twin.crt') + read('root.crt')), '127.0.0.1')!, /more than one CA/);
  });

  it('DirectTrust: a certificate it accepted is accepted again unparsed, only the same DER and only while it and its CA are valid', (t) => {
    const trust = new DirectTrust(parseCas(read('root.crt')), '127.0.0.1');
    // The module itself (as trust.ts sees it), not an import's namespace copy: the spy counts trust.ts's parses.
    const crypto = require('node:crypto') as typeof import('node:crypto');
    const der = (f: string) => new crypto.X509Certificate(read(f)).raw;
    const [good, other] = [der('good.crt'), der('elsewhere.crt')];
    const parsed = t.mock.method(crypto as unknown as Record<string, (...a: unknown[]) => unknown>, 'X509Certificate');
    assert.equal(trust.why(good), undefined);
    const first = parsed.mock.callCount();
    assert.ok(first > 0, 'the first connection is judged in full');
    assert.equal(trust.why(Buffer.from(good)), undefined);
    assert.equal(parsed.mock.callCount(), first, 'the same certificate again: not parsed');
    assert.match(trust.why(other)!, /does not name/, 'another certificate is judged');
    assert.match(trust.why(good, new Date(Date.now() + 8 * 86400_000))!, /not valid now/, 'no longer valid: judged again');
    assert.match(trust.why(Buffer.alloc(0))!, /unreadable/);
  });

  it('parseCas reads every certificate of a bundle and skips what is not one', () => {
    assert.equal(parseCas(read('root.crt') + read('other.crt')).length, 2);
    assert.equal(parseCas('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n').length, 0);
    assert.equal(parseCas('').length, 0);
  });
});

describe('the HTTPS agent', () => {
  /** An HTTPS server presenting `cert` (plus `chain`), recording the Authorization headers it receives and counting its TCP connections. */
  async function serve(cert: string, chain = ''): Promise<{ url: string; seen: string[]; connections: () => number; server: Server }> {
    const seen: string[] = [];
    let connections = 0;
    // SECLEVEL=0: the server may present what the client is to judge (a SHA-1 signature)
    const server = createServer({ cert: read(`${cert}.crt`) + chain, key: read(`${cert}.key`), ciphers: 'DEFAULT@SECLEVEL=0' }, (req, res) => {
      seen.push(String(req.headers.authorization));
      res.setHeader('Content-Type', 'application/json');
      res.end('{"kind":"Status","message":"hello"}');
    });
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, connections: () => connections, server };
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

  it('a chain OpenSSL rejects is code 7 at once, naming the server and the reason, and never sees the token; one it accepts goes through it', async (t) => {
    for (const c of CASES) {
      await t.test(c.name, async () => {
        const s = await serve(c.name);
        try {
          const r = await get(s.url, `${issuerOf(c)}.crt`);
          if (c.openssl === 'accepts') {
            assert.equal(r.status, 200, r.error?.message);
            assert.ok(r.log.some((l) => /^TLS: .*verifying the chain in full/.test(l)), r.log.join('\n'));
            return;
          }
          assert.deepEqual(s.seen, [], 'the server received a request');
          assert.equal(r.error?.code, 7, r.error?.message ?? `HTTP ${r.status}`);
          assert.ok(r.error!.message.startsWith(`Kubernetes API at ${s.url}: get x: the server's certificate was rejected (${c.openssl}`), r.error!.message);
          assert.doesNotMatch(r.error!.message, /secret/);
          // the fast path's handshake and OpenSSL's: no retry
          assert.equal(s.connections(), 2, 'connections');
        } finally {
          s.server.close();
        }
      });
    }
  });

  it('certificateRejection: Node\'s verification codes and marked errors, bounded; network errors are not', () => {
    const err = (code: string, message = 'x') => Object.assign(new Error(message), { code });
    assert.equal(certificateRejection(err('INVALID_PURPOSE', 'unsuitable certificate purpose')), 'INVALID_PURPOSE: unsuitable certificate purpose');
    for (const code of ['UNSPECIFIED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_HAS_EXPIRED', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'HOSTNAME_MISMATCH', 'EXCLUDED_VIOLATION', 'UNHANDLED_CRITICAL_EXTENSION', 'INVALID_CA', 'KEYUSAGE_NO_CERTSIGN']) {
      assert.ok(certificateRejection(err(code)), code);
    }
    for (const code of ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'ERR_SSL_WRONG_VERSION_NUMBER', '']) assert.equal(certificateRejection(err(code)), undefined, code);
    assert.match(certificateRejection(markCertificateRejection(err('ECONNRESET', 'a\nb')))!, /^ECONNRESET: a; b$/);
    assert.ok(certificateRejection(err('ERR_TLS_CERT_ALTNAME_INVALID', 'x'.repeat(100_000)))!.length <= 241);
    assert.equal(certificateRejection(undefined), undefined);
  });

  it('a connection opened ahead and refused is not handed on: a server back since then gets the next request, or the next connection opened ahead', async (t) => {
    // A free port, refusing connections until the server listens on it again.
    const s = await serve('good');
    const port = (s.server.address() as AddressInfo).port;
    await new Promise<void>((r) => s.server.close(() => r()));
    t.after(() => s.server.close());
    const creds = { server: s.url, ca: Buffer.from(read('root.crt')), rejectUnauthorized: true, authorization: 'Bearer secret' };
    const relisten = () => new Promise<void>((r) => s.server.listen(port, '127.0.0.1', r));
    const call = { method: 'GET', path: '/x', verb: 'get', resource: 'x' } as const;
    // The next request: a fresh connection, not the old refusal.
    const a = new ApiTransport(creds, 3000, () => {}, undefined, { refusedIsDown: true });
    t.after(() => a.close());
    assert.match((await a.preconnect()) ?? '', /unreachable: ECONNREFUSED/);
    await relisten();
    assert.equal((await a.send(call)).status, 200, 'not the refusal met before the server was back');
    assert.equal(s.connections(), 1);
    // A second connection opened ahead: made anew, and the request takes it.
    await new Promise<void>((r) => s.server.close(() => r()));
    const b = new ApiTransport(creds, 3000, () => {}, undefined, { refusedIsDown: true });
    t.after(() => b.close());
    assert.match((await b.preconnect()) ?? '', /unreachable: ECONNREFUSED/);
    await relisten();
    assert.equal(await b.preconnect(), undefined, 'connected');
    assert.equal(s.connections(), 2, 'the second preconnect connected');
    assert.equal((await b.send(call)).status, 200);
    assert.equal(s.connections(), 2, 'the request took that connection');
    assert.deepEqual(s.seen, ['Bearer secret', 'Bearer secret']);
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
