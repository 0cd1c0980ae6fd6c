// npm run image: dist/macmux-image.tar, the OCI archive of the image the DaemonSet runs, built offline from dist/macmux (built first when missing) and this machine's libraries.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { buildImage, epochFromEnv } from './image/build';

const root = resolve(__dirname, '..');
const binary = resolve(process.env.MACMUX_BINARY ?? join(root, 'dist', 'macmux'));
const out = resolve(process.env.MACMUX_IMAGE_OUT ?? join(root, 'dist', 'macmux-image.tar'));
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
// Reproducible builds' convention; without it every file and the image are dated 1970-01-01.
const epoch = epochFromEnv();
if (epoch === undefined) {
  console.error(`image: SOURCE_DATE_EPOCH ${process.env.SOURCE_DATE_EPOCH} is not a time`);
  process.exit(1);
}

if (!existsSync(binary) && !process.env.MACMUX_BINARY) {
  console.error('image: dist/macmux missing: npm run build');
  execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: ['ignore', 2, 'inherit'], cwd: root });
}
const started = Date.now();
let b: ReturnType<typeof buildImage>;
try {
  b = buildImage({ binary, out, version, epoch });
} catch (e) {
  console.error(`${(e as Error).message}`);
  process.exit(1);
}
const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
console.log(`image: ${relative(process.cwd(), out) || out} ${b.ref}`);
console.log(`  files:  ${b.paths.filter((p) => !p.endsWith('/')).map((p) => `/${p}`).join(' ')}`);
console.log(`  digest: ${b.digest}`);
console.log(`  id:     ${b.id}`);
console.log(`  size:   ${mib(b.size)} (${b.size} bytes), in ${((Date.now() - started) / 1000).toFixed(1)} s`);
