// Unit tests for src/delegate/stdin.ts (a delegate's stdin) and src/delegate/exec.ts pluginError (its failure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildStdin } from '../../src/delegate/stdin';
import { pluginError } from '../../src/delegate/exec';
import type { PluginConf } from '../../src/config/load';

const PREV = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }], ips: [{ address: '10.0.0.2/24', interface: 0 }], dns: {} };

test('name and cniVersion are injected, overriding the plugin conf', () => {
  const plugin: PluginConf = { type: 'bridge', name: 'stale', cniVersion: '0.1.0', bridge: 'br0', ipam: { type: 'host-local' } };
  assert.deepEqual(buildStdin(plugin, { name: 'green', cniVersion: '1.0.0' }), {
    type: 'bridge',
    name: 'green',
    cniVersion: '1.0.0',
    bridge: 'br0',
    ipam: { type: 'host-local' },
  });
});

test('prevResult is included when given, and a stale one in the conf is never passed', () => {
  const plugin: PluginConf = { type: 'portmap', prevResult: { cniVersion: '0.4.0', ips: [] } };
  assert.deepEqual(buildStdin(plugin, { name: 'n', cniVersion: '1.0.0', prevResult: PREV }), { type: 'portmap', name: 'n', cniVersion: '1.0.0', prevResult: PREV });
  assert.ok(!('prevResult' in buildStdin(plugin, { name: 'n', cniVersion: '1.0.0' })));
});

const RUNTIME: Array<[string, Record<string, unknown> | undefined, Record<string, unknown> | undefined, Record<string, unknown> | undefined]> = [
  ['no capabilities', undefined, { mac: '02:00:00:00:00:01' }, undefined],
  ['only declared-true capabilities', { mac: true, ips: false, portMappings: true }, { mac: '02:00:00:00:00:01', ips: ['10.0.0.9/24'], bandwidth: { rate: 1 } }, { mac: '02:00:00:00:00:01' }],
  ['declared but not offered', { mac: true }, { ips: ['10.0.0.9/24'] }, undefined],
  ['undefined values skipped', { mac: true, ips: true }, { mac: undefined, ips: ['10.0.0.9/24'] }, { ips: ['10.0.0.9/24'] }],
  ['truthy non-boolean is not a declaration', { mac: 'yes' }, { mac: '02:00:00:00:00:01' }, undefined],
  ['nothing offered', { mac: true }, undefined, undefined],
];
for (const [name, capabilities, offered, want] of RUNTIME) {
  test(`runtimeConfig: ${name}; capabilities and a stale runtimeConfig are dropped`, () => {
    const plugin: PluginConf = { type: 'macvlan', runtimeConfig: { mac: 'ff:ff:ff:ff:ff:ff', stale: 1 }, ...(capabilities ? { capabilities } : {}) };
    const out = buildStdin(plugin, { name: 'n', cniVersion: '1.1.0', ...(offered ? { runtimeConfig: offered } : {}) });
    assert.ok(!('capabilities' in out));
    if (want) assert.deepEqual(out.runtimeConfig, want);
    else assert.ok(!('runtimeConfig' in out), JSON.stringify(out));
    assert.deepEqual(plugin.runtimeConfig, { mac: 'ff:ff:ff:ff:ff:ff', stale: 1 }, 'plugin conf not mutated');
  });
}

test('extra keys are merged at the top level', () => {
  const valid = [{ containerID: 'c1', ifname: 'eth0' }];
  const out = buildStdin({ type: 'bridge', bridge: 'br0' }, { name: 'n', cniVersion: '1.1.0', extra: { 'cni.dev/valid-attachments': valid } });
  assert.deepEqual(out, { type: 'bridge', bridge: 'br0', name: 'n', cniVersion: '1.1.0', 'cni.dev/valid-attachments': valid });
});

const ERRORS: Array<[string, string, string, number | null, NodeJS.Signals | null, { code: number; message: string; details: string }]> = [
  [
    'error JSON on stdout',
    '{"cniVersion":"1.0.0","code":11,"msg":"try again","details":"lock held"}',
    'some log line\n',
    1,
    null,
    { code: 11, message: 'macvlan (green) ADD: try again', details: 'lock held' },
  ],
  ['stdout wins over stderr', '{"code":7,"msg":"from stdout"}', '{"code":5,"msg":"from stderr"}', 1, null, { code: 7, message: 'macvlan (green) ADD: from stdout', details: '' }],
  ['error JSON on stderr', 'not json', '  {"code":100,"msg":"MAC in use\\nelsewhere"}\n', 1, null, { code: 100, message: 'macvlan (green) ADD: MAC in use; elsewhere', details: '' }],
  ['JSON without a code is not an error', '{"cniVersion":"1.0.0","ips":[]}', 'failed to set up\n  link eth1\n', 2, null, { code: 999, message: 'macvlan (green) ADD: exited with status 2: failed to set up', details: '' }],
  ['stderr text with exit status', '', 'panic: runtime error\n', 2, null, { code: 999, message: 'macvlan (green) ADD: exited with status 2: panic: runtime error', details: '' }],
  ['stdout text when stderr is empty', 'oops', '', 3, null, { code: 999, message: 'macvlan (green) ADD: exited with status 3: oops', details: '' }],
  ['no output at all', '', '', 1, null, { code: 999, message: 'macvlan (green) ADD: exited with status 1', details: '' }],
  ['killed by a signal', '', '', null, 'SIGKILL', { code: 999, message: 'macvlan (green) ADD: killed by SIGKILL', details: '' }],
];
for (const [name, stdout, stderr, status, signal, want] of ERRORS) {
  test(`pluginError: ${name}`, () => {
    const e = pluginError('macvlan (green) ADD', stdout, stderr, status, signal);
    assert.deepEqual({ code: e.code, message: e.message, details: e.details }, want);
  });
}

test('pluginError keeps only the first line of stderr, at most 300 characters: no stack trace reaches stdout', () => {
  const e = pluginError('x DEL', '', `${'a'.repeat(400)}\ngoroutine 1 [running]:\nmain.main()`, 1, null);
  assert.equal(e.message, `x DEL: exited with status 1: ${'a'.repeat(300)}`);
  const g = pluginError('x ADD', '', 'panic: boom\n\ngoroutine 1 [running]:\n\t/src/main.go:12', 2, null);
  assert.equal(g.message, 'x ADD: exited with status 2: panic: boom');
});
