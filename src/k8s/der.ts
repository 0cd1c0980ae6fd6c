// A small, bounded DER reader for X.509 certificates: the version, the signature algorithms and the extension list (OIDs, critical flags, values).

/** One extension of a certificate, undecoded. */
export interface Extension {
  /** dotted OID, e.g. 2.5.29.19 */
  oid: string;
  critical: boolean;
  /** the DER inside extnValue's OCTET STRING */
  value: Buffer;
}

export interface CertificateFields {
  /** 1, 2 or 3 */
  version: number;
  /** the algorithm OID inside tbsCertificate, and the outer one; X.509 requires them equal */
  tbsSignatureAlgorithm: string;
  signatureAlgorithm: string;
  extensions: Extension[];
}

/** A DER element: its tag byte and where its contents lie in the buffer. */
export interface Element {
  tag: number;
  /** first byte of the contents */
  start: number;
  /** one past the last byte of the contents */
  end: number;
}

/** More extensions than any real certificate carries: the walk stops there rather than iterate without bound. */
const MAX_EXTENSIONS = 64;

class Malformed extends Error {}

/**
 * The element at `at`, which must end by `limit`. Only single-byte tags and definite lengths of at
 * most 4 bytes, in their shortest form (DER): anything else is malformed.
 */
export function element(buf: Buffer, at: number, limit: number): Element {
  if (limit > buf.length || at + 2 > limit) throw new Malformed('truncated');
  const tag = buf[at]!;
  if ((tag & 0x1f) === 0x1f) throw new Malformed('multi-byte tag');
  let len = buf[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Malformed('indefinite or oversized length');
    if (start + n > limit) throw new Malformed('truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    if (len < 0x80 || buf[start]! === 0) throw new Malformed('length not in its shortest form');
    start += n;
  }
  if (start + len > limit) throw new Malformed('contents overrun');
  return { tag, start, end: start + len };
}

/** The children of a constructed element, in order. */
function children(buf: Buffer, parent: Element, max = Infinity): Element[] {
  const out: Element[] = [];
  for (let at = parent.start; at < parent.end; ) {
    if (out.length >= max) throw new Malformed('too many elements');
    const e = element(buf, at, parent.end);
    out.push(e);
    at = e.end;
  }
  return out;
}

function expect(e: Element | undefined, tag: number, what: string): Element {
  if (!e || e.tag !== tag) throw new Malformed(`expected ${what}`);
  return e;
}

const SEQUENCE = 0x30;
const OID = 0x06;
const BOOLEAN = 0x01;
const INTEGER = 0x02;
const OCTET_STRING = 0x04;
const BIT_STRING = 0x03;

/** The dotted form of an OBJECT IDENTIFIER's contents; arcs above 2^53 are refused. */
export function oidText(bytes: Buffer): string {
  if (bytes.length === 0 || bytes[bytes.length - 1]! & 0x80) throw new Malformed('bad OID');
  const arcs: number[] = [];
  let v = 0;
  let first = true;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (v === 0 && b === 0x80) throw new Malformed('OID arc not in its shortest form');
    v = v * 128 + (b & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER) throw new Malformed('OID arc too large');
    if (b & 0x80) continue;
    if (first) {
      arcs.push(v < 40 ? 0 : v < 80 ? 1 : 2, v < 80 ? v % 40 : v - 80);
      first = false;
    } else arcs.push(v);
    v = 0;
  }
  return arcs.join('.');
}

/** The OID of an AlgorithmIdentifier (its parameters are not read). */
function algorithm(buf: Buffer, e: Element | undefined): string {
  const seq = expect(e, SEQUENCE, 'AlgorithmIdentifier');
  const oid = expect(element(buf, seq.start, seq.end), OID, 'algorithm OID');
  return oidText(buf.subarray(oid.start, oid.end));
}

