// Integration: the seeded fuzz corpus of test/fuzz (over 2,000 malformed configs, annotations, CNI_ARGS, environments and
// NADs) run through the built binary as a runtime runs it, two workers at a time, each with its own API test server,
// netns, host bridge and cache dir. Every run must exit 1 with exactly one CNI error JSON of the expected code on
// stdout, leave nothing behind (link, cache file, journal entry, ConfigMap or pod write) and finish inside its budget.
// A case carrying a secret also runs with a level-3 log file, and the secret may appear in no output.
// MACMUX_FUZZ_SEED=<n> explores another seed; MACMUX_FUZZ_CASE=<i>[,<j>...] replays single cases.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startApiServer, type ApiServer } from '../apiserver/server';
import { BINARY, PLUGIN_DIR } from './harness';
import { generate, replayLine, selection, TOTAL, QUOTAS } from '../fuzz/generate';
import { baseConf, cniEnv, goodNadConfig, podArgs } from '../fuzz/base';
import { COPY_TYPE, FOREIGN_NS, GOOD_NADS, GOOD_OTHER, NS, OTHER_NS, UID, type Frame, type FuzzCase, type Plan } from '../fuzz/types';
import { NETWORKS } from '../fuzz/annotations';
import { isSupported } from '../../src/cni/versions';
import { VERBS } from '../../src/cni/env';

const exec = promisify(execFile);
const PID = process.pid % 100000;
const WORKERS = 2;
/** Seconds a run may take beyond its verb's timeBudget. */
const SLACK_S = 10;
const NETWORK_STATUS = 'k8s.v1.cni.cncf.io/network-status';
const ERROR_KEYS = new Set(['cniVersion', 'code', 'msg', 'details']);

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the binary with exactly PATH plus `env` and `stdin`, as a runtime does; killed after `killAfterMs`. */
function runBinary(env: Record<string, string | undefined>, stdin: string | Buffer, killAfterMs: number): Promise<Run> {
  const full: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) full[k] = v;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(BINARY, [], { env: full, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ms: Date.now() - started });
    });
    // A run refused before it reads stdin (a bad CNI_COMMAND) closes the pipe early.
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

/** The cniVersion the error must be printed in: the config's when the verb is known and the config readable and supported. */
function expectedVersion(command: string, stdin: string | Buffer): string {
  if (!(VERBS as readonly string[]).includes(command)) return '1.1.0';
  try {
    const v = (JSON.parse(stdin.toString()) as { cniVersion?: unknown }).cniVersion;
    return typeof v === 'string' && isSupported(v) ? v : '1.1.0';
  } catch {
    return '1.1.0';
  }
}

/** What must not change during a run. */
interface Snapshot {
  configMaps: Map<string, string>;
  journal: string;
  history: number;
  pods: Map<string, string>;
}

/** One worker's world: its own API server, netns, host bridge and cache dir; everything removed by cleanup(). */
class Worker {
  readonly dir: string;
  readonly netns: string;
  readonly bridge: string;
  frame!: Frame;
  private constructor(readonly k: number, readonly api: ApiServer) {
    this.dir = mkdtempSync(join(tmpdir(), `macmux-fuzz-w${k}-`));
    this.netns = `mmfz-${PID}-w${k}`;
    this.bridge = `mmfz${PID}w${k}`.slice(0, 15);
  }

