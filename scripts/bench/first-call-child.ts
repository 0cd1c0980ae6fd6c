// Bundled and run by section 6 (first-call.ts) in a fresh Node process: one API GET over HTTPS with or without the fast path; prints its time in ms.
import { request, Agent } from 'node:https';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { httpsAgent } from '../../src/k8s/agent';

const [server, caFile, token, mode] = process.argv.slice(2) as [string, string, string, 'fast' | 'full'];
const url = new URL(server);

/** The time from making the agent (with the CA bundle already read, as the kubeconfig loader does) to the response's end. */
function firstCall(): Promise<number> {
  const ca = readFileSync(caFile);
  const t0 = performance.now();
  // full: what agent.ts builds when the fast path does not apply, OpenSSL's verification with the CA.
  const agent = mode === 'fast' ? httpsAgent({ server, ca, rejectUnauthorized: true }, url.hostname, () => {}) : new Agent({ keepAlive: true, ca, rejectUnauthorized: true });
  return new Promise((resolve, reject) => {
    const req = request({ hostname: url.hostname, port: url.port, path: '/api/v1/namespaces/default', headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' }, agent }, (res) => {
      res.resume();
      res.on('end', () => {
        const ms = performance.now() - t0;
        agent.destroy();
        if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
        else resolve(ms);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

firstCall().then(
  (ms) => process.stdout.write(`${ms}\n`),
  (e: Error) => {
    process.stderr.write(`${e.message}\n`);
    process.exitCode = 1;
  },
);
