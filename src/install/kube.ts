// install's own API client: credentials built from --server/--token-file/--ca-file, read afresh for every round of calls (no kubeconfig).
import { readFileSync } from 'node:fs';
import { KubeApi } from '../k8s/api';
import { kubeStore } from '../k8s/cmstore';
import type { Credentials } from '../k8s/credentials';
import { ApiTransport } from '../k8s/http';
import { nodeShare } from '../mac/census';
import { poolView } from '../mac/pool';
import { POOL_CM, type Leases } from '../mac/home';
import { intToMac, parseRange } from '../mac/range';
import type { Cm } from '../mac/store';
import { CopyError } from './token';
import type { MacPool } from './primary';

export interface ApiSettings {
  server: string;
  tokenFile: string;
  caFile: string;
  namespace: string;
}

function credentials(s: ApiSettings): Credentials {
  let token: string;
  try {
    token = readFileSync(s.tokenFile, 'utf8').trim();
  } catch (e) {
    throw new CopyError(`service-account token ${s.tokenFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; mount it or pass --token-file`);
  }
  let ca: Buffer | undefined;
  try {
    ca = readFileSync(s.caFile);
  } catch (e) {
    throw new CopyError(`cluster CA ${s.caFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; mount it or pass --ca-file`);
  }
  return { server: s.server, ca, rejectUnauthorized: true, ...(token ? { authorization: `Bearer ${token}` } : {}) };
}

/** Runs `fn` with a client whose token and CA were read just now; `budgetMs` bounds its requests and retries. */
export async function withApi<T>(s: ApiSettings, budgetMs: number, fn: (api: KubeApi) => Promise<T>): Promise<T> {
  const api = new KubeApi(new ApiTransport(credentials(s), budgetMs));
  try {
    return await fn(api);
  } finally {
    api.close();
  }
}

/** The range of the pool ConfigMap, or undefined when it does not exist (the ledger is then off unless --config sets macPool). */
export async function readPool(api: KubeApi, namespace: string): Promise<MacPool | undefined> {
  const cm = await api.getConfigMap(namespace, POOL_CM);
  if (!cm) return undefined;
  const d = cm.data ?? {};
  const where = `ConfigMap ${namespace}/${POOL_CM}`;
  const spec = parseRange(d.RANGE_START ?? '', d.RANGE_END ?? '', d.BLOCK_SIZE !== undefined ? Number(d.BLOCK_SIZE) : undefined, where);
  return { rangeStart: intToMac(spec.start), rangeEnd: intToMac(spec.end), ...(d.BLOCK_SIZE !== undefined ? { blockSize: spec.blockSize } : {}) };
}

/**
 * The metrics census's reads for `node`, one call per scan: the pool, then this node's homes (the
 * ConfigMaps of the blocks it leases, both lease styles) and one claims shard by rotation
 * (nodeShare), one GET each. Never a list: what a scan costs does not grow with the cluster.
 */
export function readNodeShare(s: ApiSettings, budgetMs: number, node: string): () => Promise<Cm[]> {
  let turn = 0;
  return () =>
    withApi(s, budgetMs, async (api) => {
      const store = kubeStore(api, s.namespace);
      const pool = await store.get(POOL_CM);
      let leases: Leases = {};
      try {
        leases = pool ? poolView(pool).leases : {};
      } catch {
        // a damaged pool: the census reports it
      }
      const rest = await Promise.all(nodeShare(leases, node, turn++).map((name) => store.get(name)));
      return [pool, ...rest].filter((c): c is Cm => c !== undefined);
    });
}
