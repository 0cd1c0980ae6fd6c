// The built executable: the CLI answers, and the optional-require stubs keep bundled libraries working and silent.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { BINARY, ROOT } from './harness';

it('macmux name prints net + md5(name)[:12], and version the package version', () => {
  const name = spawnSync(BINARY, ['name', 'green'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
  assert.equal(name.status, 0);
  assert.equal(name.stdout, 'net9f27410725ab\n');
  assert.equal(name.stderr, '');
  const version = spawnSync(BINARY, ['version'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.match(version.stdout, new RegExp(`^macmux ${pkg.version.replace(/\./g, '\\.')} \\(CNI 0\\.1\\.0, .*1\\.1\\.0\\)\\n$`));
  const bad = spawnSync(BINARY, ['frobnicate'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
  assert.notEqual(bad.status, 0);
  assert.equal(bad.stdout, '');
});

it('a library bundled with the stubs (ws) takes its pure-JS fallback instead of calling a stub', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'macmux-stub-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const entry = join(dir, 'entry.js');
  writeFileSync(entry, `const { mask } = require(${JSON.stringify(join(ROOT, 'node_modules', 'ws', 'lib', 'buffer-util.js'))});
const src = Buffer.from('hello, masked world'); const out = Buffer.alloc(src.length);
mask(src, Buffer.from([1, 2, 3, 4]), out, 0, src.length);
process.stdout.write(out.toString('hex'));`);
  const { bundleOptions } = (await import(join(ROOT, 'scripts', 'bundle-options.mjs'))) as {
    bundleOptions: (root: string, o: { entry: string; outfile: string; version: string }) => Parameters<typeof build>[0];
  };
  const outfile = join(dir, 'out.cjs');
  await build({ ...bundleOptions(ROOT, { entry, outfile, version: 'test' }), minify: false });
  assert.ok(readFileSync(outfile, 'utf8').includes('stubbed out of the macmux bundle'), 'the stub is in the bundle');
  const r = spawnSync(process.execPath, [outfile], { encoding: 'utf8' });
  assert.equal(r.stderr, '');
  assert.equal(r.status, 0);
  const expected = Buffer.from('hello, masked world').map((b, i) => b ^ [1, 2, 3, 4][i % 4]!);
  assert.equal(r.stdout, Buffer.from(expected).toString('hex'));
});