/** The fields above from a DER certificate, or undefined when it is not well-formed DER of that shape. */
export function certificateFields(der: Buffer): CertificateFields | undefined {
  try {
    const cert = expect(element(der, 0, der.length), SEQUENCE, 'Certificate');
    if (cert.end !== der.length) throw new Malformed('trailing bytes');
    const [tbs, outerAlg, sig, ...rest] = children(der, cert, 4);
    if (rest.length > 0) throw new Malformed('extra fields');
    expect(sig, BIT_STRING, 'signature');
    const signatureAlgorithm = algorithm(der, outerAlg);
    const fields = children(der, expect(tbs, SEQUENCE, 'TBSCertificate'), 10);
    let i = 0;
    let version = 1;
    if (fields[0]?.tag === 0xa0) {
      const v = expect(element(der, fields[0].start, fields[0].end), INTEGER, 'version');
      if (v.end - v.start !== 1 || v.end !== fields[0].end || der[v.start]! > 2) throw new Malformed('bad version');
      version = der[v.start]! + 1;
      i = 1;
    }
    expect(fields[i], INTEGER, 'serialNumber');
    const tbsSignatureAlgorithm = algorithm(der, fields[i + 1]);
    // issuer, validity, subject, subjectPublicKeyInfo
    for (let k = 2; k <= 5; k++) expect(fields[i + k], SEQUENCE, 'TBSCertificate field');
    const optional = fields.slice(i + 6);
    let last = 0;
    const extensions: Extension[] = [];
    for (const f of optional) {
      // [1] issuerUniqueID, [2] subjectUniqueID (primitive or constructed), [3] extensions, in that order
      const n = f.tag & 0x1f;
      if ((f.tag & 0xc0) !== 0x80 || n < 1 || n > 3 || n <= last) throw new Malformed('unexpected TBSCertificate field');
      last = n;
      if (n === 3) extensions.push(...readExtensions(der, f));
    }
    if (last === 3 && version !== 3) throw new Malformed('extensions in a certificate before v3');
    return { version, tbsSignatureAlgorithm, signatureAlgorithm, extensions };
  } catch (e) {
    if (e instanceof Malformed) return undefined;
    throw e;
  }
}

function readExtensions(der: Buffer, wrapper: Element): Extension[] {
  if (wrapper.tag !== 0xa3) throw new Malformed('extensions not constructed');
  const list = expect(element(der, wrapper.start, wrapper.end), SEQUENCE, 'Extensions');
  if (list.end !== wrapper.end) throw new Malformed('trailing bytes after extensions');
  const out: Extension[] = [];
  for (const ext of children(der, list, MAX_EXTENSIONS)) {
    const parts = children(der, expect(ext, SEQUENCE, 'Extension'), 3);
    const oid = expect(parts[0], OID, 'extnID');
    let critical = false;
    let k = 1;
    if (parts[1]?.tag === BOOLEAN) {
      // DER: the default (FALSE) is never encoded, TRUE is 0xff
      if (parts[1].end - parts[1].start !== 1 || der[parts[1].start] !== 0xff) throw new Malformed('bad critical flag');
      critical = true;
      k = 2;
    }
    const value = expect(parts[k], OCTET_STRING, 'extnValue');
    if (parts.length !== k + 1) throw new Malformed('extra Extension fields');
    out.push({ oid: oidText(der.subarray(oid.start, oid.end)), critical, value: der.subarray(value.start, value.end) });
  }
  if (out.length === 0) throw new Malformed('empty extensions');
  return out;
}

/**
 * The bits of a KeyUsage extension's value (a BIT STRING) as a number: bit 0 (digitalSignature) is
 * the most significant bit of the first byte, as in the certificate; undefined when malformed.
 */
export function keyUsageBits(value: Buffer): number | undefined {
  try {
    const bits = expect(element(value, 0, value.length), BIT_STRING, 'KeyUsage');
    if (bits.end !== value.length || bits.end === bits.start) throw new Malformed('bad KeyUsage');
    const unused = value[bits.start]!;
    const bytes = value.subarray(bits.start + 1, bits.end);
    if (unused > 7 || (bytes.length === 0 && unused !== 0) || bytes.length > 2) throw new Malformed('bad KeyUsage');
    // Bits 0-8 fit in two bytes; OpenSSL reads the same two (the unused ones masked off).
    const byte = (k: number) => (k >= bytes.length ? 0 : k === bytes.length - 1 ? bytes[k]! & ((0xff << unused) & 0xff) : bytes[k]!);
    return (byte(0) << 8) | byte(1);
  } catch (e) {
    if (e instanceof Malformed) return undefined;
    throw e;
  }
}
