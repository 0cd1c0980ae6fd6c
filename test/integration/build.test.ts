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

it('usage errors exit 2 in every command, and --help exits 0', () => {
  const run = (args: string[]) => spawnSync(BINARY, args, { encoding: 'utf8', env: { PATH: process.env.PATH } });
  for (const args of [['frobnicate'], ['doctor', '--bogus'], ['install', '--once', '--bogus'], ['ledger', 'list', '--bogus'], ['name']]) {
    const r = run(args);
    assert.equal(r.status, 2, `macmux ${args.join(' ')}: ${r.status} ${r.stderr}`);
    assert.match(r.stderr, /error: /);
  }
  for (const args of [['--help'], ['doctor', '--help'], ['install', '--help'], ['ledger', 'gc', '--help']]) {
    const r = run(args);
    assert.equal(r.status, 0, `macmux ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /^Usage: macmux/);
  }
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

it('VERSION runs the main script alone; a verb loads only the verb chunk, a CLI command only the CLI chunk', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'macmux-lazy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // The build's bundles, with node:sea standing in for the binary's assets: files beside the bundle, each chunk load marked on stderr.
  const sea = join(dir, 'sea-shim.js');
  writeFileSync(sea, `const { readFileSync } = require('node:fs');
exports.getRawAsset = (key) => {
  if (key.endsWith('.js')) process.stderr.write('CHUNK-LOADED ' + key + '\\n');
  const b = readFileSync(require('node:path').join(__dirname, key));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
};`);
  const { buildBundles, cacheArgs, CHUNKS } = (await import(join(ROOT, 'scripts', 'chunks.mjs'))) as {
    buildBundles: (root: string, o: { outfile: string; dir: string; version: string; plugins: unknown[] }) => Promise<Record<string, string>>;
    cacheArgs: (root: string, c: object, assets: Record<string, string>) => string[];
    CHUNKS: Array<{ name: string }>;
  };
  const outfile = join(dir, 'macmux.cjs');
  const shim = { name: 'sea-shim', setup: (b: { onResolve: (o: { filter: RegExp }, f: () => { path: string }) => void }) => b.onResolve({ filter: /^node:sea$/ }, () => ({ path: sea })) };
  const assets = await buildBundles(ROOT, { outfile, dir, version: 'test', plugins: [shim] });
  for (const c of CHUNKS) assert.equal(spawnSync(process.execPath, cacheArgs(ROOT, c, assets)).status, 0, `code cache of ${c.name}`);
  assert.deepEqual(Object.keys(assets).sort(), ['cli.cache', 'cli.js', 'verb.cache', 'verb.js']);
  assert.ok(!readFileSync(outfile, 'utf8').includes('ajv'), 'the main script holds no schema validator');
  assert.doesNotMatch(readFileSync(assets['verb.js']!, 'utf8'), /CodeGen/, 'the verbs ship precompiled validators, not the schema compiler');

  writeFileSync(join(dir, 'fake'), `#!/bin/sh\ncat >/dev/null\n[ "$CNI_COMMAND" = ADD ] && echo '{"cniVersion":"1.0.0","interfaces":[{"name":"'$CNI_IFNAME'","sandbox":"'$CNI_NETNS'"}]}'\nexit 0\n`, { mode: 0o755 });
  const conf = { cniVersion: '1.0.0', name: 'm', type: 'macmux', cacheDir: join(dir, 'state'), binDir: dir, delegates: [{ name: 'c', type: 'fake' }] };
  const run = (command: string, args: string[] = [], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [outfile, ...args], {
      input: JSON.stringify(conf),
      encoding: 'utf8',
      env: { PATH: process.env.PATH, ...(command ? { CNI_COMMAND: command } : {}), CNI_CONTAINERID: 'lazy1', CNI_NETNS: '/run/netns/none', CNI_IFNAME: 'eth0', CNI_PATH: dir, ...env },
    });
  const loaded = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('CHUNK-LOADED')).map((l) => l.split(' ')[1]);

  const version = run('VERSION');
  assert.equal(version.status, 0);
  assert.ok(JSON.parse(version.stdout).supportedVersions.includes('1.1.0'), version.stdout);
  assert.deepEqual(loaded(version.stderr), []);
  const add = run('ADD');
  assert.equal(add.status, 0, add.stdout);
  assert.equal(JSON.parse(add.stdout).interfaces[0].name, 'eth0');
  assert.deepEqual(loaded(add.stderr), ['verb.js']);
  // V8 takes the verb chunk's code cache; one it refuses costs a full compile and shows in the phase line.
  const phaseLine = (stderr: string) => stderr.split('\n').find((l) => l.includes(' phases v=1 ')) ?? '';
  const check = run('CHECK', [], { _CNI_LOGGING_LEVEL: '3' });
  assert.match(phaseLine(check.stderr), / chunk=/, check.stderr);
  assert.doesNotMatch(phaseLine(check.stderr), /chunk-cache-rejected/);
  const cache = readFileSync(assets['verb.cache']!);
  writeFileSync(assets['verb.cache']!, cache.subarray(0, cache.length >> 1));
  const refused = run('CHECK', [], { _CNI_LOGGING_LEVEL: '3' });
  assert.equal(refused.status, check.status, refused.stdout);
  assert.match(phaseLine(refused.stderr), / chunk-cache-rejected=/, refused.stderr);
  writeFileSync(assets['verb.cache']!, cache);
  const cli = run('', ['name', 'green']);
  assert.equal(cli.stdout, 'net9f27410725ab\n');
  assert.deepEqual(loaded(cli.stderr), ['cli.js']);

  // A binary whose verb chunk is missing or damaged still answers a verb with one error JSON, not a stack trace.
  rmSync(assets['verb.js']!);
  const broken = run('ADD');
  assert.equal(broken.status, 1);
  assert.equal(JSON.parse(broken.stdout).code, 999, broken.stdout);
  assert.match(JSON.parse(broken.stdout).msg, /verb\.js/);
});
