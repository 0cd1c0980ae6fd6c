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

it('VERSION and a DEL served from the cache never load the Kubernetes client; an API ADD does', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'macmux-lazy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { bundleOptions } = (await import(join(ROOT, 'scripts', 'bundle-options.mjs'))) as {
    bundleOptions: (root: string, o: { entry: string; outfile: string; version: string }) => Parameters<typeof build>[0];
  };
  const outfile = join(dir, 'macmux.cjs');
  await build({ ...bundleOptions(ROOT, { entry: join(ROOT, 'cmd', 'main.ts'), outfile, version: 'test' }), minify: false });
  // Instrument the client's module initializer so that running it leaves a mark on stderr.
  const marker = '"node_modules/@kubernetes/client-node/dist/config.js"() {';
  const text = readFileSync(outfile, 'utf8');
  assert.ok(text.includes(marker), 'the bundle holds the client, wrapped in a lazy initializer');
  writeFileSync(outfile, text.replace(marker, `${marker} process.stderr.write("CLIENT-LOADED\\n");`));

  writeFileSync(join(dir, 'fake'), `#!/bin/sh\ncat >/dev/null\n[ "$CNI_COMMAND" = ADD ] && echo '{"cniVersion":"1.0.0","interfaces":[{"name":"'$CNI_IFNAME'","sandbox":"'$CNI_NETNS'"}]}'\nexit 0\n`, { mode: 0o755 });
  const conf = { cniVersion: '1.0.0', name: 'm', type: 'macmux', cacheDir: join(dir, 'state'), binDir: dir, delegates: [{ name: 'c', type: 'fake' }] };
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n');
  const run = (command: string, c: object, args = '') =>
    spawnSync(process.execPath, [outfile], {
      input: JSON.stringify(c),
      encoding: 'utf8',
      env: { PATH: process.env.PATH, CNI_COMMAND: command, CNI_CONTAINERID: 'lazy1', CNI_NETNS: '/run/netns/none', CNI_IFNAME: 'eth0', CNI_PATH: dir, CNI_ARGS: args },
    });
  const podArgs = 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=p';

  assert.equal(run('VERSION', {}).stderr, '');
  const add = run('ADD', conf); // no kubeconfig: static, fills the cache
  assert.equal(add.status, 0, add.stdout);
  const del = run('DEL', { ...conf, kubeconfig }, podArgs);
  assert.equal(del.status, 0, del.stdout);
  assert.equal(del.stderr.includes('CLIENT-LOADED'), false, 'a cached DEL did not load the client');
  const apiAdd = run('ADD', { ...conf, kubeconfig, timeBudget: { add: 0.5 } }, podArgs);
  assert.equal(JSON.parse(apiAdd.stdout).code, 11);
  assert.ok(apiAdd.stderr.includes('CLIENT-LOADED'), 'control: an ADD that needs the API loads it');
});
