// npm run bench: one markdown table of macmux against its baselines (node -e 0, the bare delegates, an empty ledger), measured side by side in one run.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { startApiServer, type ApiServer } from '../test/apiserver/server';
import { ledgerThroughput } from './bench/ledger';
import { envWarnings, machineLine } from './bench/machine';
import { PodWorld } from './bench/pod-world';
import { evict, OperationFailed, TIME, type Run } from './bench/proc';
import { firstApiCalls } from './bench/first-call';
import { cachedDels, record, roundTrips } from './bench/roundtrip';
import { Sandbox } from './bench/sandbox';
import { median, mib, ms, percentile, rankFromTop, ratio, verdict } from './bench/stats';
import { renderTable, type Row } from './bench/table';
import { OBJECT_LIMIT, SCALE_DEFAULTS, simulate, type ScaleFigures } from './bench/scale';
import { BINARY_SCALE_DEFAULTS as BIN, scaleThroughBinary, type BinaryScaleFigures } from './bench/scale-binary';
import { nodeRss, versionColdStart } from './bench/version';
import { generatedRequests, phaseNotes, phaseRuns, renderPhases, REQUESTS, ROUND_TRIPS } from './bench/phases';

const binary = resolve(process.env.MACMUX_BINARY ?? resolve(__dirname, '..', 'dist', 'macmux'));
/** Runs per side for sections 1-3 (MMBENCH_RUNS overrides, for a quick look; docs/benchmarks.md's figures use the default). */
const RUNS = Math.max(1, Number(process.env.MMBENCH_RUNS ?? 20));
const VERSION_RUNS = Math.max(RUNS, 30);
const LEDGER = { concurrency: 8, adds: Math.max(8, Number(process.env.MMBENCH_ADDS ?? 96)), chunk: 16, seedEntries: 10_000 };

/** Section 8a's size (MMBENCH_SCALE_NODES × MMBENCH_SCALE_ADDS), compared with the same ADDs per node at 10 nodes; 8b's (MMBENCH_SCALE_BIN_NODES × MMBENCH_SCALE_BIN_PODS). */
const SCALE = {
  nodes: Math.max(10, Number(process.env.MMBENCH_SCALE_NODES ?? 1000)),
  adds: Math.max(1, Number(process.env.MMBENCH_SCALE_ADDS ?? 200)),
  binNodes: Math.max(2, Number(process.env.MMBENCH_SCALE_BIN_NODES ?? 20)),
  binPods: Math.max(4, Number(process.env.MMBENCH_SCALE_BIN_PODS ?? 20)),
};

/** Issue 16's targets for 1, 2, 3, 5 and 7 (ADD and DEL of section 2's pod: API requests); 4 and 8 are issue 15's. */
const TARGET = { version: 1.1, overheadMs: 100, cachedDel: 1.5, ledger: 1.2, rss: 1.15, addRequests: 6, delRequests: 2, writesPerAdd: 1.05, flat: 1.2 };

/**
 * MMBENCH_ONLY: a list of sections such as 2,3 (5 comes with 2), `phases` for 7, `scale` for 8 (`scale-a`,
 * `scale-b`: one of its two parts alone); all sections without it.
 */
const ALIAS: Record<string, string> = { phases: '7', scale: '8' };
const ONLY = new Set((process.env.MMBENCH_ONLY ?? '').split(',').map((s) => ALIAS[s.trim()] ?? s.trim()).filter(Boolean));
const want = (section: string) => ONLY.size === 0 || ONLY.has(section);


/** "met" / "missed by ..." for a ratio target, with what the excess means in ms. */
function ratioVerdict(value: number, base: number, limit: number): string {
  const v = verdict(value / base, { limit, show: ratio });
  return v === 'met' ? v : `${v}, ${ms(value - limit * base)} over the allowance`;
}


