// npm run bench: one markdown table of macmux against its baselines (node -e 0, the bare delegates, an empty ledger), measured side by side in one run.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { startApiServer, type ApiServer } from '../test/apiserver/server';
import { ledgerThroughput } from './bench/ledger';
import { envWarnings, machineLine } from './bench/machine';
import { PodWorld } from './bench/pod-world';
import { OperationFailed, TIME, type Run } from './bench/proc';
import { firstApiCalls } from './bench/first-call';
import { cachedDels, record, roundTrips } from './bench/roundtrip';
import { Sandbox } from './bench/sandbox';
import { median, mib, ms, percentile, rankFromTop, ratio, verdict } from './bench/stats';
import { renderTable, type Row } from './bench/table';
import { versionColdStart } from './bench/version';
import { phaseNotes, phaseRuns, renderPhases } from './bench/phases';

const binary = resolve(process.env.MACMUX_BINARY ?? resolve(__dirname, '..', 'dist', 'macmux'));
/** Runs per side for sections 1-3 (MMBENCH_RUNS overrides, for a quick look; docs/benchmarks.md's figures use the default). */
const RUNS = Math.max(1, Number(process.env.MMBENCH_RUNS ?? 20));
const VERSION_RUNS = Math.max(RUNS, 30);
const LEDGER = { concurrency: 8, adds: Math.max(8, Number(process.env.MMBENCH_ADDS ?? 96)), chunk: 16, seedEntries: 10_000 };

/** MMBENCH_ONLY=7 (or `phases`), or a list such as 2,3: only those sections (5 comes with 2); all without it. */
const ONLY = new Set((process.env.MMBENCH_ONLY ?? '').split(',').map((s) => (s.trim() === 'phases' ? '7' : s.trim())).filter(Boolean));
const want = (section: string) => ONLY.size === 0 || ONLY.has(section);

const TARGET = { version: 1.3, overheadMs: 60, cachedDel: 1.5, ledger: 1.2, rssKiB: 80 * 1024 };

/** "met" / "missed by ..." for a ratio target, with what the excess means in ms. */
function ratioVerdict(value: number, base: number, limit: number): string {
  const v = verdict(value / base, { limit, show: ratio });
  return v === 'met' ? v : `${v}, ${ms(value - limit * base)} over the allowance`;
}

async function main(): Promise<void> {
  for (const w of envWarnings()) console.log(w);
  if (!existsSync(binary)) throw new Error(`no binary at ${binary}: run npm run build, or set MACMUX_BINARY`);
  if (!existsSync(TIME)) throw new Error(`${TIME} is missing (Debian package "time"): the bench reads peak RSS from it`);
  console.log(machineLine(binary, RUNS));
  const rows: Row[] = [];
  const notes: string[] = [];
  /** Operations that failed without stopping the bench (section 4's code 11 under load): printed after the table, exit 1. */
  const failures: Run[] = [];

  /** Section 7's table, printed after the main one. */
  let phaseTable = '';

  // 1. VERSION cold start
  if (want('1')) {
    const v = await versionColdStart(binary, VERSION_RUNS);
    const [vMs, nMs] = [median(v.ms), median(v.baseMs)];
    rows.push({ measure: `1. VERSION cold start, wall (median of ${VERSION_RUNS})`, value: ms(vMs), baseline: `${ms(nMs)} (\`node -e 0\`); ratio ${ratio(vMs / nMs)}`, target: `≤ ${TARGET.version}× \`node -e 0\``, verdict: ratioVerdict(vMs, nMs, TARGET.version) });
    rows.push({ measure: '1. VERSION peak RSS (median)', value: mib(median(v.rssKiB)), baseline: `${mib(median(v.baseRssKiB))} (\`node -e 0\`)` });
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
      rows.push({ measure: `5. Peak RSS of ADD (the pod of 2., ${rt.addRssKiB.length} runs)`, value: `max ${mib(peak)} (median ${mib(median(rt.addRssKiB))})`, target: `≤ ${mib(TARGET.rssKiB)}`, verdict: verdict(peak, { limit: TARGET.rssKiB, show: mib }) });
    }

    // 6. The first API call of a process, with and without the TLS fast path
    if (want('6')) {
      const fc = await firstApiCalls(api, sb.dir, RUNS);
      const [fastMs, fullMs] = [median(fc.fast), median(fc.full)];
      rows.push({ measure: `6. First API call of a process, TLS fast path (median of ${RUNS})`, value: ms(fastMs), baseline: `${ms(fullMs)} without it (OpenSSL verifies with the kubeconfig CA); saves ${ms(fullMs - fastMs)}` });
    }

    // 7. Where the milliseconds go: the phase lines of level 3
    if (want('7')) {
      phaseTable = renderPhases(await phaseRuns(world, rec, RUNS), RUNS);
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
  } finally {
    await api?.stop();
    sb.cleanup();
  }

  console.log('');
  console.log(renderTable(rows));
  console.log('');
  if (phaseTable) console.log(`${phaseTable}\n`);
  for (const n of notes) console.log(n);
  if (failures.length > 0) {
    console.error(`\nbench failed: ${failures.length} operation(s) failed (code 11 under the load of section 4); the first:\n${new OperationFailed(failures[0]!).message}`);
    process.exitCode = 1;
  }
}

main().catch((e: Error) => {
  console.error(e instanceof OperationFailed ? `bench failed: an operation failed (not a timing):\n${e.message}` : `bench failed: ${e.stack ?? e.message}`);
  process.exit(1);
});
