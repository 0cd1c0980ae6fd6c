// Decides whether an API server certificate is issued directly by the kubeconfig's CA for the host, in a profile whose every part is checked here: the fast path that spares Node's root store.
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { certificateFields, keyUsageBits, type CertificateFields } from './der';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const BASIC_CONSTRAINTS = '2.5.29.19';
const KEY_USAGE = '2.5.29.15';
const EXT_KEY_USAGE = '2.5.29.37';

/**
 * The only extensions the fast path accepts, and whether each may be critical. Each is one OpenSSL
 * supports and this module evaluates as OpenSSL does for a TLS server chain: basic constraints
 * (the CA must be one), key usage (certificate signing on the CA; digitalSignature or
 * keyEncipherment on the server), extended key usage (serverAuth, on either), the subject
 * alternative names (checked by tls.checkServerIdentity, as on the full path), and the key
 * identifiers (which OpenSSL does not support as critical; checkIssued matches them). Anything else
 * (name constraints, policies, Netscape cert types, proxy certificates, unknown extensions),
 * critical or not, sends the certificate to OpenSSL's full verification.
 */
const KNOWN: ReadonlyMap<string, { mayBeCritical: boolean }> = new Map([
  [BASIC_CONSTRAINTS, { mayBeCritical: true }],
  [KEY_USAGE, { mayBeCritical: true }],
  [EXT_KEY_USAGE, { mayBeCritical: true }],
  ['2.5.29.17', { mayBeCritical: true }], // subjectAltName
  ['2.5.29.14', { mayBeCritical: false }], // subjectKeyIdentifier
  ['2.5.29.35', { mayBeCritical: false }], // authorityKeyIdentifier
]);

/** KeyUsage bits as keyUsageBits() returns them: bit n of the certificate is 0x8000 >> n. */
const KU = { digitalSignature: 0x8000, keyEncipherment: 0x2000, keyCertSign: 0x0400 };

/**
 * Signature algorithms of the server certificate OpenSSL accepts at any security level up to 3
 * (SHA-1 and MD5 are refused from level 1; RSA-PSS carries parameters, so it is left to OpenSSL).
 */
const SIGNATURES = new Set([
  '1.2.840.113549.1.1.11', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12', // sha384WithRSAEncryption
  '1.2.840.113549.1.1.13', // sha512WithRSAEncryption
  '1.2.840.10045.4.3.2', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3', // ecdsa-with-SHA384
  '1.2.840.10045.4.3.4', // ecdsa-with-SHA512
  '1.3.101.112', // Ed25519
  '1.3.101.113', // Ed448
]);
const CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);

/** The CA certificates in a PEM bundle (as given by certificate-authority or its -data form). */
export function parseCas(pem: Buffer | string): X509Certificate[] {
  const blocks = String(pem).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const cas: X509Certificate[] = [];
  for (const b of blocks) {
    try {
      cas.push(new X509Certificate(b));
    } catch {
      // A block OpenSSL cannot read: the full verification decides (and reports it).
    }
  }
  return cas;
}

/**
 * Undefined when `leaf` (DER or PEM) is valid at `now`, names `host` (a DNS name, or an IP in its
 * IP SANs), allows server authentication, carries only extensions of KNOWN, and is signed by the one
 * certificate of `cas` that could have issued it: a valid, self-signed CA with the same profile.
 * Otherwise the first reason it is not: the caller then lets OpenSSL verify the chain in full, so
 * this never accepts anything OpenSSL would reject (at Node's default security level, or up to 2).
 */
export function notDirectlyTrusted(leaf: Buffer | string, cas: X509Certificate[], host: string, now = new Date()): string | undefined {
  const verdict = judge(leaf, cas, host, now);
  return typeof verdict === 'string' ? verdict : undefined;
}

/**
 * notDirectlyTrusted for the connections of one agent (the same CAs and host): a server certificate it
 * accepted is accepted again, the same DER, without being parsed again, while it and its CA are both
 * valid. Each of an ADD's parallel connections presents it: the first costs about 1.5 ms of X.509
 * work, the others a comparison.
 */
export class DirectTrust {
  /** The server certificate accepted last, and the time (epoch ms) in which it and its CA are both valid. */
  private accepted: { der: Buffer; from: number; to: number } | undefined;

  constructor(
    private readonly cas: X509Certificate[],
    private readonly host: string,
  ) {}

  /** notDirectlyTrusted(leaf, cas, host, now). */
  why(leaf: Buffer, now = new Date()): string | undefined {
    const a = this.accepted;
    const t = now.getTime();
    if (a && t >= a.from && t <= a.to && a.der.equals(leaf)) return undefined;
    const verdict = judge(leaf, this.cas, this.host, now);
    if (typeof verdict === 'string') return verdict;
    this.accepted = { der: Buffer.from(leaf), ...verdict };
    return undefined;
  }
}