async function main(): Promise<void> {
  for (const w of envWarnings()) console.log(w);
  const part = ONLY.has('scale-a') ? 'scale-a' : ONLY.has('scale-b') ? 'scale-b' : undefined;
  if (part) return only(part);
  if (!existsSync(binary)) throw new Error(`no binary at ${binary}: run npm run build, or set MACMUX_BINARY`);
  if (!existsSync(TIME)) throw new Error(`${TIME} is missing (Debian package "time"): the bench reads peak RSS from it`);
  console.log(machineLine(binary, RUNS));
  // The binary read from disk, as node's own is: the build just wrote it, and a file's RSS depends on how it came into the page cache.
  evict(binary);
  const rows: Row[] = [];
  const notes: string[] = [];
  /** Operations that failed without stopping the bench (section 4's code 11 under load, 8b's invocations): printed after the table, exit 1. */
  const failures: Run[] = [];
  /** Section 8a's operations that failed: printed after the table, exit 1. */
  const errors: string[] = [];

  /** Section 7's table, printed after the main one. */
  let phaseTable = '';
  /** `node -e 0`'s peak RSS, from section 1 (section 5 measures it itself when 1 is not run). */
  let nodeRssKiB: number[] = [];

  // 1. VERSION cold start
  if (want('1')) {
    const v = await versionColdStart(binary, VERSION_RUNS);
    const [vMs, nMs] = [median(v.ms), median(v.baseMs)];
    rows.push({ measure: `1. VERSION cold start, wall (median of ${VERSION_RUNS})`, value: ms(vMs), baseline: `${ms(nMs)} (\`node -e 0\`); ratio ${ratio(vMs / nMs)}`, target: `≤ ${TARGET.version}× \`node -e 0\``, verdict: ratioVerdict(vMs, nMs, TARGET.version) });
    rows.push({ measure: '1. VERSION peak RSS (median)', value: mib(median(v.rssKiB)), baseline: `${mib(median(v.baseRssKiB))} (\`node -e 0\`); ratio ${ratio(median(v.rssKiB) / median(v.baseRssKiB))}` });
    nodeRssKiB = v.baseRssKiB;
  }

  const sb = new Sandbox();
  let api: ApiServer | undefined;
  try {
    api = await startApiServer();
    const world = await PodWorld.create(api, sb, binary);
    const rec = await record(world);

    // 2. ADD+DEL round trip (and 5. ADD's peak RSS)
    const rt = want('2') || want('5') ? await roundTrips(world, rec, RUNS) : undefined;
    if (rt && want('2')) {
      const [tot, bareTot] = [median(rt.total), median(rt.bareTotal)];
      rows.push({ measure: `2. ADD+DEL round trip, pod with eth0 + 2 attachments (median of ${RUNS})`, value: ms(tot), baseline: `${ms(bareTot)} (bare delegates); ratio ${ratio(tot / bareTot)}, overhead ${ms(tot - bareTot)}`, target: `overhead ≤ ${TARGET.overheadMs} ms`, verdict: verdict(tot - bareTot, { limit: TARGET.overheadMs, show: ms }) });
      rows.push({ measure: '2. … of which ADD (median)', value: ms(median(rt.add)), baseline: `${ms(median(rt.bareAdd))}; overhead ${ms(median(rt.add) - median(rt.bareAdd))}` });
      rows.push({ measure: '2. … of which DEL, API up (median)', value: ms(median(rt.del)), baseline: `${ms(median(rt.bareDel))}; overhead ${ms(median(rt.del) - median(rt.bareDel))}` });
    }

    // 3. DEL from the cache with the API down
    if (want('3')) {
      const cd = await cachedDels(world, rec, RUNS);
      const [del, bareDel] = [median(cd.del), median(cd.bareDel)];
      rows.push({ measure: `3. DEL from the cache, API down (median of ${RUNS})`, value: ms(del), baseline: `${ms(bareDel)} (bare delegates' DEL); ratio ${ratio(del / bareDel)}`, target: `≤ ${TARGET.cachedDel}×`, verdict: ratioVerdict(del, bareDel, TARGET.cachedDel) });
    }

    // 4. Ledger allocation throughput
    if (want('4')) {
      const { empty, full } = await ledgerThroughput(api, sb, binary, LEDGER);
      const p = (xs: number[]) => `p50 ${ms(percentile(xs, 50))} / p99 ${ms(percentile(xs, 99))}`;
      rows.push({ measure: `4. ADD with a pool MAC, ${LEDGER.concurrency} concurrent on one node, empty ledger (${empty.latencies.length} ADDs)`, value: `${p(empty.latencies)}; ${empty.perSec.toFixed(1)} ADD/s` });
      rows.push({ measure: `4. … the same at ${LEDGER.seedEntries.toLocaleString('en-US')} ledger entries (${full.latencies.length} ADDs)`, value: `${p(full.latencies)}; ${full.perSec.toFixed(1)} ADD/s` });
      const [p50e, p50f] = [percentile(empty.latencies, 50), percentile(full.latencies, 50)];
      const failed = [...empty.tryAgain, ...full.tryAgain];
      if (failed.length > 0) {
        rows.push({ measure: '4. ADDs that failed with code 11 (try again later)', value: `${empty.tryAgain.length} of ${empty.latencies.length} empty, ${full.tryAgain.length} of ${full.latencies.length} at ${LEDGER.seedEntries.toLocaleString('en-US')}`, target: 'none', verdict: '**missed** (their time counts in p50/p99)' });
        failures.push(...failed);
      }
      rows.push({ measure: `4. p50 at ${LEDGER.seedEntries.toLocaleString('en-US')} entries / p50 empty`, value: ratio(p50f / p50e), baseline: `p99 ratio ${ratio(percentile(full.latencies, 99) / percentile(empty.latencies, 99))}; ADD/s ratio ${ratio(full.perSec / empty.perSec)}`, target: `≤ ${TARGET.ledger}×`, verdict: ratioVerdict(p50f, p50e, TARGET.ledger) });
    }

    // 5. Peak RSS of ADD
    if (rt && want('5')) {
      const peak = Math.max(...rt.addRssKiB);
      if (nodeRssKiB.length === 0) nodeRssKiB = await nodeRss(RUNS);
      const [add, node] = [median(rt.addRssKiB), median(nodeRssKiB)];
      rows.push({ measure: `5. Peak RSS of ADD (the pod of 2., median of ${rt.addRssKiB.length} runs)`, value: `${mib(add)} (max ${mib(peak)})`, baseline: `${mib(node)} (\`node -e 0\`, both under \`${TIME}\`); ratio ${ratio(add / node)}`, target: `≤ ${TARGET.rss}× \`node -e 0\``, verdict: verdict(add / node, { limit: TARGET.rss, show: ratio }) });
    }

    // 6. The first API call of a process, with and without the TLS fast path
    if (want('6')) {
      const fc = await firstApiCalls(api, sb.dir, RUNS);
      const [fastMs, fullMs] = [median(fc.fast), median(fc.full)];
      rows.push({ measure: `6. First API call of a process, TLS fast path (median of ${RUNS})`, value: ms(fastMs), baseline: `${ms(fullMs)} without it (OpenSSL verifies with the kubeconfig CA); saves ${ms(fullMs - fastMs)}` });
    }

    // 7. Where the milliseconds go: the phase lines of level 3
    if (want('7')) {
      const phases = await phaseRuns(world, rec, RUNS);
      phaseTable = renderPhases(phases, RUNS);
      const count = (c: 'ADD' | 'DEL', label: string) => median(phases.values[c].get(label) ?? []);
      const [addReq, delReq] = [count('ADD', REQUESTS), count('DEL', REQUESTS)];
      const gen = await generatedRequests(world, Math.min(RUNS, 5));
      rows.push({
        measure: `7. API requests of 2.'s pod, ADD / DEL (median of ${RUNS})`,
        value: `${addReq} / ${delReq}`,
        baseline: `sequential round trips ${count('ADD', ROUND_TRIPS)} / ${count('DEL', ROUND_TRIPS)}; with the API down, the DEL makes ${median(phases.values['DEL, API down'].get(REQUESTS) ?? [])}; the same pod with a name the API server generated (a Deployment's): ${gen.add} / ${gen.del}`,
        target: `ADD ≤ ${TARGET.addRequests}, DEL ≤ ${TARGET.delRequests}`,
        verdict: addReq <= TARGET.addRequests && delReq <= TARGET.delRequests ? 'met' : `**missed** (ADD ${addReq - TARGET.addRequests > 0 ? `+${addReq - TARGET.addRequests}` : 'met'}, DEL ${delReq - TARGET.delRequests > 0 ? `+${delReq - TARGET.delRequests}` : 'met'})`,
      });
    }

    notes.push(
      `- Each comparison alternates its two sides run by run (which goes first alternates too), so load hits both alike; every process gets PATH and the CNI variables only.`,
      `- 1: both sides under \`${TIME}\` (peak RSS), wall time measured by the bench from spawn to exit.`,
      `- 2, 3: each run is a new pod in a new netns (made and removed outside the timing). eth0: bridge + host-local; two macvlan NADs (bridge mode on a host bridge, host-local) named in the pod's networks annotation; MACs from the ledger (macPool on). ` +
        `The bare side replays the exact delegate calls macmux made in a recorded run (same stdin with name, cniVersion, runtimeConfig.mac, args.cni.mac, prevResult for DEL; same CNI_IFNAME and CNI_ARGS with MAC=), one plugin after another; its time is the sum of those processes' wall times. ` +
        `macmux's ADD runs under \`${TIME}\` for 5. (about 1 ms more on its side).`,
      `- 3: each run ADDs with the API up (not timed), then DELs with a kubeconfig whose server is a closed port.`,
      `- 4: ${LEDGER.adds} timed ADDs per side (pods with eth0 on loopback and one macvlan NAD with a pool MAC), in alternating chunks of ${LEDGER.chunk} with ${LEDGER.concurrency} workers; each side has its own node and ledger namespace, so the empty side never sees the other's ConfigMaps. ` +
        `The 10,000 entries are active holdings of other pods of the same namespace and NAD in the ConfigMaps of the blocks of 256 leased to the node, one per block. p99 is nearest-rank: ${rankFromTop(LEDGER.adds, 99)}. ADD/s is ADDs over the chunks' wall time.`,
      `- 6: a fresh \`node\` runs one GET against the test API server (its CA signed the server certificate directly) through macmux's agent (\`src/k8s/agent.ts\`, bundled), or through an https.Agent with the same CA; timed in the process from making the agent to the response's end.`,
      ...(phaseTable ? [phaseNotes(RUNS)] : []),
    );
    if (want('8')) await scaleSection('all', sb, rows, notes, failures, errors);
  } finally {
    await api?.stop();
    sb.cleanup();
  }
  print(rows, notes, failures, errors, phaseTable);
}

