// Malformed network configs on stdin: truncated or non-JSON text, wrong types and bad values for every schema field, huge and deep values, unknown cniVersions, nested conflists, missing fields.
import { Rng } from './rng';
import { addBudget, baseConf, clusterDelegate, cniEnv, containerIdOf, VERSIONS } from './base';
import { deletePath, pathName, setPath, type JsonPath } from './paths';
import type { CaseBody, Expect, Frame } from './types';
import { badLabel, badMac, deepJson, HUGE_NUMBERS, hugeString, wrongType, type JsonType } from './values';

type Conf = Record<string, unknown>;
type Mutate = (conf: Conf, f: Frame, r: Rng) => void;

const PATHS = ['kubeconfig', 'binDir', 'cacheDir', 'logFile', 'confDir', 'deviceCheckpoint'];
const VERBS = ['add', 'del', 'check', 'gc', 'status'];

/** Every field of src/config/schema.ts, with its JSON type. `conflist` fields live in delegates[0] turned into a conflist. */
interface Field {
  path: JsonPath;
  type: JsonType;
  conflist?: boolean;
}
const FIELDS: Field[] = [
  { path: ['cniVersion'], type: 'string' },
  { path: ['name'], type: 'string' },
  { path: ['type'], type: 'string' },
  ...PATHS.map((p): Field => ({ path: [p], type: 'string' })),
  { path: ['clusterNetwork'], type: 'string' },
  { path: ['delegates'], type: 'array' },
  { path: ['logLevel'], type: 'integer' },
  { path: ['delegateTimeout'], type: 'number' },
  { path: ['lockTimeout'], type: 'number' },
  { path: ['timeBudget'], type: 'object' },
  ...VERBS.map((v): Field => ({ path: ['timeBudget', v], type: 'number' })),
  { path: ['macPool'], type: 'object' },
  { path: ['macPool', 'rangeStart'], type: 'string' },
  { path: ['macPool', 'rangeEnd'], type: 'string' },
  { path: ['macPool', 'blockSize'], type: 'integer' },
  { path: ['macNamespace'], type: 'string' },
  { path: ['macGracePeriod'], type: 'number' },
  { path: ['macAssignment'], type: 'string' },
  { path: ['nodeName'], type: 'string' },
  { path: ['capabilities'], type: 'object' },
  { path: ['capabilities', 'mac'], type: 'boolean' },
  { path: ['runtimeConfig'], type: 'object' },
  { path: ['args'], type: 'object' },
  { path: ['delegates', 0], type: 'object' },
  { path: ['delegates', 0, 'name'], type: 'string' },
  { path: ['delegates', 0, 'cniVersion'], type: 'string' },
  { path: ['delegates', 0, 'type'], type: 'string' },
  { path: ['delegates', 0, 'capabilities'], type: 'object' },
  { path: ['delegates', 0, 'capabilities', 'mac'], type: 'boolean' },
  { path: ['delegates', 0, 'masterPlugin'], type: 'boolean' },
  { path: ['delegates', 0, 'disableCheck'], type: 'boolean' },
  { path: ['delegates', 0, 'disableGC'], type: 'boolean' },
  { path: ['delegates', 0, 'plugins'], type: 'array', conflist: true },
  { path: ['delegates', 0, 'plugins', 0], type: 'object', conflist: true },
  { path: ['delegates', 0, 'plugins', 0, 'type'], type: 'string', conflist: true },
  { path: ['delegates', 0, 'plugins', 0, 'name'], type: 'string', conflist: true },
  { path: ['delegates', 0, 'plugins', 0, 'cniVersion'], type: 'string', conflist: true },
  { path: ['delegates', 0, 'plugins', 0, 'capabilities'], type: 'object', conflist: true },
  { path: ['delegates', 0, 'plugins', 0, 'capabilities', 'mac'], type: 'boolean', conflist: true },
];

/** Turns delegates[0] into the same network as a conflist. */
function asConflist(conf: Conf): void {
  const d = (conf.delegates as Conf[])[0]!;
  const { name, cniVersion, ...plugin } = d;
  (conf.delegates as Conf[])[0] = { name, cniVersion, plugins: [plugin] };
}

