// Parses a JSON object from stdin or a plugin's output: code 6 when it is not one (pure).
import { CniError, Code } from './errors';

/** Parses stdin bytes as JSON: code 6 when it is not JSON or not an object. */
export function parseJson(text: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CniError(Code.Decode, `${what} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new CniError(Code.Decode, `${what} is not a JSON object`);
  }
  return v as Record<string, unknown>;
}