const kib = (bytes: number): string => (bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${Math.round(bytes)} B`);
const per = (x: number, n: number, digits = 2): string => (n > 0 ? (x / n).toFixed(digits) : 'n/a');

/** "pool 34.3 KiB (1 object), node 3.6 KiB (300)…", and the largest of all. */
function kindsText(kinds: ScaleFigures['kinds']): { text: string; max: number } {
  const ks = Object.entries(kinds).sort(([a], [b]) => a.localeCompare(b));
  return { text: ks.map(([k, v]) => `${k} ${kib(v.bytes)} (${v.objects})`).join(', '), max: Math.max(0, ...ks.map(([, v]) => v.bytes)) };
}

const refusedText = (by: Record<string, number>): string =>
  Object.entries(by)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ${n}`)
    .join(', ') || 'none';

/**
 * 7. The ledger at scale: (a) N nodes × M ADDs in memory with the real ClusterLedger, and the same ADDs per
 * node at 10 nodes for flatness; (b) a smaller cluster through the binary against the test API server.
 */
async function scaleSection(which: 'all' | 'scale' | 'scale-a' | 'scale-b', sb: Sandbox | undefined, rows: Row[], notes: string[], failures: Run[], errors: string[]): Promise<void> {
  if (which !== 'scale-b') {
    const small = await simulate({ nodes: 10, adds: SCALE.adds });
    const f = await simulate({ nodes: SCALE.nodes, adds: SCALE.adds });
    const size = `${f.opts.nodes.toLocaleString('en-US')} nodes × ${f.opts.adds} ADDs`;
    const dups = f.duplicates + f.liveClashes + small.duplicates + small.liveClashes;
    rows.push({ measure: `8a. Ledger at ${size}, in memory: duplicate MACs (${f.add.ops.toLocaleString('en-US')} ADDs, ${f.del.ops.toLocaleString('en-US')} DELs, ${(f.ms / 1000).toFixed(0)} s)`, value: `${f.duplicates} in the census, ${f.liveClashes} among live pods`, baseline: `${f.refused} contested ADDs refused (code 100); ${f.sticky.same} of ${f.sticky.within} pods created again within grace got their MAC back; ${f.damaged} damaged entries`, target: '0', verdict: dups === 0 ? 'met' : `**missed**: ${dups}` });
    rows.push({ measure: '8a. … writes per ADD, every 409 retry counted', value: per(f.add.attempts, f.add.ops, 3), baseline: `${per(f.add.writes, f.add.ops, 3)} successful; refused by kind: ${refusedText(f.add.refusedByKind)}; per DEL ${per(f.del.attempts, f.del.ops, 3)}`, target: `≤ ${TARGET.writesPerAdd}`, verdict: verdict(f.add.attempts / f.add.ops, { limit: TARGET.writesPerAdd, show: (x) => x.toFixed(3) }) });
    rows.push({ measure: '8a. … read per ADD: requests, objects, bytes', value: `${per(f.add.requests, f.add.ops)} requests, ${per(f.add.objects, f.add.ops, 1)} objects, ${kib(f.add.bytes / f.add.ops)}`, baseline: `per DEL ${per(f.del.requests, f.del.ops)} requests, ${per(f.del.objects, f.del.ops, 1)} objects, ${kib(f.del.bytes / Math.max(1, f.del.ops))}` });
    const [b10, bN] = [small.add.bytes / small.add.ops, f.add.bytes / f.add.ops];
    rows.push({ measure: `8a. … bytes read per ADD at ${f.opts.nodes.toLocaleString('en-US')} nodes / at 10 nodes`, value: ratio(bN / b10), baseline: `${kib(bN)} / ${kib(b10)}`, target: `≤ ${TARGET.flat}×`, verdict: verdict(bN / b10, { limit: TARGET.flat, show: ratio }) });
    const k = kindsText(f.kinds);
    rows.push({ measure: '8a. … largest object of each kind (objects of the kind)', value: k.text, target: `≤ ${kib(OBJECT_LIMIT)}`, verdict: verdict(k.max, { limit: OBJECT_LIMIT, show: kib }) });
    for (const x of [small, f]) if (x.failed > 0) errors.push(`8a at ${x.opts.nodes} nodes: ${x.failed} operation(s) failed; the first: ${x.firstFailure}`);
  }
  if (which !== 'scale-a') {
    const b: BinaryScaleFigures = await scaleThroughBinary(sb!, binary, { nodes: SCALE.binNodes, pods: SCALE.binPods });
    const { add, del } = b;
    rows.push({ measure: `8b. Ledger through the binary, ${b.opts.nodes} nodes × ${b.opts.pods} pods, test API server over HTTPS: duplicate MACs (${add.ops} ADDs, ${del.ops} DELs, ${((add.ms + del.ms) / 1000).toFixed(0)} s)`, value: String(b.duplicates), baseline: `${b.recreated.same} of ${b.recreated.pods} pods created again on another node got their MAC back; ${b.damaged} damaged entries`, target: '0', verdict: b.duplicates === 0 ? 'met' : '**missed**' });
    rows.push({ measure: '8b. … ConfigMap writes per ADD, every 409 counted', value: per(add.writes, add.ops, 3), baseline: `${add.conflicts} 409s; per DEL ${per(del.writes, del.ops, 3)}`, target: `≤ ${TARGET.writesPerAdd}`, verdict: verdict(add.writes / add.ops, { limit: TARGET.writesPerAdd, show: (x) => x.toFixed(3) }) });
    rows.push({ measure: '8b. … requests and response bytes per ADD', value: `${per(add.requests, add.ops)} requests, ${kib(add.bytes / add.ops)}`, baseline: `of which ledger ConfigMaps ${per(add.cmRequests, add.ops)}, ${kib(add.cmBytes / add.ops)}; per DEL ${per(del.requests, del.ops)} requests, ${kib(del.bytes / Math.max(1, del.ops))}` });
    const k = kindsText(b.kinds);
    rows.push({ measure: '8b. … largest object of each kind (objects of the kind)', value: k.text, target: `≤ ${kib(OBJECT_LIMIT)}`, verdict: verdict(k.max, { limit: OBJECT_LIMIT, show: kib }) });
    failures.push(...b.failed);
  }
  notes.push(
    `- 8a: one process, \`MemoryStore\` (src/mac/store.ts) and one \`ClusterLedger\` per node whose seen cache lasts across the node's operations; ${SCALE_NOTE}`,
    `- 8b: each node is its own nodeName and cacheDir (one macNamespace); a pod is eth0 on loopback plus one macvlan NAD on a host bridge. Its pods ADD one after another, ${BIN.parallel} nodes at a time; every ${BIN.requestEvery}th pod asks for a MAC (inside the range in a block nobody leases, or outside it); every ${BIN.deleteEvery}th is deleted, then created again on the next node. Figures from the test API server's request log: every request of the ADD phases (the pod, NAD and namespace reads included), ConfigMap creates and updates with their 409s, response body bytes.`,
  );
}