const invalid = (path: JsonPath): Expect => ({ codes: [7], mention: [pathName(path)] });

/** Versions macmux does not speak. */
export const UNKNOWN_VERSIONS = ['0.0.1', '0.2.1', '0.5.0', '1.0.1', '1.2.0', '2.0.0', '1.0', '1', 'v1.0.0', ' 1.0.0', '1.0.0\n', '1.0.0-rc1', '01.0.0', '1.0.0.0', '\uff11.\uff10.\uff10', '', 'latest', '0.3.1 ', '1.1'];

interface Variant {
  what: string;
  expect: Expect;
  mutate?: Mutate;
  /** Replaces the whole stdin (built from the mutated config's text). */
  text?: (json: string, r: Rng) => string;
}

function wrongTypeVariant(rng: Rng): Variant {
  const field = rng.pick(FIELDS);
  const value = wrongType(rng, field.type);
  return {
    what: `${pathName(field.path)} = ${JSON.stringify(value)} (not ${field.type})`,
    expect: invalid(field.path),
    mutate: (c) => {
      if (field.conflist) asConflist(c);
      setPath(c, field.path, value);
    },
  };
}

/** Values of the right type that the schema or the loader refuses (code 7; an unknown cniVersion is code 1). */
function badValueVariant(rng: Rng): Variant {
  const at = (path: JsonPath, value: unknown, expect: Expect = invalid(path), pre?: Mutate): Variant => ({
    what: `${pathName(path)} = ${JSON.stringify(value)}`,
    expect,
    mutate: (c, f, r) => {
      pre?.(c, f, r);
      setPath(c, path, value);
    },
  });
  const bounded = (path: JsonPath, values: unknown[]) => at(path, rng.pick(values));
  return rng.pick<() => Variant>([
    () => at([rng.pick(['name', 'type', 'clusterNetwork', 'nodeName', ...PATHS])], ''),
    () => bounded(['logLevel'], [4, -1, 1.5, 100, 3.0001]),
    () => bounded([rng.pick(['delegateTimeout', 'lockTimeout'])], [0, -1, 3601, 1e5, -0.001]),
    () => bounded(['timeBudget', rng.pick(VERBS)], [0, -3, 3601, -0.5]),
    () => at(['timeBudget', rng.pick(['ADD', 'apply', 'delete', 'x'])], 5, invalid(['timeBudget'])),
    () => at(['macPool'], {}, { codes: [7], mention: ['$.macPool.rangeStart'] }),
    () => at(['macPool', 'extra'], 1, invalid(['macPool'])),
    () => {
      // Only malformed ones: a multicast end (say) with a good start still spans assignable MACs.
      const { mac, why } = badMac(rng, true);
      const end = rng.chance(0.5) ? 'rangeStart' : 'rangeEnd';
      return { ...at(['macPool', end], mac, { codes: [7], mention: ['macPool'] }), what: `$.macPool.${end} = ${JSON.stringify(mac)} (${why})` };
    },
    () => bounded(['macPool', 'blockSize'], [0, -1, 65537, 1.5, 1e6]),
    () => {
      const [start, end, why] = rng.pick<[string, string, string]>([
        ['03:00:00:00:00:00', '03:00:00:00:ff:ff', 'multicast only'],
        ['00:11:22:00:00:00', '00:11:22:00:ff:ff', 'globally administered only'],
        ['ff:ff:ff:ff:ff:ff', 'ff:ff:ff:ff:ff:ff', 'broadcast only'],
        ['00:00:00:00:00:00', '00:00:00:00:00:00', 'all-zero only'],
        ['02:fa:00:00:0f:ff', '02:fa:00:00:00:00', 'reversed'],
        ['02:fa:00-00:00:00', '02:fa:00:00:0f:ff', 'mixed separators'],
        ['01:00:5e:00:00:00', '01:00:5e:7f:ff:ff', 'the IPv4 multicast block'],
      ]);
      return { what: `$.macPool ${start}-${end} (${why})`, expect: { codes: [7], mention: ['macPool'] }, mutate: (c) => setPath(c, ['macPool'], { rangeStart: start, rangeEnd: end }) };
    },
    () => at(['macNamespace'], rng.chance(0.2) ? '' : badLabel(rng)),
    () => bounded(['macGracePeriod'], [-1, 31536001, -0.001]),
    () => at(['macAssignment'], rng.pick(['maybe', '', 'Opt-Out', 'optout', 'allocate', 'opt_in'])),
    () => at(['nodeName'], rng.pick(['Node_1', 'node/1', '../node', 'node 1', '-node', 'node..1', 'NODE'])),
    () => at(['delegates', 0, rng.pick(['name', 'type'])], ''),
    () => at(['delegates', 0, 'type'], rng.pick(['../../bin/sh', 'mac vlan', 'macvlan;id', '/usr/lib/cni/macvlan', 'mac\u00e9', 'a:b'])),
    () => at(['delegates', 0, 'plugins'], [], invalid(['delegates', 0, 'plugins']), asConflist),
    () => at(['delegates', 0, 'plugins', 0], {}, { codes: [7], mention: ['$.delegates[0].plugins[0].type'] }, asConflist),
    () => at(['delegates'], [], { codes: [7], mention: ['cluster network'] }),
    () => at(['delegates', 0, 'plugins'], [{ type: 'macvlan' }], { codes: [7], mention: ['$.delegates[0]'] }),
    () => ({
      what: 'two delegates with masterPlugin: true',
      expect: { codes: [7], mention: ['masterPlugin'] },
      mutate: (c, f) => (c.delegates = [{ ...clusterDelegate(f), masterPlugin: true }, { ...clusterDelegate(f), name: 'other', masterPlugin: true }]),
    }),
    () => ({
      what: 'clusterNetwork and a delegate with masterPlugin: true',
      expect: { codes: [7], mention: ['masterPlugin'] },
      mutate: (c) => {
        c.clusterNetwork = 'cluster';
        (c.delegates as Conf[])[0]!.masterPlugin = true;
      },
    }),
    () => ({
      what: 'two delegates with the same name',
      expect: { codes: [7], mention: ['"cluster"'] },
      mutate: (c, f) => (c.delegates = [clusterDelegate(f), { ...clusterDelegate(f), mode: 'private' }]),
    }),
    () => ({
      what: 'clusterNetwork names a network no file holds',
      expect: { codes: [7], mention: ['clusterNetwork'] },
      mutate: (c) => {
        c.clusterNetwork = `no-such-net-${rng.int(0, 9999)}`;
        delete c.delegates;
      },
    }),
  ])();
}

