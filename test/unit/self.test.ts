// Unit tests for src/delegate/self.ts: a delegate that is macmux itself, by type or by the running executable's device and inode.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pluginSelfReason, refuseSelf, selfReason } from '../../src/delegate/self';
import { thrown } from './helpers';

// Under the tests the running executable is node: a link to it stands for the installed macmux.
const dir = mkdtempSync(join(tmpdir(), 'macmux-self-'));
after(() => rmSync(dir, { recursive: true, force: true }));
symlinkSync(process.execPath, join(dir, 'alias'));
writeFileSync(join(dir, 'other'), '#!/bin/sh\n', { mode: 0o755 });
copyFileSync(process.execPath, join(dir, 'copy'));

test('type macmux is refused wherever it is, even when not installed', () => {
  assert.equal(selfReason('macmux', undefined), 'its type is "macmux"');
  assert.equal(selfReason('macmux', join(dir, 'other')), 'its type is "macmux"');
});

test('the running executable under another name (a link) is refused by device and inode', () => {
  assert.equal(selfReason('alias', join(dir, 'alias')), `${join(dir, 'alias')} is the macmux executable itself`);
});

test('another file, a copy (caught by the environment mark instead) and a missing one are not', () => {
  assert.equal(selfReason('other', join(dir, 'other')), undefined);
  assert.equal(selfReason('copy', join(dir, 'copy')), undefined);
  assert.equal(selfReason('gone', join(dir, 'gone')), undefined);
  assert.equal(selfReason('bridge', undefined), undefined);
});

test('a plugin\'s IPAM plugin counts too', () => {
  assert.equal(pluginSelfReason({ type: 'other', ipam: { type: 'macmux' } }, [dir]), 'IPAM plugin of other "macmux": its type is "macmux"');
  assert.equal(pluginSelfReason({ type: 'other', ipam: { type: 'alias' } }, [dir]), `IPAM plugin of other "alias": ${join(dir, 'alias')} is the macmux executable itself`);
  assert.equal(pluginSelfReason({ type: 'other', ipam: { type: 'other' } }, [dir]), undefined);
  assert.equal(pluginSelfReason({ type: 'other', ipam: 'macmux' }, [dir]), undefined, 'an ipam that is not an object names no plugin');
});

test('refuseSelf gives code 7 naming the network and why', () => {
  const list = { name: 'evil', cniVersion: '1.0.0', plugins: [{ type: 'other' }, { type: 'alias' }] };
  const e = thrown(() => refuseSelf(list, 'NetworkAttachmentDefinition team-a/evil', [dir]));
  assert.equal(e.code, 7);
  assert.match(e.message, /^NetworkAttachmentDefinition team-a\/evil: plugin "alias": .* is the macmux executable itself; macmux never runs itself as a delegate/);
  refuseSelf({ ...list, plugins: [{ type: 'other' }] }, 'x', [dir]);
});
