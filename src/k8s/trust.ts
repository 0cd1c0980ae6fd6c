// Decides whether an API server certificate is issued directly by the kubeconfig's CA for the host: the fast path that spares Node's root store.
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const ANY_EKU = '2.5.29.37.0';

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
 * IP SANs), allows server authentication, and is signed by one of `cas` (itself valid and a CA, or
 * the very certificate pinned as the CA). Otherwise the first reason it is not: the caller then
 * lets OpenSSL verify the chain in full, so this never rejects anything OpenSSL would accept.
 */
export function notDirectlyTrusted(leaf: Buffer | string, cas: X509Certificate[], host: string, now = new Date()): string | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(leaf);
  } catch (e) {
    return `unreadable server certificate: ${(e as Error).message}`;
  }
  if (!within(cert, now)) return 'the server certificate is not valid now';
  const named = isIP(host) ? cert.checkIP(host) : cert.checkHost(host, { subject: 'default', wildcards: true, partialWildcards: false, multiLabelWildcards: false });
  if (!named) return `the server certificate does not name ${host}`;
  const eku = cert.keyUsage;
  if (eku && eku.length > 0 && !eku.includes(SERVER_AUTH) && !eku.includes(ANY_EKU)) return 'the server certificate does not allow server authentication';
  const issuer = cas.find((ca) => within(ca, now) && (ca.ca || ca.raw.equals(cert.raw)) && cert.checkIssued(ca) && cert.verify(ca.publicKey));
  return issuer ? undefined : 'the server certificate is not signed by a CA of the kubeconfig';
}

function within(c: X509Certificate, now: Date): boolean {
  return now >= new Date(c.validFrom) && now <= new Date(c.validTo);
}