/** 1 MiB strings, numbers like 1e308, many thousands of items. */
function hugeVariant(rng: Rng): Variant {
  return rng.pick<() => Variant>([
    () => ({ what: '$.cniVersion is 1 MiB long', expect: { codes: [1], mention: ['cniVersion'] }, mutate: (c, _f, r) => (c.cniVersion = hugeString(r)) }),
    () => {
      const field = rng.pick([...PATHS, 'clusterNetwork', 'nodeName', 'macNamespace']);
      return { what: `$.${field} is 1 MiB long`, expect: invalid([field]), mutate: (c, _f, r) => (c[field] = `/${hugeString(r)}`) };
    },
    () => {
      const end = rng.pick(['rangeStart', 'rangeEnd']);
      return { what: `$.macPool.${end} is 1 MiB long`, expect: invalid(['macPool', end]), mutate: (c, _f, r) => setPath(c, ['macPool', end], hugeString(r)) };
    },
    () => ({ what: '$.delegates[0].type is 1 MiB long', expect: invalid(['delegates', 0, 'type']), mutate: (c, _f, r) => setPath(c, ['delegates', 0, 'type'], 'a'.repeat(1 << 20) + r.chars(3, 'abc')) }),
    () => {
      const path: JsonPath = rng.pick<JsonPath>([['logLevel'], ['delegateTimeout'], ['lockTimeout'], ['macGracePeriod'], ['timeBudget', rng.pick(VERBS)], ['macPool', 'blockSize']]);
      const n = rng.pick(HUGE_NUMBERS);
      return { what: `${pathName(path)} = ${n}`, expect: invalid(path), mutate: (c) => setPath(c, path, n) };
    },
    () => {
      const n = rng.int(5000, 100000);
      const item = rng.pick<unknown>([1, 'x', null, {}, { name: 'n' }, { type: 'macvlan' }]);
      return { what: `$.delegates holds ${n} bad items (${JSON.stringify(item)})`, expect: { codes: [7], mention: ['$.delegates'] }, mutate: (c) => (c.delegates = Array(n).fill(item)) };
    },
    () => {
      const n = rng.int(5000, 100000);
      return {
        what: `delegates[0] is a conflist of ${n} plugins without a type`,
        expect: { codes: [7], mention: ['$.delegates[0]'] },
        mutate: (c) => setPath(c, ['delegates', 0], { name: 'cluster', cniVersion: c.cniVersion, plugins: Array(n).fill({ name: 'p' }) }),
      };
    },
  ])();
}