const D = SCALE_DEFAULTS;
const pct = (x: number) => `${Math.round(x * 100)}%`;
const SCALE_NOTE =
  `each step every node runs its DELs due, then one ADD, ${D.parallel} nodes at a time (Promise.all) so that their writes race. An ADD is \`assign\`'s for one pool attachment: \`findOwner\`, then \`claim\` of what it found (a conflict falls back), else \`allocate\`; ${pct(D.requested)} ask for a MAC (\`claim\`): half inside the range in blocks nobody leases, half outside it, and ${pct(D.contested)} of those at the same step by a second node (one is refused, code 100). ` +
  `${pct(D.deleted)} of pods are deleted (\`release\`) 1–20 steps later; ${pct(D.recreated)} of those are created again (same name, another UID), on another node for ${pct(D.elsewhere)} of them, up to 1.5 grace periods later. Simulated clock ${D.stepSec} s per step, grace ${D.graceSec} s. ` +
  'Duplicates: `census()` of the ledger ConfigMaps at the end, and every ADD checked against the live pods. Writes: every create and update call, 409s included (refused ones by the kind of object). Read: objects answered by get and list and the UTF-8 bytes of their data. Flatness: the same ADDs per node at 10 nodes. Objects: kind from the `macmux.io/ledger` label (`owners` for `macmux.io/ledger-index`), bytes of the JSON of their data.';

