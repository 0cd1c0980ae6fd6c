// Malformed CNI_ARGS: pairs without "=", empty keys, duplicated keys, bad K8S_POD_* values, huge ones. ADD refuses them (code 4); the same DEL succeeds.
import { Rng } from './rng';
import { baseConf, cniEnv, containerIdOf } from './base';
import type { CaseBody, Frame } from './types';
import { badLabel } from './values';

type Pairs = Array<[string, string]>;

/** The runtime's pairs for the worker's base pod, in kubelet's order. */
function podPairs(f: Frame, cid: string): Pairs {
  return [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAMESPACE', 'fuzz'],
    ['K8S_POD_NAME', f.basePod.name],
    ['K8S_POD_INFRA_CONTAINER_ID', cid],
    ['K8S_POD_UID', f.basePod.uid],
  ];
}

const join = (pairs: Pairs) => pairs.map(([k, v]) => `${k}=${v}`).join(';');
/** A copy of `items` with `item` inserted at `at`. */
const insertAt = <T>(items: T[], at: number, item: T): T[] => [...items.slice(0, at), item, ...items.slice(at)];

/** A change to the runtime's args: the pairs (or raw text) after it, what it broke and what the error must name. */
interface Breakage {
  what: string;
  mention: string[];
  apply(pairs: Pairs, r: Rng): string;
}

const BAD_POD_NAMES = ['../x', 'a/b', 'Web', 'web_1', 'web pod', ' web', 'web ', '.web', 'web.', 'a..b', '-web', 'web-', 'w\u00e9b', 'web:1', 'web%2F1', '*'];
const BAD_UIDS = ['x/y', '../../etc/passwd', 'a b', '-uid', '\u00e9', '*', 'uid%2F', '{uid}', 'uid.1', 'uid_1'];

function setValue(pairs: Pairs, key: string, value: string): Pairs {
  return pairs.map(([k, v]) => [k, k === key ? value : v]);
}

function breakage(rng: Rng): Breakage {
  return rng.pick<() => Breakage>([
    () => {
      const token = rng.pick(['garbage', 'K8S_POD_NAME', 'IgnoreUnknown', 'a b', 'MAC:02:00:00:00:00:01', '\u00e9', 'K8S_POD_NAME:web']);
      const at = rng.int(0, 5);
      return { what: `pair ${at} ${JSON.stringify(token)} without "="`, mention: ['CNI_ARGS', token], apply: (p) => insertAt(join(p).split(';'), at, token).join(';') };
    },
    () => {
      const pair = rng.pick(['=x', '=', '==', '=fuzz']);
      const at = rng.int(0, 5);
      return { what: `pair ${at} ${JSON.stringify(pair)} with an empty key`, mention: ['CNI_ARGS'], apply: (p) => insertAt(join(p).split(';'), at, pair).join(';') };
    },
    () => {
      const key = rng.pick(['K8S_POD_NAME', 'K8S_POD_NAMESPACE', 'K8S_POD_UID', 'K8S_POD_INFRA_CONTAINER_ID', 'IgnoreUnknown', 'MAC', 'IP', 'FOO']);
      const value = rng.pick(['other', 'fuzz2', '0', 'true', '02:00:00:00:00:09', '10.1.2.3', 'x']);
      return {
        what: `${key} given twice with different values`,
        mention: ['CNI_ARGS', key],
        apply: (p) => {
          const existing = p.find(([k]) => k === key);
          const first: Pairs = existing ? p : [...p, [key, `${value}-first`]];
          const second: [string, string] = [key, existing?.[1] === value ? `${value}-2` : value];
          const at = rng.int(0, first.length);
          return join(insertAt(first, at, second));
        },
      };
    },
    () => {
      const v = rng.chance(0.15) ? '' : badLabel(rng).replace(/[;]/g, '');
      return { what: `K8S_POD_NAMESPACE ${JSON.stringify(v)}`, mention: ['K8S_POD_NAMESPACE'], apply: (p) => join(setValue(p, 'K8S_POD_NAMESPACE', v)) };
    },
    () => {
      const v = rng.chance(0.1) ? '' : rng.chance(0.15) ? 'a'.repeat(rng.int(254, 2000)) : rng.pick(BAD_POD_NAMES);
      return { what: `K8S_POD_NAME ${JSON.stringify(v.slice(0, 40))}${v.length > 40 ? ` (${v.length} characters)` : ''}`, mention: ['K8S_POD_NAME'], apply: (p) => join(setValue(p, 'K8S_POD_NAME', v)) };
    },
    () => {
      const v = rng.chance(0.1) ? '' : rng.chance(0.2) ? 'a'.repeat(rng.int(129, 5000)) : rng.pick(BAD_UIDS);
      return { what: `K8S_POD_UID ${JSON.stringify(v.slice(0, 40))}`, mention: ['K8S_POD_UID'], apply: (p) => join(setValue(p, 'K8S_POD_UID', v)) };
    },
    () => {
      const n = rng.int(60000, 120000);
      return { what: `K8S_POD_NAME of ${n} characters`, mention: ['K8S_POD_NAME'], apply: (p) => join(setValue(p, 'K8S_POD_NAME', 'w'.repeat(n))) };
    },
    () => {
      const n = rng.int(60000, 120000);
      return { what: `a pair of ${n} characters without "="`, mention: ['CNI_ARGS'], apply: (p, r) => `${join(p)};${r.chars(n, 'abcdefgh0123456789_-.,')}` };
    },
    () => {
      const n = rng.int(1000, 4000);
      const at = rng.int(0, n);
      return {
        what: `${n} extra pairs, the ${at}th without "="`,
        mention: ['CNI_ARGS'],
        apply: (p) => {
          const extra = Array.from({ length: n }, (_, i): [string, string] => [`X${i}`, `${i}`]);
          return insertAt(join([...p, ...extra]).split(';'), 5 + at, `bad${at}`).join(';');
        },
      };
    },
  ])();
}

export function cniArgsCase(rng: Rng, index: number): CaseBody {
  const b = breakage(rng);
  const buildSeed = rng.int(0, 0x7fffffff);
  return {
    what: b.what,
    expect: { codes: [4], mention: b.mention },
    delMustSucceed: true,
    build: (f) => {
      const cid = containerIdOf(index);
      const args = b.apply(podPairs(f, cid), new Rng(buildSeed));
      return { command: 'ADD', stdin: JSON.stringify(baseConf(f)), env: cniEnv(f, cid, args), budget: 10 };
    },
  };
}
