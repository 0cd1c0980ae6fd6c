// Builds dist/macmux: esbuild bundles cmd/main.ts and its chunks, then @yao-pkg/pkg's sea() injects them into a stripped local node, offline.
import { buildBundles, cacheArgs, CHUNKS } from './chunks.mjs';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, chmodSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// MACMUX_OUT builds elsewhere (parallel work on one checkout); each output has its own work dir.
const out = resolve(process.env.MACMUX_OUT ?? join(root, 'dist', 'macmux'));
// The work dir stays inside the project, where `npx postject` finds the local postject.
const work = process.env.MACMUX_OUT ? join(root, '.build-out', out.replace(/[^A-Za-z0-9]+/g, '_')) : join(root, '.build');
const bundle = join(work, 'macmux.cjs');
const pkgVersion = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;

function fail(msg) {
  rmSync(out, { force: true }); // never leave a plain node where the app should be
  console.error(`build: FAILED: ${msg}`);
  process.exit(1);
}

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
mkdirSync(dirname(out), { recursive: true });
rmSync(out, { force: true });

// 1. CommonJS bundles, the four optional requires pointing at a stub: the main script, which VERSION alone
// runs, and each chunk it loads on demand (the verbs, the operator CLI), wrapped for cmd/chunk.ts.
const assets = await buildBundles(root, { outfile: bundle, dir: work, version: pkgVersion });

// 2. The base binary: this node, stripped (about 12 MB less, same behaviour).
const base = join(work, 'node');
copyFileSync(process.execPath, base);
chmodSync(base, 0o755);
try {
  execFileSync('strip', [base], { stdio: 'inherit' });
} catch {
  console.error('build: strip unavailable; keeping the unstripped node');
}

// The chunks' code caches, made by this node, which the binary is.
for (const c of CHUNKS) execFileSync(base, cacheArgs(root, c, assets), { stdio: 'inherit', cwd: work });

// 3. SEA through pkg's sea(), offline: absolute output path, TMPDIR inside the project so npx finds postject.
process.env.TMPDIR = work;
const { default: sea } = await import('@yao-pkg/pkg/lib-es5/sea.js').then((m) => m.default ?? m);
const major = process.versions.node.split('.')[0];
await sea(bundle, {
  targets: [{ nodeRange: `node${major}`, platform: 'linux', arch: process.arch, output: out }],
  nodePath: base,
  seaConfig: { disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: true, assets },
});

// 4. pkg swallows injection failures: prove the result is the app and not a plain node.
let printed = '';
try {
  // From an empty directory, so a plain node could not pick up a ./version script.
  printed = execFileSync(out, ['version'], { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 20000, cwd: mkdtempSync(join(work, 'check-')) });
} catch (e) {
  fail(`${out} does not run: ${e.message}`);
}
if (!printed.startsWith(`macmux ${pkgVersion}`)) fail(`${out} is not the bundled app (printed ${JSON.stringify(printed.slice(0, 200))})`);
// 5. The binary accepts the verb chunk's code cache (else every verb compiles the chunk: tens of ms): a verb on an
// invalid config loads the chunk, and its phase line (level 3) would hold the span chunk-cache-rejected.
const phases = spawnSync(out, [], {
  input: '{"cniVersion":"1.0.0"}',
  encoding: 'utf8',
  env: { PATH: process.env.PATH, CNI_COMMAND: 'CHECK', CNI_CONTAINERID: 'build-check', CNI_NETNS: '/run/netns/build-check', CNI_IFNAME: 'eth0', CNI_PATH: '/nonexistent', _CNI_LOGGING_LEVEL: '3' },
  timeout: 20000,
  cwd: mkdtempSync(join(work, 'check-')),
});
const line = phases.stderr?.split('\n').find((l) => l.includes(' phases v=1 ')) ?? '';
if (!/ chunk=/.test(line)) fail(`${out} printed no phase line with the verb chunk's load (stderr ${JSON.stringify((phases.stderr ?? '').slice(0, 400))})`);
if (line.includes('chunk-cache-rejected')) fail(`${out} refuses the verb chunk's code cache (${line})`);
rmSync(work, { recursive: true, force: true });
console.log(`build: ${out} (${(statSync(out).size / 1048576).toFixed(1)} MiB) ${printed.trim()}`);
