// Unit tests for src/k8s/der.ts: the certificate fields and extension list of openssl-made certificates, and malformed DER refused without throwing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certificateFields, element, keyUsageBits, oidText } from '../../src/k8s/der';

const dir = mkdtempSync(join(tmpdir(), 'macmux-der-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
const der = (f: string) => new X509Certificate(readFileSync(join(dir, f))).raw;
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** A DER element of `tag` around `parts` (lengths up to 65535). */
function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const len = body.length < 0x80 ? [body.length] : body.length < 0x100 ? [0x81, body.length] : [0x82, body.length >> 8, body.length & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), body]);
}

before(() => {
  openssl(['req', '-config', '/dev/null', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '7', '-subj', '/CN=ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-addext', 'nameConstraints=critical,permitted;DNS:example.com', '-addext', '1.2.3.4.5.6.7.8.9.1000000=ASN1:NULL']);
  openssl(['req', '-config', '/dev/null', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=leaf']);
  writeFileSync(join(dir, 'leaf.ext'), 'subjectAltName=DNS:example.com\nkeyUsage=digitalSignature,keyEncipherment\n');
  openssl(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '7', '-days', '7', '-extfile', 'leaf.ext', '-sha384', '-out', 'leaf.crt']);
  // no -extfile and no -copy_extensions: a certificate without extensions
  openssl(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '8', '-days', '7', '-out', 'bare.crt']);
});

describe('certificateFields', () => {
  it('reads the version, both signature algorithms and every extension with its critical flag, in order', () => {
    const ca = certificateFields(der('ca.crt'))!;
    assert.equal(ca.version, 3);
    assert.equal(ca.signatureAlgorithm, '1.2.840.10045.4.3.2');
    assert.equal(ca.tbsSignatureAlgorithm, ca.signatureAlgorithm);
    assert.deepEqual(ca.extensions.map((e) => [e.oid, e.critical]), [
      ['2.5.29.19', true],
      ['2.5.29.15', true],
      ['2.5.29.30', true],
      ['1.2.3.4.5.6.7.8.9.1000000', false],
      ['2.5.29.14', false],
    ]);
    assert.equal(keyUsageBits(ca.extensions[1]!.value), 0x0400);
    assert.deepEqual(ca.extensions[3]!.value, hex('0500'));
    const leaf = certificateFields(der('leaf.crt'))!;
    assert.equal(leaf.signatureAlgorithm, '1.2.840.10045.4.3.3');
    assert.deepEqual(leaf.extensions.map((e) => e.oid), ['2.5.29.17', '2.5.29.15', '2.5.29.14', '2.5.29.35']);
    assert.equal(keyUsageBits(leaf.extensions[1]!.value), 0x8000 | 0x2000);
    const bare = certificateFields(der('bare.crt'))!;
    assert.deepEqual(bare.extensions, []);
  });

  it('refuses truncations, trailing bytes, indefinite or overlong lengths, multi-byte tags and non-DER flags, without throwing', () => {
    const good = der('leaf.crt');
    for (let n = 0; n < good.length; n++) assert.equal(certificateFields(good.subarray(0, n)), undefined, `truncated to ${n}`);
    assert.equal(certificateFields(Buffer.concat([good, Buffer.from([0])])), undefined);
    // the outer length in 3 bytes instead of 2 (0x82 → 0x83 00 ...)
    assert.equal(certificateFields(Buffer.concat([Buffer.from([0x30, 0x83, 0x00]), good.subarray(2)])), undefined);
    assert.throws(() => element(hex('3080 0000'), 0, 4), /indefinite/);
    assert.throws(() => element(hex('30 81 05 0000000000'), 0, 8), /shortest form/);
    assert.throws(() => element(hex('1f 01 00'), 0, 3), /multi-byte tag/);
    assert.throws(() => element(hex('30 05 00'), 0, 3), /overrun/);
    assert.throws(() => element(hex('30 85 0000000001 00'), 0, 8), /oversized/);
    // An Extension with critical explicitly FALSE (DER omits the default), or a BOOLEAN not 0xff
    const ext = (crit: Buffer) => tlv(0x30, tlv(0x06, hex('551d13')), crit, tlv(0x04, hex('3000')));
    const withExt = (e: Buffer) => {
      const alg = tlv(0x30, tlv(0x06, hex('2a8648ce3d040302')));
      const tbs = tlv(0x30, tlv(0xa0, tlv(0x02, hex('02'))), tlv(0x02, hex('01')), alg, tlv(0x30), tlv(0x30), tlv(0x30), tlv(0x30), tlv(0xa3, tlv(0x30, e)));
      return tlv(0x30, tbs, alg, tlv(0x03, hex('00')));
    };
    assert.deepEqual(certificateFields(withExt(ext(tlv(0x01, hex('ff')))))?.extensions.map((e) => [e.oid, e.critical]), [['2.5.29.19', true]]);
    assert.equal(certificateFields(withExt(ext(tlv(0x01, hex('00'))))), undefined);
    assert.equal(certificateFields(withExt(ext(tlv(0x01, hex('01'))))), undefined);
    assert.equal(certificateFields(withExt(Buffer.alloc(0))), undefined, 'an empty extension list');
  });

  it('never throws on corrupted certificates, and stops at 64 extensions', () => {
    const good = der('ca.crt');
    let seed = 12345;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.from(good);
      for (let k = 0; k <= i % 4; k++) b[rand() % b.length] = rand() & 0xff;
      certificateFields(b);
    }
    const one = tlv(0x30, tlv(0x06, hex('2a03')), tlv(0x04, hex('0500')));
    const many = (n: number) => {
      const alg = tlv(0x30, tlv(0x06, hex('2a8648ce3d040302')));
      const tbs = tlv(0x30, tlv(0xa0, tlv(0x02, hex('02'))), tlv(0x02, hex('01')), alg, tlv(0x30), tlv(0x30), tlv(0x30), tlv(0x30), tlv(0xa3, tlv(0x30, ...Array<Buffer>(n).fill(one))));
      return tlv(0x30, tbs, alg, tlv(0x03, hex('00')));
    };
    assert.equal(certificateFields(many(64))?.extensions.length, 64);
    assert.equal(certificateFields(many(65)), undefined);
  });
});

