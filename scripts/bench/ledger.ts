// Section 4: 8 concurrent ADDs on one node at an empty ledger and at 10,000 entries (other pods' holdings), in alternating chunks.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { ApiServer } from '../../test/apiserver/server';
import { encodeHolding, macKey } from '../../src/mac/holding';
import { leaseValue, ledgerCm } from '../../src/mac/home';
import { intToMac, macToInt } from '../../src/mac/range';
import { NETWORKS, PLUGIN_DIR } from './pod-world';
import { cleanEnv, ok, run, type Run } from './proc';
import type { Sandbox } from './sandbox';

const RANGE = { rangeStart: '02:be:00:00:00:00', rangeEnd: '02:be:00:ff:ff:ff' };
const BLOCK = 256;
const NAD = 'green';

/** One side of the comparison: its own node, state dir and ledger namespace (so the other side's ConfigMaps are invisible to it). */
interface Side {
  label: string;
  node: string;
  conf: Record<string, unknown>;
  latencies: number[];
  wallMs: number;
  /** ADDs that answered code 11 (API time budget or lock wait exhausted): a timing effect, reported, not fatal here */
  tryAgain: Run[];
}

export interface LedgerRound {
  label: string;
  latencies: number[];
  /** ADDs per second over the chunks' wall time */
  perSec: number;
  /** ADDs that failed with code 11 (their time is in `latencies`) */
  tryAgain: Run[];
}

/** The node already holds `entries` MACs for other pods of the namespace (same NAD), in blocks it leases, one ConfigMap per block: what a busy node's allocation walks past. */
function seed(api: ApiServer, namespace: string, node: string, entries: number): void {
  const blocks = Math.ceil(entries / BLOCK) + 1;
  const leases = Object.fromEntries(Array.from({ length: blocks }, (_, b) => [String(b), leaseValue(node, b)]));
  api.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'macmux-pool', namespace, labels: { 'macmux.io/ledger': 'pool' } }, data: { RANGE_START: RANGE.rangeStart, RANGE_END: RANGE.rangeEnd, BLOCK_SIZE: String(BLOCK), LEASES: JSON.stringify(leases) } });
  const start = macToInt(RANGE.rangeStart);
  const now = Math.floor(Date.now() / 1000);
  const data: Array<Record<string, string>> = Array.from({ length: blocks }, () => ({}));
  for (let i = 0; i < entries; i++) {
    data[Math.floor(i / BLOCK)]![macKey(intToMac(start + i))] = encodeHolding({ owner: `default/seed-${i}/${NAD}`, state: 'active', node, since: now - (i % 86400), uid: randomUUID() });
  }
  data.forEach((d, b) => {
    if (Object.keys(d).length > 0) api.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: ledgerCm(leaseValue(node, b)), namespace, labels: { 'macmux.io/ledger': 'block' } }, data: d });
  });
}

/** The CNI error code macmux printed, if any. */
function errorCode(r: Run): number | undefined {
  try {
    const code = (JSON.parse(r.stdout) as { code?: unknown }).code;
    return typeof code === 'number' ? code : undefined;
  } catch {
    return undefined;
  }
}

export async function ledgerThroughput(api: ApiServer, sb: Sandbox, binary: string, o: { concurrency: number; adds: number; chunk: number; seedEntries: number }): Promise<{ empty: LedgerRound; full: LedgerRound }> {
  const lower = sb.bridge('g');
  api.put({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: NAD, namespace: 'default' }, spec: { config: JSON.stringify({ cniVersion: '1.0.0', name: NAD, type: 'macvlan', master: lower, mode: 'bridge', capabilities: { mac: true } }) } });
  const side = (label: string, entries: number): Side => {
    const node = `mmbench-${label}`;
    const namespace = `mmbench-${label}`;
    api.put({ kind: 'Namespace', metadata: { name: namespace } });
    if (entries > 0) seed(api, namespace, node, entries);
    const cacheDir = join(sb.dir, `state-${node}`);
    mkdirSync(cacheDir, { recursive: true });
    const conf = { cniVersion: '1.0.0', name: 'macmux', type: 'macmux', cacheDir, kubeconfig: api.kubeconfig, nodeName: node, macNamespace: namespace, macPool: RANGE, delegates: [{ name: 'lo', type: 'loopback' }] };
    return { label, node, conf, latencies: [], wallMs: 0, tryAgain: [] };
  };
  const empty = side('empty', 0);
  const full = side('full', o.seedEntries);
  let seq = 0;

  /** `n` ADDs of new pods on `s`'s node, `o.concurrency` at a time; their netns made before and removed after. */
  const chunk = async (s: Side, n: number, keep: boolean) => {
    const jobs = Array.from({ length: n }, () => {
      const ns = sb.netns('g');
      const name = `${s.label}-${seq++}`;
      const pod = api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', annotations: { [NETWORKS]: NAD } } });
      const cid = `${sb.prefix}${name}`;
      return { ns, env: cleanEnv({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: cid, CNI_NETNS: `/run/netns/${ns}`, CNI_IFNAME: 'eth0', CNI_PATH: PLUGIN_DIR, CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=${cid};K8S_POD_UID=${pod.metadata!.uid}` }) };
    });
    try {
      let next = 0;
      const t0 = process.hrtime.bigint();
      let failed = false;
      // allSettled: on a failure, the other workers' running ADDs finish before their netns go.
      const settled = await Promise.allSettled(Array.from({ length: o.concurrency }, async () => {
        while (next < jobs.length && !failed) {
          const j = jobs[next++]!;
          const r = await run(binary, [], { env: j.env, input: JSON.stringify(s.conf), what: `macmux ADD (${j.env.CNI_CONTAINERID}, ledger ${s.label})` });
          if (r.status !== 0 && errorCode(r) === 11) s.tryAgain.push(r);
          else {
            failed ||= r.status !== 0;
            ok(r);
          }
          if (keep) s.latencies.push(r.ms);
        }
      }));
      for (const x of settled) if (x.status === 'rejected') throw x.reason;
      if (keep) s.wallMs += Number(process.hrtime.bigint() - t0) / 1e6;
    } finally {
      for (const j of jobs) sb.dropNetns(j.ns);
    }
  };

  // Untimed: each node leases its first block and reads its ConfigMaps once.
  await chunk(empty, 1, false);
  await chunk(full, 1, false);
  for (let done = 0, i = 0; done < o.adds; i++) {
    const n = Math.min(o.chunk, o.adds - done);
    for (const s of i % 2 === 0 ? [empty, full] : [full, empty]) await chunk(s, n, true);
    done += n;
  }
  const round = (s: Side): LedgerRound => ({ label: s.label, latencies: s.latencies, perSec: s.latencies.length / (s.wallMs / 1000), tryAgain: s.tryAgain });
  return { empty: round(empty), full: round(full) };
}