  static async create(t: TestContext, k: number): Promise<Worker> {
    const w = new Worker(k, await startApiServer({ namespaces: ['default', 'kube-system', NS, OTHER_NS, FOREIGN_NS] }));
    t.after(() => w.cleanup());
    await exec('ip', ['netns', 'add', w.netns]);
    await exec('ip', ['link', 'add', w.bridge, 'type', 'bridge']);
    await exec('ip', ['link', 'set', w.bridge, 'up']);
    const confDir = join(w.dir, 'confd');
    mkdirSync(confDir);
    // The node's plugin dir holds macmux, as /opt/cni/bin does, and a copy of it under another name.
    const bin = join(w.dir, 'bin');
    mkdirSync(bin);
    symlinkSync(BINARY, join(bin, 'macmux'));
    copyFileSync(BINARY, join(bin, COPY_TYPE));
    chmodSync(join(bin, COPY_TYPE), 0o755);
    for (const [ns, name] of [[NS, GOOD_NADS[0]], [NS, GOOD_NADS[1]], [OTHER_NS, GOOD_OTHER]] as const) w.putNad(ns, name, { config: JSON.stringify(goodNadConfig(w.bridge, name)) });
    const pod = w.api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `base-w${k}`, namespace: NS, annotations: { [NETWORKS]: GOOD_NADS[0] } } });
    w.frame = {
      cacheDir: join(w.dir, 'state'),
      confDir,
      canary: join(w.dir, 'canary'),
      kubeconfig: w.api.kubeconfig,
      nodeName: `fuzz-node-${k}`,
      netnsPath: `/run/netns/${w.netns}`,
      master: w.bridge,
      cniPath: `${bin}:${PLUGIN_DIR}`,
      basePod: { name: pod.metadata!.name!, uid: pod.metadata!.uid! },
    };
    return w;
  }

  putNad(namespace: string, name: string, spec: unknown): void {
    this.api.put({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name, namespace }, ...(spec === undefined ? {} : { spec }) } as never);
  }

  async links(): Promise<string[]> {
    const { stdout } = await exec('ip', ['-n', this.netns, '-j', 'link']);
    return (JSON.parse(stdout) as Array<{ ifname: string }>).map((l) => l.ifname).sort();
  }

  cacheEntries(): string[] {
    const d = join(this.frame.cacheDir, 'cache');
    return existsSync(d) ? readdirSync(d) : [];
  }

  snapshot(podNames: string[]): Snapshot {
    const ledger = join(this.frame.cacheDir, 'ledger');
    const journalFile = join(ledger, 'journal.json');
    const j = existsSync(journalFile) ? (JSON.parse(readFileSync(journalFile, 'utf8')) as { entries?: unknown; intents?: unknown }) : {};
    const historyFile = join(ledger, 'history.jsonl');
    const pods = new Map<string, string>();
    for (const name of podNames) pods.set(name, this.api.get('Pod', NS, name)?.metadata?.resourceVersion ?? 'absent');
    return {
      configMaps: new Map(this.api.list('ConfigMap').map((cm) => [`${cm.metadata!.namespace}/${cm.metadata!.name}`, cm.metadata!.resourceVersion!])),
      journal: JSON.stringify({ entries: j.entries ?? {}, intents: j.intents ?? [] }),
      history: existsSync(historyFile) ? statSync(historyFile).size : 0,
      pods,
    };
  }

  /** Everything the run left behind, compared with `before`: links in the netns, cache files, journal, ConfigMaps, pod writes. */
  async leftovers(before: Snapshot): Promise<string[]> {
    const problems: string[] = [];
    const links = await this.links();
    if (links.join() !== 'lo') problems.push(`links left in the netns: ${links.join(', ')}`);
    const cache = this.cacheEntries();
    if (cache.length > 0) problems.push(`cache files left: ${cache.join(', ')}`);
    if (existsSync(this.frame.canary)) problems.push(`${this.frame.canary} was created: ${readdirSync(this.frame.canary).join(', ')}`);
    const now = this.snapshot([...before.pods.keys()]);
    if (now.journal !== before.journal) problems.push(`journal changed: ${before.journal} -> ${now.journal}`);
    if (now.history !== before.history) problems.push(`MAC history grew by ${now.history - before.history} bytes`);
    const changed = [...new Set([...before.configMaps.keys(), ...now.configMaps.keys()])].filter((k) => before.configMaps.get(k) !== now.configMaps.get(k));
    if (changed.length > 0) problems.push(`ConfigMaps written: ${changed.join(', ')}`);
    for (const [name, rv] of before.pods) if (now.pods.get(name) !== rv) problems.push(`pod ${NS}/${name} written (${this.api.get('Pod', NS, name)?.metadata?.annotations?.[NETWORK_STATUS] ?? 'no network-status'})`);
    return problems;
  }

  /** After a failed case: DEL what may have been added, then remove any link and cache file still there. */
  async tidy(cid: string, podName: string | undefined, uid: string | undefined): Promise<void> {
    const env = cniEnv(this.frame, cid, podName && uid ? podArgs(podName, uid, cid) : undefined);
    await runBinary({ ...env, CNI_COMMAND: 'DEL' }, JSON.stringify(baseConf(this.frame)), 60_000).catch(() => undefined);
    for (const l of await this.links()) if (l !== 'lo') await exec('ip', ['-n', this.netns, 'link', 'del', l]).catch(() => undefined);
    for (const f of this.cacheEntries()) rmSync(join(this.frame.cacheDir, 'cache', f), { recursive: true, force: true });
    rmSync(this.frame.canary, { recursive: true, force: true });
  }

  async cleanup(): Promise<void> {
    await exec('ip', ['netns', 'del', this.netns]).catch(() => undefined);
    await exec('ip', ['link', 'del', this.bridge]).catch(() => undefined);
    await this.api.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Problems with an answer that must be an error: exit 1, one CNI error JSON alone on stdout, the expected code and mentions, in time. */
function judgeError(c: FuzzCase, plan: Plan, r: Run): string[] {
  const problems: string[] = [];
  if (r.signal) return [`killed by ${r.signal} after ${r.ms} ms`];
  if (r.status !== 1) problems.push(`exit status ${r.status}, not 1`);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    return [...problems, `stdout is not one JSON document: ${JSON.stringify(r.stdout.slice(0, 300))}`];
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return [...problems, 'stdout is not a JSON object'];
  if (r.stdout !== JSON.stringify(json)) problems.push('stdout holds more than the error object');
  const extra = Object.keys(json).filter((k) => !ERROR_KEYS.has(k));
  if (extra.length > 0) problems.push(`error object has other keys: ${extra.join(', ')}`);
  const { cniVersion, code, msg, details } = json;
  const wantVersion = expectedVersion(plan.command, plan.stdin);
  if (cniVersion !== wantVersion) problems.push(`cniVersion ${JSON.stringify(cniVersion)}, expected ${wantVersion}`);
  if (typeof code !== 'number' || !Number.isInteger(code)) problems.push(`code ${JSON.stringify(code)} is not an integer`);
  else if (!c.expect.codes.includes(code)) problems.push(`code ${code}, expected ${c.expect.codes.join(' or ')}`);
  if (typeof msg !== 'string' || msg === '') problems.push('msg is not a non-empty string');
  if (details !== undefined && typeof details !== 'string') problems.push('details is not a string');
  const text = `${String(msg)} ${typeof details === 'string' ? details : ''}`;
  if (/\n\s+at \S+ \(?\S*:\d+:\d+\)?/.test(text)) problems.push('msg carries a stack trace');
  const missing = c.expect.mention.filter((m) => !text.includes(m));
  if (missing.length > 0) problems.push(`msg does not mention ${missing.map((m) => JSON.stringify(m)).join(', ')}`);
  if (r.ms > (plan.budget + SLACK_S) * 1000) problems.push(`took ${r.ms} ms; the budget is ${plan.budget} s (+${SLACK_S} s slack)`);
  if (problems.length > 0) problems.push(`stdout: ${r.stdout.slice(0, 400)}`);
  return problems;
}

/** Where `secret`, or any 10 characters of it (a snippet cut short still leaks), shows among `outputs`. */
function secretShown(secret: string, outputs: Record<string, string>): string[] {
  const w = Math.min(10, secret.length);
  const pieces = Array.from({ length: secret.length - w + 1 }, (_, i) => secret.slice(i, i + w));
  return Object.entries(outputs).flatMap(([where, text]) => {
    const at = Math.max(...pieces.map((p) => text.indexOf(p)));
    return at >= 0 ? [`the secret shows in ${where}: ${text.slice(Math.max(0, at - 200), at + 100)}`] : [];
  });
}

interface Failure {
  c: FuzzCase;
  problems: string[];
}

/** Runs one case on worker `w`; returns its problems (none when it behaved) and the time of its run. */
async function runCase(w: Worker, c: FuzzCase, counts: { runs: number }): Promise<{ problems: string[]; ms: number }> {
  const plan = c.build(w.frame);
  let uid: string | undefined;
  if (plan.pod) uid = w.api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: plan.pod.name, namespace: NS, annotations: plan.pod.annotations } }).metadata!.uid!;
  for (const n of plan.nads ?? []) w.putNad(n.namespace, n.name, n.spec);
  const logFile = join(w.dir, `secret-${c.index}.log`);
  const env: Record<string, string | undefined> = { ...plan.env, CNI_COMMAND: plan.command, ...(plan.secret ? { _CNI_LOGGING_LEVEL: '3', _CNI_LOGGING_FILE: logFile } : {}) };
  if (env.CNI_ARGS !== undefined && uid !== undefined) env.CNI_ARGS = env.CNI_ARGS.split(UID).join(uid);
  const pods = [w.frame.basePod.name, ...(plan.pod ? [plan.pod.name] : [])];
  const problems: string[] = [];
  let ms = 0;
  try {
    let before = w.snapshot(pods);
    w.api.clearRequests();
    const r = await runBinary(env, plan.stdin, (plan.budget + SLACK_S + 60) * 1000);
    counts.runs++;
    ms = r.ms;
    problems.push(...judgeError(c, plan, r));
    const nadRequests = w.api.requests.filter((q) => q.resource === 'network-attachment-definitions');
    if (plan.noNadRequests && nadRequests.length > 0) problems.push(`asked for NADs: ${nadRequests.map((q) => `${q.method} ${q.path}`).join(', ')}`);
    problems.push(...(await w.leftovers(before)));
    if (plan.secret) problems.push(...secretShown(plan.secret, { stdout: r.stdout, stderr: r.stderr, 'the log file': existsSync(logFile) ? readFileSync(logFile, 'utf8') : '' }));
    if (c.delMustSucceed && problems.length === 0) {
      before = w.snapshot(pods);
      const d = await runBinary({ ...env, CNI_COMMAND: 'DEL' }, plan.stdin, (plan.budget + SLACK_S + 60) * 1000);
      counts.runs++;
      if (d.status !== 0 || d.stdout !== '') problems.push(`DEL with the same CNI_ARGS: exit ${d.status}, stdout ${JSON.stringify(d.stdout.slice(0, 300))}`);
      problems.push(...(await w.leftovers(before)).map((p) => `after DEL: ${p}`));
    }
  } finally {
    if (problems.length > 0) await w.tidy(String(plan.env.CNI_CONTAINERID ?? ''), plan.pod?.name, uid);
    if (plan.pod) w.api.remove('Pod', NS, plan.pod.name);
    for (const n of plan.nads ?? []) w.api.remove('NetworkAttachmentDefinition', n.namespace, n.name);
  }
  return { problems, ms };
}

