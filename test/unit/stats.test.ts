// Unit tests for src/metrics: the stats file (pure merge, locked atomic recording, damage), the dispatcher's hook, and the exporter's Prometheus text.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addInvocation, BUCKETS, bucketIndex, cumulative, emptyStats, parseStats, type Invocation, type Stats } from '../../src/metrics/stats-merge';
import { readStats, recordInvocation, statsFile } from '../../src/metrics/stats';
import { createExporter } from '../../src/metrics/exporter';
import { withLock } from '../../src/util/lock';
import { dispatch } from '../../src/run/dispatch';
import { encodeHolding, macKey } from '../../src/mac/holding';
import { ledgerCm, POOL_CM } from '../../src/mac/home';
import type { Cm } from '../../src/mac/store';

const made: string[] = [];
const tmp = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), `macmux-${prefix}-`));
  made.push(dir);
  return dir;
};
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

const counts = (allocations = 0, releases = 0, conflicts = 0) => ({ allocations, releases, conflicts });
const inv = (over: Partial<Invocation> = {}): Invocation => ({ verb: 'ADD', result: 'success', code: 0, seconds: 0.2, counts: counts(), ...over });
interface Lines {
  debug: string[];
  error: string[];
}
const sink = () => {
  const lines: Lines = { debug: [], error: [] };
  return { lines, log: { debug: (m: string) => void lines.debug.push(m), error: (m: string) => void lines.error.push(m) } };
};

// ---------------------------------------------------------------- pure

test('bucketIndex: a duration falls in the first bucket whose bound is at least it; beyond the last, the overflow bucket', () => {
  assert.equal(bucketIndex(0), 0);
  assert.equal(bucketIndex(0.05), 0);
  assert.equal(bucketIndex(0.0501), 1);
  assert.equal(bucketIndex(1), 4);
  assert.equal(bucketIndex(60), BUCKETS.length - 1);
  assert.equal(bucketIndex(60.001), BUCKETS.length);
  assert.deepEqual(BUCKETS, [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]);
});