/** JSON nested thousands of levels deep somewhere in the config: refused as undecodable (code 6). */
function deepVariant(rng: Rng): Variant {
  const where = rng.pick<JsonPath>([['x-extra'], ['runtimeConfig', 'deep'], ['args', 'cni', 'deep'], ['delegates', 0, 'deep'], ['delegates', 0, 'ipam'], ['capabilities'], ['delegates', 1]]);
  const depth = rng.pick([600, 1000, 5000, rng.int(1000, 200000)]);
  const marker = '"@@DEEP@@"';
  return {
    what: `${pathName(where)} nested ${depth} levels deep`,
    expect: { codes: [6], mention: ['nested'] },
    mutate: (c) => setPath(c, where, '@@DEEP@@'),
    text: (json, r) => json.replace(marker, deepJson(r, depth)),
  };
}

function unknownVersionVariant(rng: Rng): Variant {
  const v = rng.chance(0.8) ? rng.pick(UNKNOWN_VERSIONS) : `${rng.int(0, 9)}.${rng.int(5, 99)}.${rng.int(0, 9)}`;
  if (rng.chance(0.7)) return { what: `cniVersion ${JSON.stringify(v)}`, expect: { codes: [1], mention: ['cniVersion'] }, mutate: (c) => (c.cniVersion = v) };
  return {
    what: `delegates[0].cniVersion ${JSON.stringify(v)}`,
    expect: { codes: [1], mention: ['delegates[0]', 'cniVersion'] },
    mutate: (c) => setPath(c, ['delegates', 0, 'cniVersion'], v),
  };
}

/** Conflists where a plugin belongs: in delegates' plugins, plugins inside plugins, or a conflist as macmux's own config. */
function nestedVariant(rng: Rng): Variant {
  return rng.pick<() => Variant>([
    () => ({
      what: 'a conflist (no type) inside delegates[0].plugins',
      expect: { codes: [7], mention: ['$.delegates[0].plugins[0].type'] },
      mutate: (c, f) => setPath(c, ['delegates', 0], { name: 'cluster', cniVersion: c.cniVersion, plugins: [{ name: 'inner', cniVersion: c.cniVersion, plugins: [clusterDelegate(f)] }] }),
    }),
    () => ({
      what: 'plugins inside a plugin of delegates[0]',
      expect: { codes: [7], mention: ['$.delegates[0].plugins[0]'] },
      mutate: (c, f) => {
        const { name: _n, cniVersion: _v, ...plugin } = clusterDelegate(f);
        setPath(c, ['delegates', 0], { name: 'cluster', cniVersion: c.cniVersion, plugins: [{ ...plugin, plugins: [plugin] }] });
      },
    }),
    () => ({
      what: 'delegates[0] has both type and plugins',
      expect: { codes: [7], mention: ['$.delegates[0]'] },
      mutate: (c, f) => {
        const { name: _n, cniVersion: _v, ...plugin } = clusterDelegate(f);
        setPath(c, ['delegates', 0, 'plugins'], [plugin]);
      },
    }),
    () => ({
      what: 'macmux itself given as a conflist (plugins, no type)',
      expect: { codes: [7], mention: ['$.type'] },
      mutate: (c) => {
        const { cniVersion, name, ...rest } = c;
        for (const k of Object.keys(c)) delete c[k];
        Object.assign(c, { cniVersion, name, plugins: [rest] });
      },
    }),
  ])();
}

