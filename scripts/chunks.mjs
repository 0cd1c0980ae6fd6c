// The binary's chunks: modules the main script loads only when needed, each shipped as a SEA asset with its V8 code cache.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { bundleOptions } from './bundle-options.mjs';

/**
 * Each chunk: the module that is its entry, relative to the project root; `eager` puts all its functions in its
 * code cache (the verbs: compiling what an ADD calls costs about 10 ms at run time, the larger cache about 1 ms
 * to read), not only its top level (the CLI, run by hand).
 */
export const CHUNKS = [
  { name: 'verb', entry: 'src/run/verb.ts', eager: true },
  { name: 'cli', entry: 'src/cli/program.ts', eager: false },
];

/** The arguments of scripts/chunk-cache.cjs for chunk `c` of the bundles `assets` (from buildBundles). */
export const cacheArgs = (root, c, assets) => [join(root, 'scripts', 'chunk-cache.cjs'), assets[`${c.name}.js`], assets[`${c.name}.cache`], ...(c.eager ? ['--eager'] : [])];

/** The CommonJS function a chunk's bundle is wrapped in; cmd/chunk.ts calls it with (exports, require, module). */
export const wrapChunk = (code) => `(function (exports, require, module) {${code}\n})`;

/**
 * An esbuild plugin for the main script: an import of a chunk's entry becomes a call to cmd/chunk.ts's
 * loadChunk, so the chunk's code stays out of the main script.
 */
export function chunkPlugin(root) {
  const byPath = new Map(CHUNKS.map((c) => [resolve(root, c.entry), c.name]));
  const loader = resolve(root, 'cmd', 'chunk.ts');
  return {
    name: 'macmux-chunks',
    setup(b) {
      b.onResolve({ filter: /^\.\.?\// }, (args) => {
        const abs = resolve(args.resolveDir, args.path);
        const name = byPath.get(abs) ?? byPath.get(`${abs}.ts`);
        return name ? { path: name, namespace: 'macmux-chunk' } : undefined;
      });
      b.onLoad({ filter: /.*/, namespace: 'macmux-chunk' }, (args) => ({
        contents: `module.exports = require(${JSON.stringify(loader)}).loadChunk(${JSON.stringify(args.path)});`,
        resolveDir: root,
        loader: 'js',
      }));
    },
  };
}

/**
 * Bundles the main script (cmd/main.ts, `outfile`) and every chunk into `dir` as `<name>.js`; returns the
 * SEA assets by key, `<name>.cache` naming where the chunk's code cache is to be written. `overrides`: esbuild
 * options over the build's (scripts/profile.ts builds without minifying).
 */
export async function buildBundles(root, { outfile, dir, version, plugins = [], overrides = {} }) {
  const validators = await precompiledValidators(root, dir);
  await build({ ...bundleOptions(root, { entry: join(root, 'cmd', 'main.ts'), outfile, version }), ...overrides, plugins: [chunkPlugin(root), validators, ...plugins] });
  const assets = {};
  for (const c of CHUNKS) {
    const file = join(dir, `${c.name}.js`);
    await build({ ...bundleOptions(root, { entry: join(root, c.entry), outfile: file, version }), ...overrides, plugins: [validators] });
    writeFileSync(file, wrapChunk(readFileSync(file, 'utf8')));
    assets[`${c.name}.js`] = file;
    assets[`${c.name}.cache`] = join(dir, `${c.name}.cache`);
  }
  return assets;
}

/**
 * An esbuild plugin that replaces src/config/validators.ts with the standalone code ajv generates for
 * it now, so the binary never compiles the schema (tens of ms on every ADD, DEL and CHECK).
 */
async function precompiledValidators(root, dir) {
  const module = resolve(root, 'src', 'config', 'validators.ts');
  const generator = join(dir, 'validators-gen.cjs');
  await build({
    stdin: { contents: `process.stdout.write(require(${JSON.stringify(module)}).precompiledSource());`, resolveDir: root, loader: 'js' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: generator,
    logLevel: 'warning',
  });
  const source = execFileSync(process.execPath, [generator], { encoding: 'utf8' });
  return {
    name: 'macmux-validators',
    setup(b) {
      b.onResolve({ filter: /\/validators$/ }, (args) => (resolve(args.resolveDir, `${args.path}.ts`) === module ? { path: module, namespace: 'macmux-validators' } : undefined));
      b.onLoad({ filter: /.*/, namespace: 'macmux-validators' }, () => ({ contents: source, resolveDir: dirname(module), loader: 'js' }));
    },
  };
}
