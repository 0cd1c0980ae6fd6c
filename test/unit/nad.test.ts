// Unit tests for src/config/nad.ts (a NAD's spec.config as a delegate network) and src/config/confdir.ts (the conf-dir fallback).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nadNetwork } from '../../src/config/nad';
import { findConfFile } from '../../src/config/confdir';
import type { NetworkList } from '../../src/config/load';
import { thrown } from './helpers';

const REF = { namespace: 'team-a', name: 'green' };
const WHO = 'NetworkAttachmentDefinition team-a/green';

// ---- nadNetwork: accepted configs ----

const OK: Array<[string, string, NetworkList]> = [
  [
    'a single config becomes a one-plugin list',
    '{"cniVersion":"0.4.0","name":"green-net","type":"macvlan","master":"eth1","ipam":{"type":"static"}}',
    {
      name: 'green-net',
      cniVersion: '0.4.0',
      plugins: [{ type: 'macvlan', master: 'eth1', ipam: { type: 'static' }, name: 'green-net', cniVersion: '0.4.0' }],
    },
  ],
  [
    'a conflist gets its name and cniVersion in every plugin, overriding stale ones',
    '{"cniVersion":"1.0.0","name":"blue","disableCheck":true,"plugins":[{"type":"bridge","name":"stale","cniVersion":"0.3.1","bridge":"br1"},{"type":"tuning","mtu":9000},{"type":"sbr"}]}',
    {
      name: 'blue',
      cniVersion: '1.0.0',
      disableCheck: true,
      plugins: [
        { type: 'bridge', bridge: 'br1', name: 'blue', cniVersion: '1.0.0' },
        { type: 'tuning', mtu: 9000, name: 'blue', cniVersion: '1.0.0' },
        { type: 'sbr', name: 'blue', cniVersion: '1.0.0' },
      ],
    },
  ],
  [
    'a config without name takes the NAD name; without cniVersion the fallback',
    '{"type":"host-device","device":"ens4"}',
    { name: 'green', cniVersion: '1.1.0', plugins: [{ type: 'host-device', device: 'ens4', name: 'green', cniVersion: '1.1.0' }] },
  ],
  [
    'an empty name counts as no name',
    '{"name":"","cniVersion":"0.3.1","type":"macvlan"}',
    { name: 'green', cniVersion: '0.3.1', plugins: [{ type: 'macvlan', name: 'green', cniVersion: '0.3.1' }] },
  ],
  [
    'a nameless conflist takes the NAD name in every plugin',
    '{"cniVersion":"1.0.0","plugins":[{"type":"macvlan"},{"type":"tuning"}]}',
    {
      name: 'green',
      cniVersion: '1.0.0',
      plugins: [
        { type: 'macvlan', name: 'green', cniVersion: '1.0.0' },
        { type: 'tuning', name: 'green', cniVersion: '1.0.0' },
      ],
    },
  ],
];
for (const [label, config, want] of OK) {
  test(`nadNetwork: ${label}`, () => {
    assert.deepEqual(nadNetwork(REF, config, '1.1.0'), want);
  });
}

test('nadNetwork: a conf-dir file source does not change the result', () => {
  const config = '{"cniVersion":"1.0.0","name":"green","type":"macvlan"}';
  assert.deepEqual(nadNetwork(REF, config, '1.1.0', '/etc/cni/net.d/10-green.conf'), nadNetwork(REF, config, '1.1.0'));
});

// ---- nadNetwork: errors name the NAD and the source ----

