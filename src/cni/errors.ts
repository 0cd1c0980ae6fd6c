// The one error type of macmux: a CNI error with its spec code, printed as the spec's error JSON.
import { redact } from '../util/secrets';

/** Error codes from the CNI spec, plus macmux's own (100 and above). */
export const Code = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnv: 4,
  IO: 5,
  Decode: 6,
  InvalidConfig: 7,
  TryAgainLater: 11,
  PluginNotAvailable: 50,
  PluginLimitedConnectivity: 51,
  MacConflict: 100,
  PoolExhausted: 101,
  ApiRefused: 102,
  MacNotApplied: 103,
  Internal: 999,
} as const;

export class CniError extends Error {
  readonly code: number;
  readonly details: string;

  constructor(code: number, msg: string, details = '') {
    super(msg);
    this.name = 'CniError';
    this.code = code;
    this.details = details;
  }

  /** The spec's error object, secrets redacted (it reaches the pod's events); `cniVersion` is the version the result is printed in. */
  toJSON(cniVersion: string): Record<string, unknown> {
    const out: Record<string, unknown> = { cniVersion, code: this.code, msg: redact(this.message) };
    if (this.details) out.details = redact(this.details);
    return out;
  }
}

/** Turns anything thrown into a CniError, wrapping only what is not one already. */
export function asCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new CniError(Code.Internal, oneLine(msg));
}

/** Collapses a message to one line so no stack-like text reaches stdout. */
export function oneLine(s: string): string {
  // Split, not /\s*[\r\n]+\s*/: that regex backtracks quadratically over a long run of spaces (a 1 MiB one hangs for minutes).
  return s
    .trim()
    .split(/[\r\n]/)
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .join('; ');
}

/** A value from the input, quoted for a message: JSON-escaped (one line) and cut after `max` characters. */
export function quote(value: string, max = 80): string {
  return value.length > max ? `${JSON.stringify(value.slice(0, max))}... (${value.length} characters)` : JSON.stringify(value);
}
