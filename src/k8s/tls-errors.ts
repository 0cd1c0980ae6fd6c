// Which transport errors are the API server's certificate being rejected: a kubeconfig (or server) problem that no retry can fix.
import { oneLine } from '../cni/errors';

/**
 * The codes Node 20 gives OpenSSL's verification results (the rest arrive as UNSPECIFIED, with
 * OpenSSL's text as the message), its own name check's, and OpenSSL's names of the rest, for Node
 * versions that map more of them.
 */
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_CRL', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE', 'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', 'CERT_SIGNATURE_FAILURE', 'CRL_SIGNATURE_FAILURE', 'CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID', 'CRL_HAS_EXPIRED', 'ERROR_IN_CERT_NOT_BEFORE_FIELD', 'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD', 'ERROR_IN_CRL_NEXT_UPDATE_FIELD', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_CHAIN_TOO_LONG', 'CERT_REVOKED', 'INVALID_CA',
  'PATH_LENGTH_EXCEEDED', 'INVALID_PURPOSE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'HOSTNAME_MISMATCH', 'UNSPECIFIED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'SUBJECT_ISSUER_MISMATCH', 'AKID_SKID_MISMATCH', 'AKID_ISSUER_SERIAL_MISMATCH', 'KEYUSAGE_NO_CERTSIGN', 'KEYUSAGE_NO_DIGITAL_SIGNATURE',
  'UNHANDLED_CRITICAL_EXTENSION', 'INVALID_NON_CA', 'INVALID_EXTENSION', 'INVALID_POLICY_EXTENSION', 'NO_EXPLICIT_POLICY',
  'PERMITTED_VIOLATION', 'EXCLUDED_VIOLATION', 'PERMITTED_SUBTREE_VIOLATION', 'EXCLUDED_SUBTREE_VIOLATION', 'SUBTREE_MINMAX',
  'UNSUPPORTED_CONSTRAINT_TYPE', 'UNSUPPORTED_CONSTRAINT_SYNTAX', 'UNSUPPORTED_NAME_SYNTAX', 'NAME_CONSTRAINTS_WITHOUT_SANS',
  'EMAIL_MISMATCH', 'IP_ADDRESS_MISMATCH', 'EE_KEY_TOO_SMALL', 'CA_KEY_TOO_SMALL', 'CA_MD_TOO_WEAK',
  'PROXY_PATH_LENGTH_EXCEEDED', 'PROXY_CERTIFICATES_NOT_ALLOWED', 'PROXY_SUBJECT_NAME_VIOLATION', 'EC_KEY_EXPLICIT_PARAMS',
  'CA_BCONS_NOT_CRITICAL', 'CA_CERT_MISSING_KEY_USAGE', 'EXTENSIONS_REQUIRE_VERSION_3', 'MISSING_AUTHORITY_KEY_IDENTIFIER',
  'MISSING_SUBJECT_KEY_IDENTIFIER', 'EMPTY_SUBJECT_ALT_NAME', 'EMPTY_SUBJECT_NAME', 'ISSUER_NAME_EMPTY', 'KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA',
  'PATHLEN_INVALID_FOR_NON_CA', 'PATHLEN_WITHOUT_KU_KEY_CERT_SIGN', 'SIGNATURE_ALGORITHM_MISMATCH', 'SIGNATURE_ALGORITHM_INCONSISTENCY',
  'INVALID_CERTIFICATE', 'NO_ISSUER_PUBLIC_KEY', 'DIFFERENT_CRL_SCOPE', 'UNSUPPORTED_EXTENSION_FEATURE',
]);

/** Marks `e` as the rejection of the server's certificate by the full verification (the CA agent knows it from the socket). */
export function markCertificateRejection(e: Error): Error {
  return Object.assign(e, { certificateRejected: true });
}

/**
 * "CODE: reason" when `e` is the server's certificate being rejected, bounded and on one line;
 * otherwise undefined. Such errors carry no request data: they happen before any byte is sent.
 */
export function certificateRejection(e: unknown): string | undefined {
  const err = e as NodeJS.ErrnoException & { certificateRejected?: boolean };
  const code = typeof err?.code === 'string' ? err.code : '';
  if (err?.certificateRejected !== true && !CERTIFICATE_CODES.has(code)) return undefined;
  const text = `${code ? `${code}: ` : ''}${oneLine(String(err?.message ?? '').slice(0, 1000))}`;
  return text.length > 240 ? `${text.slice(0, 240)}…` : text;
}