const BAD: Array<[label: string, config: string, fallback: string, code: number, fragment: string]> = [
  ['invalid JSON', '{"type":"macvlan",', '1.0.0', 7, 'is not valid JSON'],
  ['empty text', '', '1.0.0', 7, 'is not valid JSON'],
  ['a JSON list', '[{"type":"macvlan"}]', '1.0.0', 7, 'is not a JSON object'],
  ['a JSON string', '"macvlan"', '1.0.0', 7, 'is not a JSON object'],
  ['JSON null', 'null', '1.0.0', 7, 'is not a JSON object'],
  ['a JSON number', '42', '1.0.0', 7, 'is not a JSON object'],
  ['a conflist plugin lacking type', '{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"bridge"},{"mtu":1500}]}', '1.0.0', 7, '$.plugins[1].type: is required'],
  ['an empty plugins list', '{"cniVersion":"1.0.0","name":"n","plugins":[]}', '1.0.0', 7, '$.plugins: must NOT have fewer than 1 items'],
  ['neither type nor plugins', '{"cniVersion":"1.0.0","name":"n"}', '1.0.0', 7, 'needs exactly one of "type" or "plugins"'],
  ['both type and plugins', '{"cniVersion":"1.0.0","name":"n","type":"macvlan","plugins":[{"type":"tuning"}]}', '1.0.0', 7, 'needs exactly one of "type" or "plugins"'],
  ['a non-string name', '{"cniVersion":"1.0.0","name":5,"type":"macvlan"}', '1.0.0', 7, '$.name: must be string'],
  ['a name that is a path', '{"cniVersion":"1.0.0","name":"../../../etc/cron.d","type":"bridge","ipam":{"type":"host-local"}}', '1.0.0', 7, '$.name: must match pattern'],
  ['an unsupported cniVersion', '{"cniVersion":"0.9.9","name":"n","type":"macvlan"}', '1.0.0', 1, 'unsupported cniVersion "0.9.9"'],
  ['an unsupported fallback version', '{"name":"n","type":"macvlan"}', '9.9.9', 1, 'unsupported cniVersion "9.9.9"'],
];
for (const source of ['spec.config', '/etc/cni/net.d/20-green.conflist']) {
  for (const [label, config, fallback, code, fragment] of BAD) {
    test(`nadNetwork: ${label} from ${source} → code ${code} naming ${WHO} and the source`, () => {
      const e = thrown(() => nadNetwork(REF, config, fallback, source));
      assert.equal(e.code, code);
      assert.ok(e.message.includes(WHO), e.message);
      assert.ok(e.message.includes(source), e.message);
      assert.ok(e.message.includes(fragment), e.message);
    });
  }
}

test('nadNetwork: the default source is spec.config', () => {
  const e = thrown(() => nadNetwork({ namespace: 'ns1', name: 'red' }, '{', '1.0.0'));
  assert.match(e.message, /^NetworkAttachmentDefinition ns1\/red: spec\.config is not valid JSON/);
});

// ---- findConfFile ----

const GREEN_JSON = '{"cniVersion":"1.0.0","name":"green","type":"macvlan","from":"50"}';

function confDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'macmux-confdir-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const files: Array<[string, string]> = [
    ['05-other.conf', '{"name":"other","type":"bridge"}'],
    ['15-garbage.conflist', 'this is not JSON {'],
    ['16-null.json', 'null'],
    ['17-list.conf', '[{"name":"green"}]'],
    ['18-upper.conf', '{"name":"Green","type":"macvlan"}'],
    ['40-green.txt', '{"name":"green","from":"txt"}'],
    ['45-green.conf.bak', '{"name":"green","from":"bak"}'],
    ['50-green.json', GREEN_JSON],
    ['60-green.conf', '{"name":"green","from":"60"}'],
    ['70-blue.conflist', '{"name":"blue","plugins":[{"type":"bridge"}]}'],
    // Lexically "10-x" sorts before "9-x", although 9 < 10.
    ['9-num.conf', '{"name":"num","from":"9"}'],
    ['10-num.conf', '{"name":"num","from":"10"}'],
  ];
  for (const [f, text] of files) writeFileSync(join(dir, f), text);
  // Unreadable as a file even as root: a directory and a dangling symlink, both sorted before the match.
  mkdirSync(join(dir, '10-dir.conf'));
  symlinkSync(join(dir, 'does-not-exist'), join(dir, '20-broken.conf'));
  return dir;
}

test('findConfFile: the lexically first .conf/.conflist/.json file with the name, skipping what cannot be read or parsed', (t) => {
  const dir = confDir(t);
  assert.deepEqual(findConfFile(dir, 'green'), { path: join(dir, '50-green.json'), text: GREEN_JSON });
  assert.deepEqual(findConfFile(dir, 'blue'), { path: join(dir, '70-blue.conflist'), text: '{"name":"blue","plugins":[{"type":"bridge"}]}' });
  assert.equal(findConfFile(dir, 'num')?.path, join(dir, '10-num.conf'));
  assert.equal(findConfFile(dir, 'other')?.path, join(dir, '05-other.conf'));
});

test('findConfFile: names match exactly, and other extensions never match', (t) => {
  const dir = confDir(t);
  assert.equal(findConfFile(dir, 'Green')?.path, join(dir, '18-upper.conf'));
  assert.equal(findConfFile(dir, 'gree'), undefined);
  assert.equal(findConfFile(dir, 'nope'), undefined);
  rmSync(join(dir, '50-green.json'));
  rmSync(join(dir, '60-green.conf'));
  assert.equal(findConfFile(dir, 'green'), undefined, 'only .txt, .bak and a JSON list still say green');
});

test('findConfFile: undefined when the directory is missing or not a directory', (t) => {
  const dir = confDir(t);
  assert.equal(findConfFile(join(dir, 'missing'), 'green'), undefined);
  assert.equal(findConfFile(join(dir, '50-green.json'), 'green'), undefined);
});
