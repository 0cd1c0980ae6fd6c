// Unit tests for src/config/load.ts: JSON parsing, schema errors by path, defaults, and delegate normalization.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CACHE_DIR, DEFAULT_DELEGATE_TIMEOUT, loadConf, parseJson, toNetworkList } from '../../src/config/load';
import { thrown } from './helpers';

const BASE = { cniVersion: '1.0.0', name: 'macmux', type: 'macmux' };


const NOT_OBJECTS: Array<[string, RegExp]> = [
  ['', /not valid JSON/],
  ['{"cniVersion":', /not valid JSON/],
  ['cniVersion: 1.0.0', /not valid JSON/],
  ['[]', /not a JSON object/],
  ['null', /not a JSON object/],
  ['"text"', /not a JSON object/],
  ['42', /not a JSON object/],
];
for (const [text, msg] of NOT_OBJECTS) {
  test(`parseJson(${JSON.stringify(text)}) gives code 6`, () => {
    const e = thrown(() => parseJson(text, 'network config'));
    assert.equal(e.code, 6);
    assert.match(e.message, /^network config /);
    assert.match(e.message, msg);
  });
}

test('parseJson returns the object', () => {
  assert.deepEqual(parseJson(' {"a":[1,{"b":null}]} \n', 'x'), { a: [1, { b: null }] });
});

const SCHEMA_ERRORS: Array<[string, Record<string, unknown>, string[]]> = [
  [
    'every offending field at once',
    {
      ...BASE,
      logLevel: 7,
      macPool: { rangeStart: 'not-a-mac', rangeEnd: '02:00:00:00:00:ff' },
      delegates: [{ name: 'green', type: 5 }, { name: 'blue', type: 'ipvlan' }, { type: 'bridge' }],
    },
    ['$.delegates[0].type: must be string', '$.logLevel: must be <= 3', '$.macPool.rangeStart: must match pattern', '$.delegates[2].name: is required'],
  ],
  ['missing delegates and clusterNetwork', { ...BASE }, ['$: needs "delegates" or "clusterNetwork"']],
  ['missing required top-level fields', { delegates: [] }, ['$.cniVersion: is required', '$.name: is required', '$.type: is required']],
  ['delegate with both type and plugins', { ...BASE, delegates: [{ name: 'n', type: 'bridge', plugins: [{ type: 'portmap' }] }] }, ['$.delegates[0]: needs exactly one of "type" or "plugins"']],
  ['delegate with neither type nor plugins', { ...BASE, delegates: [{ name: 'n' }] }, ['$.delegates[0]: needs exactly one of "type" or "plugins"']],
  [
    'bad conflist plugins',
    { ...BASE, delegates: [{ name: 'n', plugins: [{ type: 'ok' }, { type: 'bad/type' }, {}] }] },
    ['$.delegates[0].plugins[1].type: must match pattern', '$.delegates[0].plugins[2].type: is required'],
  ],
  [
    'bad types and values',
    { ...BASE, clusterNetwork: '', delegateTimeout: 0, cacheDir: 5, macPool: { rangeStart: '02:00:00:00:00:01' }, capabilities: { 'io.kubernetes.cri/mac': 'yes' } },
    ['$.clusterNetwork: must NOT have fewer than 1 characters', '$.delegateTimeout: must be > 0', '$.cacheDir: must be string', '$.macPool.rangeEnd: is required', '$.capabilities["io.kubernetes.cri/mac"]: must be boolean'],
  ],
  ['macPool with an unknown key', { ...BASE, delegates: [], macPool: { rangeStart: '02:00:00:00:00:01', rangeEnd: '02:00:00:00:00:02', size: 3 } }, ['$.macPool: must NOT have additional properties']],
  ['non-integer logLevel', { ...BASE, delegates: [], logLevel: 1.5 }, ['$.logLevel: must be integer']],
  [
    'namespace isolation settings of the wrong shape',
    { ...BASE, delegates: [], namespaceIsolation: 'yes', globalNamespaces: ['infra', 'Bad_NS', 'x'.repeat(64)] },
    ['$.namespaceIsolation: must be boolean', '$.globalNamespaces[1]: must match pattern', '$.globalNamespaces[2]: must NOT have more than 63 characters'],
  ],
  [
    'network names that are paths (plugins such as host-local use them in one), by libcni\'s rule',
    { ...BASE, delegates: [{ name: '../../etc/cron.d', type: 'bridge' }, { name: 'a/b', type: 'bridge' }, { name: '.hidden', type: 'bridge' }, { name: 'ok.name_1-x', type: 'bridge' }] },
    ['$.delegates[0].name: must match pattern', '$.delegates[1].name: must match pattern', '$.delegates[2].name: must match pattern'],
  ],
  ['globalNamespaces not a list', { ...BASE, delegates: [], globalNamespaces: 'infra' }, ['$.globalNamespaces: must be array']],
];
for (const [name, raw, paths] of SCHEMA_ERRORS) {
  test(`loadConf schema error: ${name}`, () => {
    const e = thrown(() => loadConf(raw));
    assert.equal(e.code, 7);
    assert.match(e.message, /^network config is invalid: /);
    for (const p of paths) assert.ok(e.message.includes(p), `missing "${p}" in: ${e.message}`);
    assert.equal(e.message.split('; ').length, new Set(e.message.split('; ')).size, 'no repeated problem');
  });
}

test('loadConf reports each path only for fields that are wrong', () => {
  const e = thrown(() => loadConf({ ...BASE, logLevel: 9, delegates: [{ name: 'green', type: 'macvlan' }] }));
  assert.equal(e.message, 'network config is invalid: $.logLevel: must be <= 3');
});

