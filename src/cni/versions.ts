// CNI spec versions: the supported list, comparison, and the VERSION verb's answer.
import { CniError, Code, quote } from './errors';

export const SUPPORTED_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export const LATEST_VERSION = '1.1.0';

/** Compares two dotted versions numerically: negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function isSupported(v: string): boolean {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** Throws code 1 unless `v` is a version macmux speaks; `what` names where it came from. */
export function requireSupported(v: string, what: string): string {
  if (!isSupported(v)) {
    throw new CniError(
      Code.IncompatibleVersion,
      `${what}: unsupported cniVersion ${quote(v)}`,
      `supported: ${SUPPORTED_VERSIONS.join(', ')}`,
    );
  }
  return v;
}

/** The VERSION verb's answer: echoes the input version, or the newest one. */
export function versionInfo(cniVersion: string | undefined): Record<string, unknown> {
  return { cniVersion: cniVersion || LATEST_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] };
}