test('the judge of a run refuses every kind of bad answer', () => {
  const c = { index: 0, seed: 0, kind: 'config', what: 'x', expect: { codes: [7], mention: ['$.logLevel'] }, build: () => plan } as FuzzCase;
  const plan: Plan = { command: 'ADD', stdin: '{"cniVersion":"0.4.0"}', env: {}, budget: 10 };
  const good = '{"cniVersion":"0.4.0","code":7,"msg":"network config is invalid: $.logLevel: must be integer"}';
  const judge = (over: Partial<Run>) => judgeError(c, plan, { status: 1, signal: null, stdout: good, stderr: '', ms: 200, ...over }).join('\n');
  assert.equal(judge({}), '');
  const bad: Array<[Partial<Run>, string]> = [
    [{ status: 0 }, 'exit status 0'],
    [{ status: 999 % 256 }, 'exit status 231'],
    [{ signal: 'SIGKILL' }, 'killed by SIGKILL'],
    [{ stdout: `${good}\n` }, 'more than the error object'],
    [{ stdout: `${good}${good}` }, 'not one JSON document'],
    [{ stdout: `2026-01-01T00:00:00.000Z error ADD c - code 7\n${good}` }, 'not one JSON document'],
    [{ stdout: '[1]' }, 'not a JSON object'],
    [{ stdout: good.replace('}', ',"interfaces":[]}') }, 'other keys: interfaces'],
    [{ stdout: good.replace('"0.4.0"', '"1.1.0"') }, 'cniVersion "1.1.0", expected 0.4.0'],
    [{ stdout: good.replace('"code":7', '"code":999') }, 'code 999, expected 7'],
    [{ stdout: good.replace('"code":7', '"code":"7"') }, 'is not an integer'],
    [{ stdout: good.replace('$.logLevel', '$.name') }, 'does not mention "$.logLevel"'],
    [{ stdout: good.replace('integer"', 'integer\\n    at check (/x/load.ts:10:5)"') }, 'stack trace'],
    [{ stdout: good.replace('}', ',"details":5}') }, 'details is not a string'],
    [{ ms: 20_001 }, 'took 20001 ms'],
  ];
  for (const [over, want] of bad) assert.ok(judge(over).includes(want), `${JSON.stringify(over)} is refused with "${want}": ${judge(over)}`);
});