test('two masterPlugin delegates give code 7', () => {
  const e = thrown(() => loadConf({ ...BASE, delegates: [{ name: 'a', type: 'x', masterPlugin: true }, { name: 'b', type: 'y', masterPlugin: true }] }));
  assert.equal(e.code, 7);
  assert.match(e.message, /at most one delegate may have masterPlugin/);
});

test('clusterNetwork and a masterPlugin delegate together give code 7', () => {
  const e = thrown(() => loadConf({ ...BASE, clusterNetwork: '/etc/cni/net.d/10-calico.conflist', delegates: [{ name: 'a', type: 'x', masterPlugin: true }] }));
  assert.equal(e.code, 7);
  assert.match(e.message, /exclusive/);
});

for (const v of ['0.5.0', '2.0.0', '1.0', 'latest']) {
  test(`unsupported cniVersion ${v} gives code 1`, () => {
    const e = thrown(() => loadConf({ ...BASE, cniVersion: v, delegates: [] }));
    assert.equal(e.code, 1);
    assert.equal(e.message, `network config: unsupported cniVersion "${v}"`);
  });
}

test('loadConf fills defaults', () => {
  const conf = loadConf({ ...BASE, delegates: [{ name: 'green', type: 'macvlan' }] });
  assert.equal(conf.cacheDir, '/var/lib/macmux');
  assert.equal(conf.delegateTimeout, 60);
  assert.equal(DEFAULT_CACHE_DIR, '/var/lib/macmux');
  assert.equal(DEFAULT_DELEGATE_TIMEOUT, 60);
  assert.deepEqual(conf.runtimeConfig, {});
  assert.deepEqual(conf.delegates, [{ name: 'green', type: 'macvlan' }]);
  assert.deepEqual(loadConf({ ...BASE, clusterNetwork: '/x' }).delegates, []);
  assert.equal(conf.namespaceIsolation, true, 'namespace isolation is on by default');
  assert.deepEqual(conf.globalNamespaces, []);
});

test('loadConf keeps the namespace isolation settings', () => {
  const conf = loadConf({ ...BASE, clusterNetwork: '/x', namespaceIsolation: false, globalNamespaces: ['infra', 'shared'] });
  assert.deepEqual([conf.namespaceIsolation, conf.globalNamespaces], [false, ['infra', 'shared']]);
});

test('loadConf keeps given values', () => {
  const conf = loadConf({ ...BASE, cniVersion: '0.4.0', clusterNetwork: '/c', cacheDir: '/tmp/mm', delegateTimeout: 2.5, logLevel: 0, runtimeConfig: { mac: '02:00:00:00:00:01' } });
  assert.deepEqual(
    [conf.cniVersion, conf.clusterNetwork, conf.cacheDir, conf.delegateTimeout, conf.logLevel, conf.runtimeConfig],
    ['0.4.0', '/c', '/tmp/mm', 2.5, 0, { mac: '02:00:00:00:00:01' }],
  );
});

test('toNetworkList normalizes a single conf into a one-plugin list', () => {
  const raw = { name: 'green', cniVersion: '0.4.0', type: 'macvlan', master: 'eth1', masterPlugin: true, ipam: { type: 'host-local', subnet: '10.9.0.0/24' } };
  assert.deepEqual(toNetworkList(raw, 'delegates[0]', '1.0.0'), {
    name: 'green',
    cniVersion: '0.4.0',
    plugins: [{ name: 'green', cniVersion: '0.4.0', type: 'macvlan', master: 'eth1', ipam: { type: 'host-local', subnet: '10.9.0.0/24' } }],
  });
  assert.equal(raw.masterPlugin, true, 'input not mutated');
});

test('toNetworkList injects name and cniVersion into every plugin of a conflist', () => {
  const raw = {
    name: 'blue',
    cniVersion: '1.1.0',
    disableCheck: true,
    disableGC: true,
    masterPlugin: true,
    plugins: [{ type: 'bridge', name: 'stale', cniVersion: '0.1.0', bridge: 'br0' }, { type: 'portmap', capabilities: { portMappings: true } }],
  };
  assert.deepEqual(toNetworkList(raw, 'delegates[1]', '1.0.0'), {
    name: 'blue',
    cniVersion: '1.1.0',
    disableCheck: true,
    disableGC: true,
    plugins: [
      { type: 'bridge', name: 'blue', cniVersion: '1.1.0', bridge: 'br0' },
      { type: 'portmap', name: 'blue', cniVersion: '1.1.0', capabilities: { portMappings: true } },
    ],
  });
});

test('toNetworkList falls back to the given cniVersion and omits false flags', () => {
  const list = toNetworkList({ name: 'n', type: 'bridge', disableCheck: false }, 'd', '0.3.1');
  assert.deepEqual(list, { name: 'n', cniVersion: '0.3.1', plugins: [{ name: 'n', cniVersion: '0.3.1', type: 'bridge' }] });
});

test('toNetworkList errors: code 7 with the path under its own name, code 1 for a bad version', () => {
  let e = thrown(() => toNetworkList({ type: 'bridge' }, 'delegates[3]', '1.0.0'));
  assert.equal(e.code, 7);
  assert.equal(e.message, 'delegates[3] is invalid: $.name: is required');
  e = thrown(() => toNetworkList({ name: 'n', cniVersion: '0.9.9', type: 'bridge' }, 'clusterNetwork /x', '1.0.0'));
  assert.equal(e.code, 1);
  assert.match(e.message, /^clusterNetwork \/x: unsupported cniVersion "0\.9\.9"/);
});
