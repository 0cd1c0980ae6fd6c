// Section 6: the first API call of a fresh process with the TLS fast path (src/k8s/agent.ts) and without it (OpenSSL's verification, which loads Node's root store), interleaved run by run.
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import type { ApiServer } from '../../test/apiserver/server';
import { cleanEnv, ok, run } from './proc';

export interface FirstCalls {
  /** in-process time of the first GET, in ms */
  fast: number[];
  full: number[];
}

export async function firstApiCalls(api: ApiServer, dir: string, runs: number): Promise<FirstCalls> {
  const child = join(dir, 'first-call.js');
  buildSync({ entryPoints: [resolve(__dirname, 'first-call-child.ts')], bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile: child, logLevel: 'error' });
  const s: FirstCalls = { fast: [], full: [] };
  const once = async (mode: 'fast' | 'full') => {
    const r = ok(await run(process.execPath, [child, api.url, api.caFile, api.token, mode], { env: cleanEnv(), what: `first API call (${mode})` }));
    return Number(r.stdout.trim());
  };
  // One untimed run each: the page cache holds node and the script.
  await once('fast');
  await once('full');
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? (['fast', 'full'] as const) : (['full', 'fast'] as const);
    for (const mode of order) s[mode].push(await once(mode));
  }
  return s;
}
