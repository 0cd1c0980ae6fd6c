// Loads a chunk of the binary: a bundle shipped as a SEA asset, compiled with the V8 code cache made at build time.
import { getRawAsset } from 'node:sea';
import { mark, sinceStart } from '../src/util/phases';

type Wrapped = (exports: object, require: NodeJS.Require, module: { exports: object }) => void;

/**
 * Runs chunk `name` once and returns its exports. The build wraps each chunk in a CommonJS function
 * and ships `<name>.js` with `<name>.cache`, the code V8 compiled for it; a cache V8 refuses (another
 * node, other V8 flags) only costs a full compile, and shows in the phase line as the span
 * `chunk-cache-rejected` (the build and test/integration/build.test.ts check that it never does).
 */
export function loadChunk(name: string): object {
  // The assets where the binary holds them, not copies (getAsset copies: about 1 MiB more memory for the verbs); V8 only reads them.
  const source = asset(`${name}.js`).toString('utf8');
  const cachedData = asset(`${name}.cache`);
  // Required here, not at the top: VERSION, which loads no chunk, never loads node:vm.
  const { Script } = require('node:vm') as typeof import('node:vm');
  const script = new Script(source, { filename: `macmux:${name}.js`, cachedData });
  if (script.cachedDataRejected !== false) mark('chunk-cache-rejected', sinceStart(), sinceStart());
  const module = { exports: {} };
  (script.runInThisContext() as Wrapped)(module.exports, require, module);
  return module.exports;
}

/** A view of SEA asset `key` in the binary's own memory; never written to. */
function asset(key: string): Buffer {
  return Buffer.from(getRawAsset(key) as ArrayBuffer);
}