test('the worlds work: the base config and pod ADD and DEL cleanly, and the leak checks see what an ADD leaves', async (t) => {
  const w = await Worker.create(t, 9);
  const f = w.frame;
  const cid = `fzsane${PID}`;
  const env = { ...cniEnv(f, cid), CNI_COMMAND: 'ADD' };
  const before = w.snapshot([f.basePod.name]);
  const add = await runBinary(env, JSON.stringify(baseConf(f)), 120_000);
  assert.equal(add.status, 0, `${add.stdout} ${add.stderr}`);
  assert.equal((await w.links()).length, 3, 'lo, eth0 and the good-a secondary');
  const seen = (await w.leftovers(before)).join('\n');
  for (const what of ['links left in the netns', 'cache files left', 'journal changed', 'MAC history grew', 'ConfigMaps written', `pod ${NS}/${f.basePod.name} written`]) {
    assert.ok(seen.includes(what), `the leak check reports "${what}" after a successful ADD:\n${seen}`);
  }
  const del = await runBinary({ ...env, CNI_COMMAND: 'DEL' }, JSON.stringify(baseConf(f)), 120_000);
  assert.equal(del.status, 0, del.stdout);
  assert.deepEqual(await w.links(), ['lo']);
  assert.deepEqual(w.cacheEntries(), []);
});

