// Parses a JSON object from stdin or a plugin's output: code 6 when it is not one, or nests too deep (pure).
import { CniError, Code } from './errors';
import { jsonSyntaxError } from '../util/parse-errors';

/** The deepest nesting macmux accepts in JSON it reads (configs use fewer than 10 levels; Go's encoding/json stops at 10000). */
export const MAX_JSON_DEPTH = 512;

/**
 * True when `v` nests arrays and objects more than `limit` levels deep. Iterative: JSON.parse takes any
 * depth, but JSON.stringify (the cache, delegates' stdin) overflows the stack on a few thousand levels.
 */
export function nestedDeeperThan(v: unknown, limit: number = MAX_JSON_DEPTH): boolean {
  const stack: Array<[unknown, number]> = [[v, 1]];
  while (stack.length > 0) {
    const [x, depth] = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    if (depth > limit) return true;
    for (const child of Object.values(x)) stack.push([child, depth + 1]);
  }
  return false;
}

/** Parses stdin bytes as JSON: code 6 when it is not JSON, not an object, or nested too deep. */
export function parseJson(text: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CniError(Code.Decode, `${what} is not valid JSON: ${jsonSyntaxError(e, text)}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new CniError(Code.Decode, `${what} is not a JSON object`);
  }
  if (nestedDeeperThan(v)) throw new CniError(Code.Decode, `${what} is nested deeper than ${MAX_JSON_DEPTH} levels`);
  return v as Record<string, unknown>;
}
