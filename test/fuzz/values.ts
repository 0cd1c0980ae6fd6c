// Malformed building blocks shared by the generators: wrong-typed values, huge and deeply nested ones, bad names, MACs and devices.
import type { Rng } from './rng';

export type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array';

const SAMPLES: Array<[JsonType[], unknown]> = [
  [['string'], 'x'],
  [['string'], '1.0.0'],
  [['number', 'integer'], 42],
  [['number', 'integer'], 0],
  [['number'], -2.5],
  [['boolean'], true],
  [['boolean'], false],
  [[], null],
  [['array'], []],
  [['array'], ['a', 1]],
  [['object'], {}],
  [['object'], { a: 1 }],
];

/** A JSON value whose type is not `expected`; null among them unless `noNull` (where null means "not given"). */
export function wrongType(rng: Rng, expected: JsonType, noNull = false): unknown {
  const options = SAMPLES.filter(([types, v]) => !types.includes(expected) && !(noNull && v === null)).map(([, v]) => v);
  return structuredClone(rng.pick(options));
}

export const MIB = 1 << 20;

/** A string of about 1 MiB (at least `min` characters). */
export function hugeString(rng: Rng, min = MIB): string {
  const unit = rng.pick(['a', 'Z9', '-', 'ab.', '\u00e9', ' ']);
  return unit.repeat(Math.ceil((min + rng.int(0, 4096)) / unit.length));
}

/** Huge or tiny numbers that no bounded field accepts. */
export const HUGE_NUMBERS = [1e308, -1e308, 1.7976931348623157e308, -5e300, 9007199254740993, 1e21];

/** JSON text nested `depth` levels deep (arrays or objects). */
export function deepJson(rng: Rng, depth: number): string {
  if (rng.chance(0.5)) return '['.repeat(depth) + ']'.repeat(depth);
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** Values that are not DNS-1123 labels (Kubernetes names of namespaces and NADs). */
export function badLabel(rng: Rng): string {
  const base = rng.pick(['green', 'net', 'a1', 'blue-2']);
  return rng.pick([
    () => base.toUpperCase(),
    () => `${base}_x`,
    () => `-${base}`,
    () => `${base}-`,
    () => `${base}.${base}`,
    () => `${base} x`,
    () => 'a'.repeat(rng.int(64, 300)),
    () => `${base}\u00e9`,
    () => `${base}!`,
    () => `${base}*`,
    () => `${base}%2f`,
    () => '..',
    () => `${base}\tx`,
  ])();
}

/** Strings that are not a 6-octet unicast MAC, with why; `syntaxOnly` leaves out well-formed multicast, broadcast and all-zero ones. */
export function badMac(rng: Rng, syntaxOnly = false): { mac: string; why: string } {
  if (syntaxOnly) {
    for (;;) {
      const bad = badMac(rng);
      if (!['multicast', 'broadcast', 'all-zero'].includes(bad.why)) return bad;
    }
  }
  const hex = () => rng.chars(2, '0123456789abcdef');
  const uni = () => rng.pick(['02', '0a', '12', 'fe', '00', '3e']);
  const rest = (n: number, sep = ':') => Array.from({ length: n }, hex).join(sep);
  return rng.pick([
    () => ({ mac: `${uni()}:${rest(7)}`, why: 'EUI-64 (8 octets)' }),
    () => ({ mac: `${uni()}-${rest(7, '-')}`, why: 'EUI-64 with dashes' }),
    () => ({ mac: `${rng.pick(['01', '03', '33', 'ff', '0f', 'a1'])}:${rest(5)}`, why: 'multicast' }),
    () => ({ mac: 'ff:ff:ff:ff:ff:ff', why: 'broadcast' }),
    () => ({ mac: '00:00:00:00:00:00', why: 'all-zero' }),
    () => ({ mac: `${uni()}:${rest(3)}:${rng.pick(['zz', 'g1', 'x0', '-1', ' 1'])}:${hex()}`, why: 'non-hex octet' }),
    () => ({ mac: `${uni()}.${rest(5, '.')}`, why: 'dot separators' }),
    () => ({ mac: `${uni()}${rest(5, '')}`, why: 'no separators' }),
    () => ({ mac: `${uni()}${hex()}.${hex()}${hex()}.${hex()}${hex()}`, why: 'Cisco dotted form' }),
    () => ({ mac: `${uni()}:${hex()}-${rest(4)}`, why: 'mixed separators' }),
    () => ({ mac: `${uni()}:${rest(4)}`, why: '5 octets' }),
    () => ({ mac: `${uni()}:${rest(5)}:`, why: 'trailing separator' }),
    () => ({ mac: ` ${uni()}:${rest(5)}`, why: 'leading space' }),
    () => ({ mac: `${uni()}::${rest(4)}`, why: 'empty octet' }),
    () => ({ mac: `${uni()}:${rest(4)}:${rng.pick(['1', '123'])}`, why: 'octet of the wrong width' }),
  ])();
}

/** Interface names Linux refuses, with why. */
export function badIfName(rng: Rng): { name: string; why: string } {
  return rng.pick([
    () => ({ name: `net${rng.chars(rng.int(13, 40), 'abcdef0123456789')}`, why: 'longer than 15 characters' }),
    () => ({ name: '\u00e9'.repeat(rng.int(8, 12)), why: 'longer than 15 bytes' }),
    () => ({ name: `net/${rng.chars(3, 'abc')}`, why: 'contains "/"' }),
    () => ({ name: `net:${rng.chars(2, '01')}`, why: 'contains ":"' }),
    () => ({ name: `net ${rng.chars(2, 'ab')}`, why: 'contains a space' }),
    () => ({ name: `net\t1`, why: 'contains a tab' }),
    () => ({ name: rng.pick(['.', '..']), why: 'is "." or ".."' }),
  ])();
}