test(`fuzz: ${TOTAL} malformed inputs each exit 1 with one CNI error of the expected code and leave nothing behind`, { timeout: 30 * 60_000 }, async (t) => {
  const { seed, only } = selection((k) => process.env[k]);
  const cases = generate(seed, only);
  if (!only) assert.ok(cases.length >= 2000, `at least 2,000 cases (${cases.length})`);
  t.diagnostic(`seed ${seed}${only ? `, cases ${only.join(',')}` : ''}: ${QUOTAS.map(([k]) => `${k} ${cases.filter((c) => c.kind === k).length}`).join(', ')}`);
  const workers = await Promise.all(Array.from({ length: Math.min(WORKERS, cases.length) }, (_, k) => Worker.create(t, k)));
  const started = Date.now();
  const failures: Failure[] = [];
  const counts = { runs: 0 };
  const times = new Map<string, number[]>();
  let next = 0;
  let lost: string | undefined;
  await Promise.all(
    workers.map(async (w) => {
      while (next < cases.length && lost === undefined) {
        const c = cases[next++]!;
        const { problems, ms } = await runCase(w, c, counts).catch((e: unknown) => ({ problems: [`harness error: ${(e as Error).stack ?? String(e)}`], ms: 0 }));
        if (problems.length > 0) failures.push({ c, problems });
        // Without its netns a worker can check nothing more: stop at once rather than report every later case.
        if (!existsSync(w.frame.netnsPath)) lost ??= `worker ${w.k}'s netns ${w.frame.netnsPath} is gone after case ${c.index}`;
        times.set(c.kind, [...(times.get(c.kind) ?? []), ms]);
      }
    }),
  );
  assert.equal(lost, undefined, 'every worker kept its netns');
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const byKind = QUOTAS.map(([k]) => `${k} ${failures.filter((x) => x.c.kind === k).length}/${cases.filter((c) => c.kind === k).length}`).join(', ');
  const summary = `fuzz: seed ${seed}, ${cases.length} cases (${counts.runs} runs) in ${seconds} s with ${workers.length} workers; failures by kind: ${byKind}`;
  t.diagnostic(summary);
  console.log(summary);
  const stat = (ms: number[]) => `mean ${Math.round(ms.reduce((a, b) => a + b, 0) / ms.length)} ms, max ${Math.max(...ms)} ms`;
  t.diagnostic(`run time per kind: ${[...times].map(([k, ms]) => `${k} ${stat(ms)}`).join('; ')}`);
  failures.sort((a, b) => a.c.index - b.c.index);
  const list = failures.map((x) => `#${x.c.index} ${x.c.kind}: ${x.c.what.slice(0, 100)}: ${x.problems[0]!.slice(0, 160)}`).join('\n');
  const details = failures
    .slice(0, 20)
    .map((x) => `#${x.c.index} ${x.c.kind}: ${x.c.what.slice(0, 200)}\n    ${x.problems.map((p) => p.slice(0, 1000)).join('\n    ')}\n    replay: ${replayLine(x.c)}`)
    .join('\n');
  assert.equal(failures.length, 0, `${failures.length} of ${cases.length} cases misbehaved:\n${list}\n\nThe first 20 in full:\n${details}`);
});
