// Test API server launcher: `node --import tsx test/apiserver/main.ts [--dir DIR] [seed.json]` serves until SIGINT/SIGTERM.
import { readFileSync } from 'node:fs';
import { startApiServer } from './server';
import type { KubeObject } from './store';

async function main(argv: string[]): Promise<void> {
  let dir: string | undefined;
  let seed: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--dir') dir = argv[++i];
    else if (argv[i] === '-h' || argv[i] === '--help') {
      process.stdout.write('usage: main.ts [--dir DIR] [seed.json]\nPrints the kubeconfig path on stdout, then serves until SIGINT/SIGTERM.\n');
      return;
    } else seed = argv[i];
  }
  const objects: KubeObject[] = seed ? (JSON.parse(readFileSync(seed, 'utf8')) as KubeObject[]) : [];
  if (!Array.isArray(objects)) throw new Error(`${seed}: expected a JSON array of objects`);
  const api = await startApiServer({ dir });
  for (const o of objects) api.put(o);
  process.stdout.write(`${api.kubeconfig}\n`);
  process.stderr.write(
    `apiserver: ${api.url} (${objects.length} objects seeded)\n` +
      `  kubeconfig (token inline): ${api.kubeconfig}\n  kubeconfig (tokenFile):    ${api.kubeconfigTokenFile}\n  CA: ${api.caFile}\n`,
  );
  const stop = (sig: string): void => {
    process.stderr.write(`apiserver: ${sig}, stopping after ${api.requests.length} requests\n`);
    void api.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`apiserver: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
