// Unit tests for src/cni/env.ts: required variables per verb, env validation and CNI_ARGS handling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argValue, formatCniArgs, parseCniArgs, readEnv, REQUIRED_ENV, VERBS, type Verb } from '../../src/cni/env';
import { thrown } from './helpers';

const FULL: Record<string, string> = {
  CNI_CONTAINERID: 'abc123',
  CNI_NETNS: '/var/run/netns/pod1',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin:/usr/lib/cni',
};
const getenv = (vars: Record<string, string>) => (k: string) => vars[k];


const EXPECTED: Record<Verb, string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME'],
  GC: [],
  STATUS: [],
  VERSION: [],
};

test('REQUIRED_ENV is the table of required variables per verb', () => {
  assert.deepEqual(REQUIRED_ENV, EXPECTED);
});

for (const verb of VERBS) {
  const required = EXPECTED[verb];
  test(`${verb}: succeeds with the full environment`, () => {
    const env = readEnv(getenv({ ...FULL, CNI_COMMAND: verb }));
    assert.equal(env.command, verb);
    assert.equal(env.containerID, 'abc123');
    assert.equal(env.netns, '/var/run/netns/pod1');
    assert.equal(env.ifName, 'eth0');
    assert.deepEqual(env.path, ['/opt/cni/bin', '/usr/lib/cni']);
  });

  test(`${verb}: with nothing set, ${required.length ? 'code 4 names every missing variable' : 'nothing is required'}`, () => {
    const only = getenv({ CNI_COMMAND: verb });
    if (required.length === 0) {
      const env = readEnv(only);
      assert.deepEqual([env.containerID, env.netns, env.ifName, env.path, env.args], ['', '', '', [], []]);
      return;
    }
    const e = thrown(() => readEnv(only));
    assert.equal(e.code, 4);
    for (const k of required) assert.match(e.message, new RegExp(`\\b${k}\\b`));
    for (const k of Object.keys(FULL).filter((k) => !required.includes(k))) assert.doesNotMatch(e.message, new RegExp(k));
  });

  for (const k of required) {
    test(`${verb}: missing or empty ${k} alone is named`, () => {
      for (const value of [undefined, '']) {
        const vars: Record<string, string> = { ...FULL, CNI_COMMAND: verb };
        if (value === undefined) delete vars[k];
        else vars[k] = value;
        const e = thrown(() => readEnv(getenv(vars)));
        assert.equal(e.code, 4);
        assert.match(e.message, new RegExp(`${verb}: ${k}$`));
      }
    });
  }
}

test('unknown or missing CNI_COMMAND gives code 4', () => {
  for (const cmd of ['FROB', '', undefined]) {
    const vars: Record<string, string> = { ...FULL };
    if (cmd !== undefined) vars.CNI_COMMAND = cmd;
    const e = thrown(() => readEnv(getenv(vars)));
    assert.equal(e.code, 4);
    assert.match(e.message, /unknown CNI_COMMAND/);
    assert.match(e.details, /ADD, DEL, CHECK, GC, STATUS, VERSION/);
  }
});

const BAD: Array<[string, string, string]> = [
  ['CNI_CONTAINERID', '-leading-dash', 'invalid'],
  ['CNI_CONTAINERID', 'has space', 'invalid'],
  ['CNI_CONTAINERID', 'a/b', 'invalid'],
  ['CNI_CONTAINERID', '../etc', 'invalid'],
  ['CNI_IFNAME', 'eth/0', 'may not contain'],
  ['CNI_IFNAME', 'eth:0', 'may not contain'],
  ['CNI_IFNAME', 'eth 0', 'may not contain'],
  ['CNI_IFNAME', 'abcdefghijklmnop', 'longer than 15'],
  ['CNI_IFNAME', '.', 'may not be'],
  ['CNI_IFNAME', '..', 'may not be'],
];
for (const [k, v, why] of BAD) {
  test(`bad ${k} ${JSON.stringify(v)} gives code 4`, () => {
    const e = thrown(() => readEnv(getenv({ ...FULL, CNI_COMMAND: 'ADD', [k]: v })));
    assert.equal(e.code, 4);
    assert.ok(e.message.includes(`${k} "${v}"`), e.message);
    assert.ok(e.message.includes(why), e.message);
  });
}