function missingVariant(rng: Rng): Variant {
  const cases: Array<[JsonPath, string, boolean?]> = [
    [['cniVersion'], '$.cniVersion'],
    [['name'], '$.name'],
    [['type'], '$.type'],
    [['delegates'], 'delegates'],
    [['delegates', 0, 'name'], '$.delegates[0].name'],
    [['delegates', 0, 'type'], '$.delegates[0]'],
    [['delegates', 0, 'plugins', 0, 'type'], '$.delegates[0].plugins[0].type', true],
    [['macPool', 'rangeStart'], '$.macPool.rangeStart'],
    [['macPool', 'rangeEnd'], '$.macPool.rangeEnd'],
  ];
  const [path, mention, conflist] = rng.pick(cases);
  return {
    what: `${pathName(path)} left out`,
    expect: { codes: [7], mention: [mention] },
    mutate: (c) => {
      if (conflist) asConflist(c);
      deletePath(c, path);
    },
  };
}

function truncatedVariant(rng: Rng): Variant {
  const frac = rng.next();
  return {
    what: `config cut at ${(frac * 100).toFixed(1)}%`,
    expect: { codes: [6], mention: ['network config'] },
    text: (json) => json.slice(0, Math.floor(frac * json.length)),
  };
}

const GARBAGE = ['', ' ', '\n', 'null', '[]', '[{}]', '"macmux"', '42', 'true', '{', '}', "{'cniVersion':'1.0.0'}", '{"cniVersion":"1.0.0",}', 'NaN', '{}{}', '\ufeff{}', '{"a":1} x', '// comment\n{}', '{"a":undefined}', '{"a":0x10}', '{"a":.5}', '{"a":"\\x41"}', '{"a"}', 'cniVersion=1.0.0'];

function garbageVariant(rng: Rng): Variant {
  if (rng.chance(0.6)) {
    const g = rng.pick(GARBAGE);
    return { what: `stdin ${JSON.stringify(g)}`, expect: { codes: [6], mention: ['network config'] }, text: () => g };
  }
  const n = rng.int(1, 2000);
  return {
    what: `${n} random bytes after a valid config's first brace`,
    expect: { codes: [6], mention: ['network config'] },
    // The final control character is invalid both inside a JSON string and outside one.
    text: (json, r) => json.slice(0, r.int(1, 20)) + r.chars(n, '{}[]":,\\ abc019\u0000\u0001\u00ff\ud7ff') + '\u0001',
  };
}

const GROUPS: Array<[number, (rng: Rng) => Variant]> = [
  [15, truncatedVariant],
  [6, garbageVariant],
  [26, wrongTypeVariant],
  [22, badValueVariant],
  [9, hugeVariant],
  [7, deepVariant],
  [7, unknownVersionVariant],
  [4, nestedVariant],
  [6, missingVariant],
];

export function pickWeighted<T>(rng: Rng, groups: Array<[number, T]>): T {
  const total = groups.reduce((s, [w]) => s + w, 0);
  let x = rng.next() * total;
  for (const [w, g] of groups) if ((x -= w) < 0) return g;
  return groups[groups.length - 1]![1];
}

export function configCase(rng: Rng, index: number): CaseBody {
  const variant = pickWeighted(rng, GROUPS)(rng);
  const version = rng.pick(VERSIONS);
  const pretty = rng.chance(0.25);
  const buildSeed = rng.int(0, 0x7fffffff);
  return {
    what: variant.what,
    expect: variant.expect,
    build: (f) => {
      const r = new Rng(buildSeed);
      const conf = baseConf(f, version);
      variant.mutate?.(conf, f, r);
      const json = pretty ? JSON.stringify(conf, null, 2) : JSON.stringify(conf);
      return { command: 'ADD', stdin: variant.text ? variant.text(json, r) : json, env: cniEnv(f, containerIdOf(index)), budget: addBudget(conf) };
    },
  };
}