/** The table, its notes, and what failed (exit 1): operations that failed, and section 8a's errors. */
function print(rows: Row[], notes: string[], failures: Run[], errors: string[], phaseTable = ''): void {
  console.log('');
  console.log(renderTable(rows));
  console.log('');
  if (phaseTable) console.log(`${phaseTable}\n`);
  for (const n of notes) console.log(n);
  if (failures.length > 0) {
    console.error(`\nbench failed: ${failures.length} operation(s) failed (code 11 under the load of section 4, or an invocation of 8b); the first:\n${new OperationFailed(failures[0]!).message}`);
    process.exitCode = 1;
  }
  for (const e of errors) console.error(`\nbench failed: ${e}`);
  if (errors.length > 0) process.exitCode = 1;
}

/** One part of section 8 alone (MMBENCH_ONLY=scale-a or scale-b), for a quick look at it. */
async function only(which: 'scale-a' | 'scale-b'): Promise<void> {
  if (which !== 'scale-a' && !existsSync(binary)) throw new Error(`no binary at ${binary}: run npm run build, or set MACMUX_BINARY`);
  const [rows, notes, failures, errors]: [Row[], string[], Run[], string[]] = [[], [], [], []];
  const sb = which === 'scale-a' ? undefined : new Sandbox();
  try {
    await scaleSection(which, sb, rows, notes, failures, errors);
  } finally {
    sb?.cleanup();
  }
  print(rows, notes, failures, errors);
}

main().catch((e: Error) => {
  console.error(e instanceof OperationFailed ? `bench failed: an operation failed (not a timing):\n${e.message}` : `bench failed: ${e.stack ?? e.message}`);
  process.exit(1);
});