test('valid edge-case container IDs and interface names are accepted', () => {
  for (const [id, ifName] of [['A', 'e'], ['0_a.b-c', 'abcdefghijklmno']]) {
    const env = readEnv(getenv({ ...FULL, CNI_COMMAND: 'ADD', CNI_CONTAINERID: id!, CNI_IFNAME: ifName! }));
    assert.deepEqual([env.containerID, env.ifName], [id, ifName]);
  }
});

test('readEnv parses CNI_ARGS and keeps the raw string; a malformed one gives code 4', () => {
  const raw = 'K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p';
  const env = readEnv(getenv({ ...FULL, CNI_COMMAND: 'ADD', CNI_ARGS: raw }));
  assert.equal(env.rawArgs, raw);
  assert.deepEqual(env.args, [['K8S_POD_NAMESPACE', 'ns'], ['K8S_POD_NAME', 'p']]);
  assert.equal(thrown(() => readEnv(getenv({ ...FULL, CNI_COMMAND: 'ADD', CNI_ARGS: 'junk' }))).code, 4);
});

const ARGS: Array<[string, Array<[string, string]>]> = [
  ['', []],
  ['A=1', [['A', '1']]],
  ['A=1;B=2', [['A', '1'], ['B', '2']]],
  ['A=1;;B=', [['A', '1'], ['B', '']]],
  ['A=x=y;', [['A', 'x=y']]],
  ['A=1;A=2', [['A', '1'], ['A', '2']]],
];
for (const [raw, want] of ARGS) {
  test(`parseCniArgs(${JSON.stringify(raw)})`, () => assert.deepEqual(parseCniArgs(raw), want));
}

const MALFORMED: Array<[string, number, string]> = [
  ['A=1;oops;B=2', 1, 'oops'],
  ['=v', 0, '=v'],
  ['A=1;B=2;C', 2, 'C'],
];
for (const [raw, index, pair] of MALFORMED) {
  test(`parseCniArgs(${JSON.stringify(raw)}) gives code 4 naming element ${index}`, () => {
    const e = thrown(() => parseCniArgs(raw));
    assert.equal(e.code, 4);
    assert.ok(e.message.includes(`element ${index} "${pair}"`), e.message);
  });
}

test('argValue returns the last value for a key, or undefined', () => {
  const args = parseCniArgs('A=1;B=2;A=3');
  assert.equal(argValue(args, 'A'), '3');
  assert.equal(argValue(args, 'B'), '2');
  assert.equal(argValue(args, 'a'), undefined);
  assert.equal(argValue([], 'A'), undefined);
});

const FORMAT: Array<[string, Array<[string, string]>, Array<[string, string]>, string]> = [
  ['nothing', [], [], 'IgnoreUnknown=1'],
  ['args kept in order', [['A', '1'], ['B', '2']], [], 'IgnoreUnknown=1;A=1;B=2'],
  ['IgnoreUnknown from args replaced and first', [['A', '1'], ['IgnoreUnknown', '0']], [], 'IgnoreUnknown=1;A=1'],
  ['duplicate keys once, last wins', [['A', '1'], ['A', '2']], [], 'IgnoreUnknown=1;A=2'],
  ['overrides win', [['A', '1'], ['B', '2']], [['A', '9'], ['C', '3']], 'IgnoreUnknown=1;A=9;B=2;C=3'],
];
for (const [name, args, overrides, want] of FORMAT) {
  test(`formatCniArgs: ${name}`, () => {
    const out = formatCniArgs(args, overrides);
    assert.equal(out, want);
    const keys = out.split(';').map((p) => p.split('=')[0]);
    assert.equal(new Set(keys).size, keys.length, 'each key exactly once');
    assert.equal(keys[0], 'IgnoreUnknown');
  });
}