describe('oidText and keyUsageBits', () => {
  it('decodes OIDs, refusing non-minimal and oversized arcs', () => {
    assert.equal(oidText(hex('2a864886f70d01010b')), '1.2.840.113549.1.1.11');
    assert.equal(oidText(hex('551d13')), '2.5.29.19');
    assert.equal(oidText(hex('8837')), '2.999');
    assert.equal(oidText(hex('00')), '0.0');
    assert.throws(() => oidText(hex('2a8001')), /shortest form/);
    assert.throws(() => oidText(hex('2a86')), /bad OID/);
    assert.throws(() => oidText(hex('')), /bad OID/);
    assert.throws(() => oidText(hex('2a ffffffffffffffff7f')), /too large/);
  });

  it('reads KeyUsage bits as OpenSSL does, unused bits masked, and refuses malformed ones', () => {
    assert.equal(keyUsageBits(hex('030205a0')), 0xa000); // digitalSignature, keyEncipherment
    assert.equal(keyUsageBits(hex('03020204')), 0x0400); // keyCertSign
    assert.equal(keyUsageBits(hex('030207ff')), 0x8000); // 7 unused bits masked off
    assert.equal(keyUsageBits(hex('0303078080')), 0x8080); // decipherOnly, bit 8
    assert.equal(keyUsageBits(hex('030100')), 0);
    for (const bad of ['030101', '03020800', '030400808080', '04020204', '0302020400', '']) {
      assert.equal(keyUsageBits(hex(bad)), undefined, bad);
    }
  });
});