test('addInvocation adds counts, one invocation per verb/result/code and one duration observation, without changing its input', () => {
  const s0 = emptyStats();
  const s1 = addInvocation(s0, inv({ seconds: 0.2, counts: counts(2, 0, 0) }));
  const s2 = addInvocation(s1, inv({ verb: 'ADD', result: 'failure', code: 100, seconds: 0.07, counts: counts(1, 0, 1) }));
  const s3 = addInvocation(s2, inv({ verb: 'DEL', seconds: 75, counts: counts(0, 3, 0) }));
  const s4 = addInvocation(s3, inv({ seconds: 0.25 }));
  assert.deepEqual(s0, emptyStats(), 'the input is unchanged');
  assert.deepEqual([s4.allocations, s4.releases, s4.conflicts], [3, 3, 1]);
  assert.deepEqual(s4.invocations, { ADD: { success: { '0': 2 }, failure: { '100': 1 } }, DEL: { success: { '0': 1 } } });
  const add = s4.durations.ADD!.success!;
  assert.deepEqual(add.buckets, [0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(add.count, 2);
  assert.ok(Math.abs(add.sum - 0.45) < 1e-9);
  assert.deepEqual(cumulative(add), [0, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
  assert.deepEqual(s4.durations.DEL!.success!.buckets, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], '75 s is above every bound');
  assert.deepEqual(cumulative(s4.durations.ADD!.failure!), [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
});

test('addInvocation: a negative or non-finite duration counts as 0 s', () => {
  const s = addInvocation(addInvocation(emptyStats(), inv({ seconds: -3 })), inv({ seconds: Number.NaN }));
  assert.deepEqual([s.durations.ADD!.success!.buckets[0], s.durations.ADD!.success!.sum], [2, 0]);
});

test('parseStats accepts what addInvocation produces and refuses anything else, saying what is wrong', () => {
  const good = addInvocation(addInvocation(emptyStats(), inv()), inv({ verb: 'GC', result: 'failure', code: 11 }));
  assert.deepEqual(parseStats(JSON.stringify(good)), good);
  const bad = (mutate: (s: Record<string, unknown>) => void): string => {
    const s = structuredClone(good) as unknown as Record<string, unknown>;
    mutate(s);
    return JSON.stringify(s);
  };
  const cases: Array<[string, string, RegExp]> = [
    ['truncated JSON', JSON.stringify(good).slice(0, 40), /JSON|Unexpected|Unterminated/],
    ['an array', '[]', /not a JSON object/],
    ['another format', bad((s) => (s.format = 2)), /unknown format 2/],
    ['other bucket bounds', bad((s) => (s.le = [1, 2, 3])), /bucket bounds/],
    ['a negative count', bad((s) => (s.allocations = -1)), /allocations is not a count/],
    ['a fractional count', bad((s) => (s.releases = 1.5)), /releases is not a count/],
    ['a missing count', bad((s) => delete s.conflicts), /conflicts is not a count/],
    ['an invocation count that is a string', bad((s) => ((s.invocations as Stats['invocations']).ADD!.success!['0'] = '1' as never)), /invocations\.ADD\.success\.0 is not a count/],
    ['invocations not nested', bad((s) => (s.invocations = { ADD: 3 })), /invocations\.ADD is not an object/],
    ['buckets of the wrong length', bad((s) => ((s.durations as Stats['durations']).ADD!.success!.buckets = [1])), /buckets must have 11 counts/],
    ['buckets not adding up', bad((s) => ((s.durations as Stats['durations']).ADD!.success!.count = 5)), /do not add up/],
    ['a negative sum', bad((s) => ((s.durations as Stats['durations']).GC!.failure!.sum = -1)), /sum is not a duration/],
  ];
  for (const [what, text, msg] of cases) assert.throws(() => parseStats(text), msg, what);
});

// ---------------------------------------------------------------- the file

test('recordInvocation writes <cacheDir>/stats.json (0600) and adds to it', async () => {
  const dir = tmp('stats');
  const { lines, log } = sink();
  assert.equal(await recordInvocation(dir, inv({ counts: counts(1, 0, 0) }), log), true);
  assert.equal(await recordInvocation(dir, inv({ verb: 'DEL', counts: counts(0, 1, 0) }), log), true);
  const file = statsFile(dir);
  assert.equal(file, join(dir, 'stats.json'));
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const s = parseStats(readFileSync(file, 'utf8'));
  assert.deepEqual([s.allocations, s.releases, s.conflicts], [1, 1, 0]);
  assert.deepEqual(s.invocations, { ADD: { success: { '0': 1 } }, DEL: { success: { '0': 1 } } });
  assert.deepEqual(lines, { debug: [], error: [] });
  assert.deepEqual(readdirSync(dir).sort(), ['stats.json'], 'no temp file or lock left behind');
});

test('concurrent recordings are all counted (the lock serializes them)', async () => {
  const dir = tmp('stats');
  const { lines, log } = sink();
  const n = 25;
  const ok = await Promise.all(Array.from({ length: n }, (_, i) => recordInvocation(dir, inv({ counts: counts(1, i % 2, 0) }), log)));
  assert.deepEqual(ok, new Array(n).fill(true), lines.error.join('\n'));
  const s = parseStats(readFileSync(statsFile(dir), 'utf8'));
  assert.deepEqual([s.allocations, s.releases, s.invocations.ADD!.success!['0'], s.durations.ADD!.success!.count], [n, 12, n, n]);
});

test('a damaged stats file is moved aside to stats.json.corrupt-<time>, logged, and counting starts afresh', async () => {
  const dir = tmp('stats');
  writeFileSync(statsFile(dir), '{"format":1,"allocations":');
  const { lines, log } = sink();
  assert.equal(await recordInvocation(dir, inv({ counts: counts(4, 0, 0) }), log), true);
  const aside = readdirSync(dir).filter((f) => f.startsWith('stats.json.corrupt-'));
  assert.equal(aside.length, 1);
  assert.equal(readFileSync(join(dir, aside[0]!), 'utf8'), '{"format":1,"allocations":', 'the damaged content is kept for inspection');
  assert.equal(lines.error.length, 1);
  assert.match(lines.error[0]!, /stats file .*stats\.json was damaged .*moved aside to .*stats\.json\.corrupt-/);
  const s = parseStats(readFileSync(statsFile(dir), 'utf8'));
  assert.deepEqual([s.allocations, s.invocations], [4, { ADD: { success: { '0': 1 } } }]);
});

test('nothing is recorded (and no directory made) when cacheDir does not exist', async () => {
  const dir = join(tmp('stats'), 'absent');
  const { lines, log } = sink();
  assert.equal(await recordInvocation(dir, inv(), log), false);
  assert.equal(existsSync(dir), false);
  assert.equal(lines.error.length, 0);
  assert.match(lines.debug[0]!, /does not exist/);
});

test('a held lock makes recording give up after its timeout, logged, leaving the file as it was', async () => {
  const dir = tmp('stats');
  const { log } = sink();
  await recordInvocation(dir, inv(), log);
  const before = readFileSync(statsFile(dir), 'utf8');
  const { lines, log: log2 } = sink();
  let outcome: boolean | undefined;
  let took = 0;
  await withLock({ path: `${statsFile(dir)}.lock`, what: 'test', timeoutMs: 1000 }, async () => {
    const t0 = Date.now();
    outcome = await recordInvocation(dir, inv(), log2, 300);
    took = Date.now() - t0;
  });
  assert.equal(outcome, false);
  assert.ok(took >= 300 && took < 1500, `gave up after ${took} ms`);
  assert.match(lines.error[0]!, /stats not recorded in .*stats\.json: timed out after 0\.3s waiting for the lock on the stats file/);
  assert.equal(readFileSync(statsFile(dir), 'utf8'), before);
});

test('an unwritable cacheDir is logged, not thrown', async () => {
  const dir = tmp('stats');
  mkdirSync(statsFile(dir)); // a directory where the file should be: reading it fails
  const { lines, log } = sink();
  assert.equal(await recordInvocation(dir, inv(), log), false);
  assert.match(lines.error[0]!, /stats not recorded in .*stats\.json: /);
});

// ---------------------------------------------------------------- the dispatcher's hook

const FULL = { CNI_CONTAINERID: 'c1', CNI_NETNS: '/var/run/netns/pod1', CNI_IFNAME: 'eth0' };
async function run(env: Record<string, string>, stdin: string): Promise<{ status: number; writes: string[]; logs: string[] }> {
  const writes: string[] = [];
  const logs: string[] = [];
  const status = await dispatch({ getenv: (k) => env[k], stdin, stdout: { write: (s: string) => writes.push(s) }, stderr: { write: (l: string) => void logs.push(l) } });
  return { status, writes, logs };
}
const conf = (extra: Record<string, unknown>) => JSON.stringify({ cniVersion: '1.0.0', name: 'macmux', type: 'macmux', delegates: [{ name: 'flannel', type: 'no-such-plugin' }], ...extra });

test('dispatch records each verb once the config is loaded: result, CNI code and a duration; stdout holds only the CNI answer', async () => {
  const cacheDir = tmp('cache');
  const env = { ...FULL, CNI_PATH: tmp('path') };
  const del = await run({ ...env, CNI_COMMAND: 'DEL' }, conf({ cacheDir }));
  assert.equal(del.status, 0);
  assert.deepEqual(del.writes, []);
  const add = await run({ ...env, CNI_COMMAND: 'ADD' }, conf({ cacheDir }));
  assert.equal(add.status, 1);
  assert.equal(add.writes.length, 1);
  assert.equal((JSON.parse(add.writes[0]!) as { code: number }).code, 7);
  const s = parseStats(readFileSync(statsFile(cacheDir), 'utf8'));
  assert.deepEqual(s.invocations, { DEL: { success: { '0': 1 } }, ADD: { failure: { '7': 1 } } });
  assert.deepEqual([s.durations.DEL!.success!.count, s.durations.ADD!.failure!.count], [1, 1]);
  assert.ok(s.durations.ADD!.failure!.sum > 0 && s.durations.ADD!.failure!.sum < 10);
  assert.deepEqual([s.allocations, s.releases, s.conflicts], [0, 0, 0]);
});

test('dispatch records nothing for VERSION or for errors before the config is loaded', async () => {
  const cacheDir = tmp('cache');
  const env = { ...FULL, CNI_PATH: tmp('path') };
  assert.equal((await run({ ...env, CNI_COMMAND: 'VERSION' }, conf({ cacheDir }))).status, 0);
  assert.equal((await run({ ...env, CNI_COMMAND: 'ADD' }, conf({ cacheDir, delegates: 'nope' }))).status, 1, 'a config the schema refuses');
  assert.equal((await run({ ...env, CNI_COMMAND: 'ADD', CNI_IFNAME: '' }, conf({ cacheDir }))).status, 1, 'a missing variable');
  assert.equal((await run({ ...env, CNI_COMMAND: 'BOGUS' }, conf({ cacheDir }))).status, 1, 'an unknown verb');
  assert.deepEqual(readdirSync(cacheDir), []);
});

test('dispatch: a stats file that cannot be written is logged at error level and the verb still succeeds', async () => {
  const cacheDir = tmp('cache');
  mkdirSync(statsFile(cacheDir));
  const r = await run({ ...FULL, CNI_PATH: tmp('path'), CNI_COMMAND: 'DEL' }, conf({ cacheDir }));
  assert.equal(r.status, 0);
  assert.deepEqual(r.writes, []);
  assert.ok(r.logs.some((l) => / error DEL c1 .*stats not recorded in /.test(l)), r.logs.join(''));
});

// ---------------------------------------------------------------- the exporter

const T = () => Math.floor(Date.now() / 1000);
const m = (last: number) => `02:00:00:00:00:${last.toString(16).padStart(2, '0')}`;
const cm = (name: string, entries: Record<string, string>, extra: Record<string, string> = {}): Cm => ({ name, data: { ...extra, ...Object.fromEntries(Object.entries(entries).map(([k, v]) => [macKey(k), v])) } });
const held = (owner: string, state: 'active' | 'released' = 'active', since = T()) => encodeHolding({ owner, state, node: 'node-a', since });
const ledger = (): Cm[] => [
  cm(POOL_CM, { [m(6)]: held('ns/p3/net1') }, { RANGE_START: m(0), RANGE_END: m(15), BLOCK_SIZE: '4', LEASES: '{"0":"node-a"}' }),
  cm(ledgerCm('node-a'), { [m(0)]: held('ns/p1/net1'), [m(1)]: held('ns/p2/net1', 'released', T() - 1000) }),
];
/** The sample lines of `text` (no comments) whose name starts with `prefix`. */
const samples = (text: string, prefix: string) => text.split('\n').filter((l) => l.startsWith(prefix));
const value = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

test('the exporter serves the stats file as counters and a histogram with the stored buckets, and the census as gauges', async () => {
  const dir = tmp('exp');
  const { log } = sink();
  await recordInvocation(dir, inv({ seconds: 0.07, counts: counts(2, 0, 0) }), log);
  await recordInvocation(dir, inv({ seconds: 3, counts: counts(1, 0, 0) }), log);
  await recordInvocation(dir, inv({ result: 'failure', code: 100, seconds: 0.3, counts: counts(0, 0, 1) }), log);
  await recordInvocation(dir, inv({ verb: 'DEL', seconds: 0.01, counts: counts(0, 3, 0) }), log);
  const warnings: string[] = [];
  const e = createExporter({ statsFile: statsFile(dir), readLedger: async () => ledger(), graceSec: 600, processMetrics: false, warn: (w) => warnings.push(w) });
  await e.scan();
  const text = await e.metrics();
  assert.equal(e.contentType, 'text/plain; version=0.0.4; charset=utf-8');
  assert.deepEqual(samples(text, 'macmux_pool_size'), ['macmux_pool_size 16']);
  assert.deepEqual(samples(text, 'macmux_pool_allocated'), ['macmux_pool_allocated 2'], '00 and 06 live; 01 past grace');
  assert.deepEqual(samples(text, 'macmux_blocks_leased'), ['macmux_blocks_leased 1']);
  assert.deepEqual(samples(text, 'macmux_duplicate_macs'), ['macmux_duplicate_macs 0']);
  assert.deepEqual(samples(text, 'macmux_ledger_damaged_entries'), ['macmux_ledger_damaged_entries 0']);
  assert.ok(Math.abs(value(text, 'macmux_ledger_last_scan_timestamp_seconds')! - T()) <= 2);
  assert.deepEqual(samples(text, 'macmux_allocations_total'), ['macmux_allocations_total 3']);
  assert.deepEqual(samples(text, 'macmux_releases_total'), ['macmux_releases_total 3']);
  assert.deepEqual(samples(text, 'macmux_conflicts_total'), ['macmux_conflicts_total 1']);
  assert.deepEqual(samples(text, 'macmux_invocations_total').sort(), [
    'macmux_invocations_total{verb="ADD",result="failure",code="100"} 1',
    'macmux_invocations_total{verb="ADD",result="success",code="0"} 2',
    'macmux_invocations_total{verb="DEL",result="success",code="0"} 1',
  ]);
  assert.match(text, /# TYPE macmux_invocation_duration_seconds histogram\n/);
  assert.match(text, /# TYPE macmux_invocations_total counter\n/);
  assert.match(text, /# TYPE macmux_pool_size gauge\n/);
  const les = ['0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '30', '60', '+Inf'];
  const addOk = [0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2];
  assert.deepEqual(samples(text, 'macmux_invocation_duration_seconds').filter((l) => l.includes('verb="ADD",result="success"')), [
    ...les.map((le, i) => `macmux_invocation_duration_seconds_bucket{verb="ADD",result="success",le="${le}"} ${addOk[i]}`),
    'macmux_invocation_duration_seconds_sum{verb="ADD",result="success"} 3.07',
    'macmux_invocation_duration_seconds_count{verb="ADD",result="success"} 2',
  ]);
  assert.equal(value(text, 'macmux_invocation_duration_seconds_count{verb="ADD",result="failure"}'), 1);
  assert.equal(value(text, 'macmux_invocation_duration_seconds_bucket{verb="ADD",result="failure",le="0.25"}'), 0);
  assert.equal(value(text, 'macmux_invocation_duration_seconds_bucket{verb="ADD",result="failure",le="0.5"}'), 1);
  assert.equal(value(text, 'macmux_invocation_duration_seconds_bucket{verb="DEL",result="success",le="0.05"}'), 1);
  assert.deepEqual(samples(text, 'macmux_stats_file_errors_total'), ['macmux_stats_file_errors_total 0']);
  assert.deepEqual(samples(text, 'macmux_ledger_scan_errors_total'), ['macmux_ledger_scan_errors_total 0']);
  assert.ok(!text.includes('process_cpu'), 'no process metrics when turned off');
  assert.deepEqual(warnings, []);

  // A later invocation shows up at the next scrape: the file is read at each one.
  await recordInvocation(dir, inv({ verb: 'DEL', seconds: 0.01, counts: counts(0, 1, 0) }), log);
  const again = await e.metrics();
  assert.equal(value(again, 'macmux_releases_total'), 4);
  assert.equal(value(again, 'macmux_invocations_total{verb="DEL",result="success",code="0"}'), 2);
  assert.equal(value(again, 'macmux_invocation_duration_seconds_count{verb="DEL",result="success"}'), 2);
});

test("the exporter's census of a node's share: objects and largest object per kind, the pool's blocks, allocated and free MACs at the node's homes", async () => {
  const dir = tmp('exp');
  const share: Cm[] = [
    { ...cm(POOL_CM, {}, { RANGE_START: m(0), RANGE_END: m(15), BLOCK_SIZE: '4', LEASES: '{"0":"node-a.b0","1":"node-a","2":"node-b.b2"}' }), labels: { 'macmux.io/ledger': 'pool' } },
    { ...cm(ledgerCm('node-a.b0'), { [m(0)]: held('ns/p1/net1'), [m(1)]: held('ns/p2/net1', 'released', T() - 1000) }), labels: { 'macmux.io/ledger': 'block' } },
    { ...cm(ledgerCm('node-a'), { [m(4)]: held('ns/p4/net1') }), labels: { 'macmux.io/ledger': 'node' } },
    { name: 'macmux-owners-5c', labels: { 'macmux.io/ledger-index': 'owners' }, data: { ['a'.repeat(32)]: `${m(1)}|${T()}|ns/p2/net1` } },
  ];
  const e = createExporter({ statsFile: statsFile(dir), readLedger: async () => share, node: 'node-a', graceSec: 600, processMetrics: false });
  await e.scan();
  const text = await e.metrics();
  const bytes = (i: number) => Buffer.byteLength(JSON.stringify(share[i]!.data));
  assert.deepEqual(samples(text, 'macmux_ledger_objects{').sort(), [
    'macmux_ledger_objects{kind="block"} 1',
    'macmux_ledger_objects{kind="claims"} 0',
    'macmux_ledger_objects{kind="node"} 1',
    'macmux_ledger_objects{kind="owners"} 1',
    'macmux_ledger_objects{kind="pool"} 1',
  ]);
  assert.deepEqual(samples(text, 'macmux_ledger_largest_object_bytes{').sort(), [
    `macmux_ledger_largest_object_bytes{kind="block"} ${bytes(1)}`,
    'macmux_ledger_largest_object_bytes{kind="claims"} 0',
    `macmux_ledger_largest_object_bytes{kind="node"} ${bytes(2)}`,
    `macmux_ledger_largest_object_bytes{kind="owners"} ${bytes(3)}`,
    `macmux_ledger_largest_object_bytes{kind="pool"} ${bytes(0)}`,
  ]);
  assert.match(text, /# TYPE macmux_ledger_objects gauge\n/);
  assert.deepEqual(samples(text, 'macmux_pool_blocks'), ['macmux_pool_blocks 4']);
  assert.deepEqual(samples(text, 'macmux_blocks_leased'), ['macmux_blocks_leased 3']);
  assert.deepEqual(samples(text, 'macmux_pool_allocated'), ['macmux_pool_allocated 2'], '00 and 04; 01 is past grace');
  assert.deepEqual(samples(text, 'macmux_node_free_macs'), ['macmux_node_free_macs 6'], 'blocks 0 and 1: 8 MACs, 2 held');
  assert.deepEqual(samples(text, 'macmux_ledger_damaged_entries'), ['macmux_ledger_damaged_entries 0'], 'owner index entries are not holdings');
  // Without a node there is no node-free figure.
  const all = createExporter({ statsFile: statsFile(dir), readLedger: async () => share, graceSec: 600, processMetrics: false });
  await all.scan();
  assert.deepEqual(samples(await all.metrics(), 'macmux_node_free_macs'), []);
});

test('the exporter without a stats file: counters at 0, no invocation series; process metrics on by default', async () => {
  const dir = tmp('exp');
  const e = createExporter({ statsFile: statsFile(dir), graceSec: 600 });
  const text = await e.metrics();
  assert.deepEqual(samples(text, 'macmux_allocations_total'), ['macmux_allocations_total 0']);
  assert.deepEqual(samples(text, 'macmux_invocations_total'), []);
  assert.deepEqual(samples(text, 'macmux_invocation_duration_seconds'), []);
  assert.deepEqual(samples(text, 'macmux_pool_size'), [], 'no census gauges without an API');
  assert.match(text, /^process_cpu_user_seconds_total \d/m);
  e.start();
  e.stop();
});

test('a failed census keeps the last figures, counts the failure and warns; duplicates are warned about once', async () => {
  const dir = tmp('exp');
  let cms: Cm[] | Error = ledger();
  const warnings: string[] = [];
  const e = createExporter({ statsFile: statsFile(dir), readLedger: async () => (cms instanceof Error ? Promise.reject(cms) : cms), graceSec: 600, processMetrics: false, warn: (w) => warnings.push(w) });
  await e.scan();
  cms = new Error('connection refused');
  await e.scan();
  const text = await e.metrics();
  assert.equal(value(text, 'macmux_pool_size'), 16);
  assert.equal(value(text, 'macmux_pool_allocated'), 2);
  assert.equal(value(text, 'macmux_ledger_scan_errors_total'), 1);
  assert.deepEqual(warnings, ['ledger census failed, keeping the last figures: connection refused']);

  // A duplicate: m(0) live for two owners in two ConfigMaps.
  const dup = ledger();
  dup[0]!.data[macKey(m(0))] = held('ns/other/net1');
  cms = dup;
  await e.scan();
  await e.scan();
  const after = await e.metrics();
  assert.equal(value(after, 'macmux_duplicate_macs'), 1);
  assert.equal(warnings.length, 2, 'the same duplicate is warned about once');
  assert.match(warnings[1]!, /1 MAC\(s\) held by more than one owner: 02:00:00:00:00:00 \(ns\/p1\/net1 in macmux-ledger-node-a, ns\/other\/net1 in macmux-pool\); run 'macmux doctor'/);
});

test('the exporter runs a census at start() and every scanIntervalSec, and stop() ends it', async () => {
  const dir = tmp('exp');
  let calls = 0;
  const e = createExporter({ statsFile: statsFile(dir), readLedger: async () => (calls++, ledger()), graceSec: 600, scanIntervalSec: 0.1, processMetrics: false });
  e.start();
  e.start(); // idempotent
  await new Promise((r) => setTimeout(r, 350));
  e.stop();
  const seen = calls;
  assert.ok(seen >= 3 && seen <= 5, `${seen} censuses in 350 ms`);
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(calls, seen, 'no census after stop()');
  assert.equal(value(await e.metrics(), 'macmux_pool_size'), 16);
});

test('a damaged stats file at scrape time is moved aside, counted and warned about; counters start again from zero', async () => {
  const dir = tmp('exp');
  const { log } = sink();
  await recordInvocation(dir, inv({ counts: counts(5, 0, 0) }), log);
  const warnings: string[] = [];
  const e = createExporter({ statsFile: statsFile(dir), graceSec: 600, processMetrics: false, warn: (w) => warnings.push(w) });
  assert.equal(value(await e.metrics(), 'macmux_allocations_total'), 5);
  writeFileSync(statsFile(dir), 'not json');
  const text = await e.metrics();
  assert.equal(value(text, 'macmux_stats_file_errors_total'), 1);
  assert.equal(value(text, 'macmux_allocations_total'), 0);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /was damaged .*moved aside to .*stats\.json\.corrupt-/);
  assert.equal(readStats(statsFile(dir)).kind, 'missing');
  assert.equal(readdirSync(dir).filter((f) => f.includes('.corrupt-')).length, 1);
  // The next invocation starts a fresh file, which the next scrape serves.
  await recordInvocation(dir, inv({ counts: counts(1, 0, 0) }), log);
  assert.equal(value(await e.metrics(), 'macmux_allocations_total'), 1);
});