/** notDirectlyTrusted's verdict: why not, or, accepted, the time (epoch ms) in which the certificate and its CA are both valid. */
function judge(leaf: Buffer | string, cas: X509Certificate[], host: string, now: Date): string | { from: number; to: number } {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(leaf);
  } catch (e) {
    return `unreadable server certificate: ${(e as Error).message}`;
  }
  if (!within(cert, now)) return 'the server certificate is not valid now';
  const named = isIP(host) ? cert.checkIP(host) : cert.checkHost(host, { subject: 'default', wildcards: true, partialWildcards: false, multiLabelWildcards: false });
  // The full path's own name check too, so that the two can never disagree.
  if (!named || checkServerIdentity(host, cert.toLegacyObject() as PeerCertificate) !== undefined) return `the server certificate does not name ${host}`;
  const leafWhy = profile(cert, 'server');
  if (leafWhy) return `the server certificate ${leafWhy}`;
  // A self-issued server certificate is OpenSSL's DEPTH_ZERO_SELF_SIGNED_CERT, even when pinned as the CA.
  if (sameName(cert.subject, cert.issuer) || cert.checkIssued(cert)) return 'the server certificate is self-issued';
  // OpenSSL takes the first CA of the bundle that looks like the issuer; with two, which is taken is its business.
  const candidates = cas.filter((ca) => sameName(ca.subject, cert.issuer) || cert.checkIssued(ca));
  if (candidates.length > 1) return 'more than one CA of the kubeconfig has its issuer name';
  const ca = candidates[0];
  if (!ca || !cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'the server certificate is not signed by a CA of the kubeconfig';
  if (!within(ca, now)) return 'the kubeconfig CA that signed it is not valid now';
  // Node 20 accepts no partial chain: the kubeconfig's CA must be the root.
  if (!ca.checkIssued(ca) || !ca.verify(ca.publicKey)) return 'the kubeconfig CA that signed it is not a self-signed root';
  const caWhy = profile(ca, 'ca');
  if (caWhy) return `the kubeconfig CA that signed it ${caWhy}`;
  return { from: Math.max(Date.parse(cert.validFrom), Date.parse(ca.validFrom)), to: Math.min(Date.parse(cert.validTo), Date.parse(ca.validTo)) };
}

/** Why `c` is outside the profile the fast path evaluates, as a server certificate or as its CA; undefined when inside. */
function profile(c: X509Certificate, role: 'server' | 'ca'): string | undefined {
  const f: CertificateFields | undefined = certificateFields(c.raw);
  if (!f) return 'is not DER this module reads';
  if (f.version !== 3) return `is an X.509 v${f.version} certificate`;
  const seen = new Set<string>();
  for (const e of f.extensions) {
    const known = KNOWN.get(e.oid);
    if (!known) return `has extension ${e.oid}${e.critical ? ' (critical)' : ''}, which only OpenSSL evaluates`;
    if (e.critical && !known.mayBeCritical) return `has extension ${e.oid} marked critical`;
    if (seen.has(e.oid)) return `has extension ${e.oid} twice`;
    seen.add(e.oid);
  }
  if (!strongKey(c)) return 'has a key type or size left to OpenSSL';
  const ku = f.extensions.find((e) => e.oid === KEY_USAGE);
  const bits = ku ? keyUsageBits(ku.value) : undefined;
  if (ku && bits === undefined) return 'has a key usage this module cannot read';
  const eku = c.keyUsage;
  if (seen.has(EXT_KEY_USAGE) !== (eku !== undefined && eku.length > 0)) return 'has an extended key usage this module cannot read';
  // anyExtendedKeyUsage alone is not enough: OpenSSL wants serverAuth (or a Netscape/Microsoft SGC purpose, left to it).
  if (eku && !eku.includes(SERVER_AUTH)) return 'does not allow server authentication';
  if (role === 'server') {
    if (bits !== undefined && !(bits & (KU.digitalSignature | KU.keyEncipherment))) return 'has a key usage without digitalSignature or keyEncipherment';
    if (f.signatureAlgorithm !== f.tbsSignatureAlgorithm || !SIGNATURES.has(f.signatureAlgorithm)) return `is signed with algorithm ${f.signatureAlgorithm}, left to OpenSSL`;
    return undefined;
  }
  if (!seen.has(BASIC_CONSTRAINTS) || !c.ca) return 'is not a CA (basic constraints)';
  if (bits !== undefined && !(bits & KU.keyCertSign)) return 'has a key usage without keyCertSign';
  return undefined;
}

/** RSA of 2048 bits or more, the P-256/384/521 curves, Ed25519 and Ed448: what every security level up to 2 accepts. */
function strongKey(c: X509Certificate): boolean {
  const key = c.publicKey;
  const d = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return (d.modulusLength ?? 0) >= 2048 && (d.modulusLength ?? 0) <= 16384;
    case 'ec':
      return CURVES.has(d.namedCurve ?? '');
    case 'ed25519':
    case 'ed448':
      return true;
    default:
      return false;
  }
}

/** Distinguished names compared loosely (case and runs of white space ignored): a superset of OpenSSL's canonical match. */
function sameName(a: string, b: string): boolean {
  const norm = (s: string) => s.toLowerCase().replace(/\s+/g, ' ').trim();
  return norm(a) === norm(b);
}

function within(c: X509Certificate, now: Date): boolean {
  return now >= new Date(c.validFrom) && now <= new Date(c.validTo);
}
