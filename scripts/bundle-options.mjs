// The esbuild options for the single-file bundle, shared by the build and the test that checks the stubs.
import { join } from 'node:path';

/** Optional native helpers that esbuild leaves in the bundle; each is aliased to a stub that fails like a missing module. */
export const OPTIONAL_REQUIRES = ['encoding', 'supports-color', 'bufferutil', 'utf-8-validate'];

export function bundleOptions(root, { entry, outfile, version }) {
  const stub = join(root, 'scripts', 'stubs', 'optional.cjs');
  return {
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile,
    minify: true,
    keepNames: true,
    legalComments: 'none',
    logLevel: 'warning',
    define: { __MACMUX_VERSION__: JSON.stringify(version) },
    alias: Object.fromEntries(OPTIONAL_REQUIRES.map((m) => [m, stub])),
  };
}
