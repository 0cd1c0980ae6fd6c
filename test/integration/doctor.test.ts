// Integration: `macmux doctor` as a subprocess of the built binary, against the API test server, a conflist
// whose delegates are the real plugins in /usr/lib/cni, seeded ledger ConfigMaps and a node journal.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer, type ApiServer } from '../apiserver/server';
import { writeKubeconfig } from '../apiserver/kubeconfig';
import { PLUGIN_DIR, cliAsync, type CliRun } from './harness';
import { encodeHolding, type Holding } from '../../src/mac/holding';
import { claimsCm } from '../../src/mac/home';

type Json = any; // doctor's JSON report, asserted field by field

const NS = 'kube-system';
const LABEL = 'macmux.io/ledger';
const NOW = () => Math.floor(Date.now() / 1000);
const OUTSIDE = '0e:00:00:00:00:01'; // a requested MAC outside the range: its home is a claims shard
const key = (mac: string) => mac.replace(/:/g, '');
const held = (owner: string, node: string, state: Holding['state'] = 'active', since = NOW()) => encodeHolding({ owner, node, state, since });

type Run = CliRun;

const macmux = cliAsync;

interface World {
  api: ApiServer;
  dir: string;
  cacheDir: string;
  conflist: string;
  /** Rewrites the conflist with the macmux plugin config changed by `edit`. */
  config(edit: (plugin: Record<string, unknown>) => void): void;
  journal(entries: Record<string, Record<string, unknown>>): void;
  /** `macmux doctor --config <conflist> -o json ...`: the exit code and the parsed report. */
  doctor(args?: string[], env?: Record<string, string>): Promise<{ run: Run; report: Json; check: (name: string) => Json }>;
}

/**
 * A healthy node n1 of a two-node cluster: bridge+host-local on eth0 and a macvlan secondary; two NADs
 * (bridge+host-local, macvlan+static); blocks 0 and 1 of the pool leased to n1 and n2; holdings at their
 * homes (one released in grace, one requested MAC in its claims shard); n1's journal agreeing with them.
 */
async function world(t: TestContext): Promise<World> {
  const api = await startApiServer();
  const dir = mkdtempSync(join(tmpdir(), 'macmux-doctor-'));
  t.after(async () => {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const cacheDir = join(dir, 'state');
  const conflist = join(dir, '00-macmux.conflist');
  const plugin: Record<string, unknown> = {
    type: 'macmux',
    kubeconfig: api.kubeconfigTokenFile,
    cacheDir,
    binDir: PLUGIN_DIR,
    confDir: dir,
    macNamespace: NS,
    nodeName: 'n1',
    macPool: { rangeStart: '02:aa:00:00:00:00', rangeEnd: '02:aa:00:00:0f:ff', blockSize: 32 },
    delegates: [
      { name: 'cluster', masterPlugin: true, type: 'bridge', bridge: 'cni0', ipam: { type: 'host-local', subnet: '10.250.0.0/24' } },
      { name: 'green', type: 'macvlan', master: 'eth0', mode: 'bridge' },
    ],
  };
  const write = () => writeFileSync(conflist, JSON.stringify({ cniVersion: '1.0.0', name: 'macmux', plugins: [plugin] }));
  write();

  const now = NOW();
  api.put({ kind: 'ConfigMap', metadata: { name: 'macmux-pool', namespace: NS, labels: { [LABEL]: 'pool' } }, data: { RANGE_START: '02:aa:00:00:00:00', RANGE_END: '02:aa:00:00:0f:ff', BLOCK_SIZE: '32', LEASES: '{"0":"n1","1":"n2"}' } });
  api.put({
    kind: 'ConfigMap',
    metadata: { name: 'macmux-ledger-n1', namespace: NS, labels: { [LABEL]: 'node' } },
    data: { '02aa00000000': held('default/web-0/green', 'n1', 'active', now), '02aa00000001': held('default/old/green', 'n1', 'released', now - 10) },
  });
  api.put({ kind: 'ConfigMap', metadata: { name: 'macmux-ledger-n2', namespace: NS, labels: { [LABEL]: 'node' } }, data: { '02aa00000020': held('default/web-1/green', 'n2') } });
  api.put({ kind: 'ConfigMap', metadata: { name: claimsCm(OUTSIDE), namespace: NS, labels: { [LABEL]: 'claims' } }, data: { [key(OUTSIDE)]: held('default/web-2/green', 'n1') } });
  const nad = (ns: string, name: string, config: unknown) =>
    api.put({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name, namespace: ns }, spec: { config: typeof config === 'string' ? config : JSON.stringify(config) } });
  nad('default', 'green', { cniVersion: '1.0.0', type: 'macvlan', master: 'eth0', ipam: { type: 'static' } });
  nad('team', 'blue', { cniVersion: '0.4.0', name: 'blue', plugins: [{ type: 'bridge', bridge: 'br-blue', ipam: { type: 'host-local', subnet: '10.9.0.0/24' } }, { type: 'tuning' }] });

  const w: World = {
    api,
    dir,
    cacheDir,
    conflist,
    config(edit) {
      edit(plugin);
      write();
    },
    journal(entries) {
      mkdirSync(join(cacheDir, 'ledger'), { recursive: true });
      writeFileSync(join(cacheDir, 'ledger', 'journal.json'), JSON.stringify({ format: 1, entries, intents: [], seen: {} }));
    },
    async doctor(args = [], env = {}) {
      const run = await macmux(['doctor', '--config', conflist, '-o', 'json', ...args], env);
      let report: Json;
      try {
        report = JSON.parse(run.stdout);
      } catch {
        assert.fail(`doctor printed no JSON report (exit ${run.status}): ${run.stdout}\n${run.stderr}`);
      }
      assert.deepEqual(report.checks.map((c: Json) => c.name), ['config', 'delegates', 'api', 'rbac', 'nads', 'integrity', 'agreement', 'duplicates', 'environment']);
      return { run, report, check: (name: string) => report.checks.find((c: Json) => c.name === name) };
    },
  };
  w.journal({
    '02:aa:00:00:00:00': { owner: 'default/web-0/green', state: 'active', containerID: 'c0', pid: 1, since: now },
    '02:aa:00:00:00:01': { owner: 'default/old/green', state: 'released', containerID: 'c9', pid: 1, since: now - 10 },
    [OUTSIDE]: { owner: 'default/web-2/green', state: 'active', containerID: 'c2', pid: 1, since: now },
  });
  return w;
}

const statuses = (report: Json) => Object.fromEntries(report.checks.map((c: Json) => [c.name, c.status]));

describe('macmux doctor', () => {
  it('passes a healthy setup: every check ok, each plugin with the versions it answered to VERSION', async (t) => {
    const w = await world(t);
    const { run, report, check } = await w.doctor();
    assert.equal(run.status, 0, run.stderr + run.stdout);
    assert.equal(report.ok, true);
    assert.deepEqual(Object.values(statuses(report)), Array(9).fill('ok'), run.stdout);
    for (const c of report.checks) assert.ok(typeof c.detail === 'string' && c.detail.length > 0 && !c.detail.includes('\n'), `${c.name} has a one-line detail`);

    // Each plugin of the config and of the NADs, found in binDir and asked for its versions.
    const plugins = check('delegates').data.plugins;
    assert.deepEqual(plugins.map((p: Json) => p.type), ['bridge', 'host-local', 'macvlan', 'static', 'tuning']);
    const expected = JSON.parse(await versionOf(join(PLUGIN_DIR, 'bridge'))).supportedVersions;
    for (const p of plugins) {
      assert.equal(p.path, join(PLUGIN_DIR, p.type));
      assert.deepEqual(p.supportedVersions, expected, `${p.type} versions`);
    }
    assert.deepEqual(plugins.find((p: Json) => p.type === 'bridge').usedBy, ['delegate cluster', 'NAD team/blue']);
    assert.match(check('delegates').detail, /bridge 0\.1\.0-1\.0\.0/);

    assert.match(check('api').detail, new RegExp(`${w.api.url.replace(/\./g, '\\.')} answered \\(Kubernetes v1\\.31\\.0-macmux-test\\)`));
    // One SelfSubjectAccessReview per verb macmux uses, ConfigMaps asked in the ledger namespace.
    const reviews = w.api.requests.filter((r) => r.resource === 'selfsubjectaccessreviews');
    assert.equal(reviews.length, 14);
    assert.ok(reviews.every((r) => r.method === 'POST' && r.status === 201));
    const asked = reviews.map((r) => (r.body as Json).spec.resourceAttributes).map((a: Json) => `${a.verb} ${a.resource}${a.group ? `.${a.group}` : ''}${a.namespace ? ` in ${a.namespace}` : ''}`);
    assert.deepEqual(asked.sort(), [
      'create configmaps in kube-system',
      'delete configmaps in kube-system',
      'get configmaps in kube-system',
      'get namespaces',
      'get network-attachment-definitions.k8s.cni.cncf.io',
      'get nodes',
      'get pods',
      'get statefulsets.apps',
      'get virtualmachineinstances.kubevirt.io',
      'get virtualmachines.kubevirt.io',
      'list configmaps in kube-system',
      'list network-attachment-definitions.k8s.cni.cncf.io',
      'patch pods',
      'update configmaps in kube-system',
    ]);
    assert.ok(check('rbac').data.permissions.every((p: Json) => p.allowed === true));
    assert.equal(check('nads').detail, '2 NetworkAttachmentDefinitions in 2 namespaces parse');
    assert.equal(check('integrity').data.liveHoldings, 4);
    assert.equal(check('integrity').data.blocksLeased, 2);
    assert.deepEqual(check('agreement').data.counts, { active: 2, reserved: 0, released: 1 });
    assert.match(check('duplicates').detail, /no MAC is held by more than one owner \(4 live holdings\)/);
    // doctor only reads: GETs and access reviews, nothing written.
    assert.deepEqual([...new Set(w.api.requests.map((r) => `${r.method} ${r.verb}`))].sort(), ['GET ', 'GET list', 'POST create']);

    // The text checklist: one line per check, then the summary.
    const text = await macmux(['doctor', '--config', w.conflist]);
    assert.equal(text.status, 0, text.stderr);
    const lines = text.stdout.trimEnd().split('\n');
    assert.deepEqual(lines.slice(0, 9).map((l) => l.split(/\s+/).slice(0, 2).join(' ')), ['ok config', 'ok delegates', 'ok api', 'ok rbac', 'ok nads', 'ok integrity', 'ok agreement', 'ok duplicates', 'ok environment']);
    assert.equal(lines.at(-1), '9 ok, 0 warnings, 0 failed, 0 skipped');
  });

  it('fails when a delegate binary is missing, naming it; a NAD-only plugin missing on this node is a warning', async (t) => {
    const w = await world(t);
    w.api.put({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'ovs', namespace: 'default' }, spec: { config: JSON.stringify({ cniVersion: '1.0.0', type: 'ovs', bridge: 'br1' }) } });
    let { run, report, check } = await w.doctor();
    assert.equal(run.status, 0, 'a warning does not fail');
    assert.equal(report.ok, true);
    assert.equal(check('delegates').status, 'warn');
    assert.match(check('delegates').detail, new RegExp(`ovs not found in ${PLUGIN_DIR} \\(used by NAD default/ovs\\)`));

    w.config((p) => (p.delegates as Json[]).push({ name: 'tap', type: 'macvtap', master: 'eth0' }));
    ({ run, report, check } = await w.doctor());
    assert.equal(run.status, 1);
    assert.equal(report.ok, false);
    assert.equal(check('delegates').status, 'fail');
    assert.match(check('delegates').detail, new RegExp(`macvtap not found in ${PLUGIN_DIR} \\(used by delegate tap\\)`));
    assert.match(check('delegates').hint, /install the missing plugins into/);
    assert.deepEqual(check('delegates').data.plugins.find((p: Json) => p.type === 'macvtap'), { type: 'macvtap', usedBy: ['delegate tap'] });
    assert.match(run.stderr, /doctor: 1 check failed \(delegates\)/);
  });

  it('fails a delegate network whose cniVersion its plugin does not speak', async (t) => {
    const w = await world(t);
    w.config((p) => ((p.delegates as Json[])[1].cniVersion = '1.1.0'));
    const { run, check } = await w.doctor();
    assert.equal(run.status, 1);
    assert.match(check('delegates').detail, /macvlan does not support cniVersion 1\.1\.0 of delegate green/);
  });

  it('fails rbac naming a denied verb and resource, and points at the RBAC manifest', async (t) => {
    const w = await world(t);
    w.api.deny('update', 'configmaps', NS);
    const { run, report, check } = await w.doctor();
    assert.equal(run.status, 1);
    assert.equal(check('rbac').status, 'fail');
    assert.equal(check('rbac').detail, 'denied: update configmaps in kube-system');
    assert.match(check('rbac').hint, /kubectl apply -f daemonset\/rbac\.yaml/);
    const others = statuses(report);
    delete others.rbac;
    assert.ok(Object.values(others).every((s) => s === 'ok'), JSON.stringify(others));

    // A denied list: rbac names it, and the ledger checks that needed it are skipped, not failed.
    w.api.deny('list', 'configmaps');
    const again = await w.doctor();
    assert.equal(again.check('rbac').detail, 'denied: list configmaps in kube-system, update configmaps in kube-system');
    assert.equal(again.check('integrity').status, 'skip');
    assert.match(again.check('integrity').detail, /see rbac/);
    assert.equal(again.check('duplicates').status, 'skip');
  });

  it('fails duplicates listing both owners of a MAC injected into two node ledgers', async (t) => {
    const w = await world(t);
    w.api.put({
      kind: 'ConfigMap',
      metadata: { name: 'macmux-ledger-n2', namespace: NS, labels: { [LABEL]: 'node' } },
      data: { '02aa00000020': held('default/web-1/green', 'n2'), '02aa00000000': held('other/intruder/red', 'n2') },
    });
    const { run, check } = await w.doctor();
    assert.equal(run.status, 1);
    const dup = check('duplicates');
    assert.equal(dup.status, 'fail');
    assert.match(dup.detail, /1 MAC held by more than one owner: 02:aa:00:00:00:00 held by default\/web-0\/green \(macmux-ledger-n1\) and other\/intruder\/red \(macmux-ledger-n2\)/);
    assert.deepEqual(
      dup.data.duplicates.map((d: Json) => ({ mac: d.mac, owners: d.holders.map((h: Json) => `${h.owner}@${h.configMap}`) })),
      [{ mac: '02:aa:00:00:00:00', owners: ['default/web-0/green@macmux-ledger-n1', 'other/intruder/red@macmux-ledger-n2'] }],
    );
    // The copy outside its node's blocks is an integrity problem too.
    assert.equal(check('integrity').status, 'fail');
    assert.match(check('integrity').detail, /macmux-ledger-n2 records 02:aa:00:00:00:00 \(other\/intruder\/red, active\) outside the blocks leased to n2/);
  });

  it('fails integrity on a damaged ledger value and on a bad pool ConfigMap', async (t) => {
    const w = await world(t);
    const cm = w.api.get('ConfigMap', NS, 'macmux-ledger-n1')!;
    w.api.put({ ...cm, data: { ...(cm.data as Record<string, string>), '02aa00000007': 'garbage' } });
    let { run, check } = await w.doctor();
    assert.equal(run.status, 1);
    assert.equal(check('integrity').status, 'fail');
    assert.match(check('integrity').detail, /damaged: macmux-ledger-n1: 02aa00000007/);
    assert.equal(check('duplicates').status, 'ok', 'the other holdings are still counted');

    const pool = w.api.get('ConfigMap', NS, 'macmux-pool')!;
    w.api.put({ ...pool, data: { ...(pool.data as Record<string, string>), LEASES: '{not json' } });
    ({ run, check } = await w.doctor());
    assert.equal(run.status, 1);
    assert.match(check('integrity').detail, /ConfigMap macmux-pool: LEASES is not JSON/);
    assert.equal(check('duplicates').status, 'skip');
    assert.equal(check('agreement').status, 'skip');
  });

  it('checks this node\'s journal against the ConfigMaps without touching it', async (t) => {
    const w = await world(t);
    const now = NOW();
    w.journal({
      '02:aa:00:00:00:00': { owner: 'default/web-0/green', state: 'active', containerID: 'c0', pid: 1, since: now },
      '02:aa:00:00:00:01': { owner: 'default/old/green', state: 'released', containerID: 'c9', pid: 1, since: now - 10, pendingRelease: true },
    });
    let { run, check } = await w.doctor();
    assert.equal(run.status, 0);
    assert.equal(check('agreement').status, 'warn');
    assert.match(check('agreement').detail, /1 release not yet pushed to the cluster \(02:aa:00:00:00:01\)/);
    assert.match(check('agreement').hint, /run macmux ledger sync/);

    // An active MAC the cluster records for another owner.
    w.journal({ '02:aa:00:00:00:20': { owner: 'default/web-0/green', state: 'active', containerID: 'c0', pid: 1, since: now } });
    ({ run, check } = await w.doctor());
    assert.equal(run.status, 1);
    assert.equal(check('agreement').status, 'fail');
    assert.equal(check('agreement').detail, '02:aa:00:00:00:20: the journal has it active for default/web-0/green, macmux-ledger-n2 has it active for default/web-1/green');

    // A damaged journal fails, and stays where it is (doctor never moves it aside).
    const file = join(w.cacheDir, 'ledger', 'journal.json');
    writeFileSync(file, '{"format": 1, "entr');
    ({ run, check } = await w.doctor());
    assert.equal(check('agreement').status, 'fail');
    assert.match(check('agreement').detail, new RegExp(`journal ${file} is damaged`));
    assert.equal(readFileSync(file, 'utf8'), '{"format": 1, "entr');

    rmSync(file);
    ({ run, check } = await w.doctor());
    assert.equal(run.status, 0);
    assert.match(check('agreement').detail, /no journal at .*: no pod on this node has taken a ledger MAC/);
    assert.equal(existsSync(file), false);
  });

  it('warns about a NAD whose spec.config does not parse, naming it and the field', async (t) => {
    const w = await world(t);
    w.api.put({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'red', namespace: 'team' }, spec: { config: JSON.stringify({ cniVersion: '1.0.0', plugins: [{ type: 7 }] }) } });
    w.api.put({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'torn', namespace: 'default' }, spec: { config: '{"type": "bridge"' } });
    const { run, check } = await w.doctor();
    assert.equal(run.status, 0);
    const nads = check('nads');
    assert.equal(nads.status, 'warn');
    assert.match(nads.detail, /^2 of 4 NetworkAttachmentDefinitions do not parse: /);
    assert.match(nads.detail, /NetworkAttachmentDefinition team\/red spec\.config is invalid: \$\.plugins\[0\]\.type: must be string/);
    assert.match(nads.detail, /NetworkAttachmentDefinition default\/torn: spec\.config is not valid JSON/);
  });

  it('fails api when the server is unreachable and skips the checks that need it', async (t) => {
    const w = await world(t);
    const dead = writeKubeconfig(join(w.dir, 'dead.kubeconfig'), { server: 'https://127.0.0.1:1', caFile: w.api.caFile, token: 'x' });
    const { run, report, check } = await w.doctor(['--kubeconfig', dead, '--timeout', '1']);
    assert.equal(run.status, 1);
    assert.equal(report.ok, false);
    assert.deepEqual(statuses(report), { config: 'ok', delegates: 'ok', api: 'fail', rbac: 'skip', nads: 'skip', integrity: 'skip', agreement: 'skip', duplicates: 'skip', environment: 'ok' });
    assert.match(check('api').detail, /Kubernetes API at https:\/\/127\.0\.0\.1:1 unreachable/);
    assert.match(check('api').hint, /check the server address in kubeconfig .*dead\.kubeconfig/);
    assert.match(check('rbac').detail, /needs the API, which did not answer/);
    assert.match(check('delegates').detail, /NAD plugins not checked/);
    assert.ok(run.ms < 10_000, `gave up after the --timeout (took ${run.ms} ms)`);

    // The server stopped: the config's own kubeconfig fails the same way.
    await w.api.stop();
    const stopped = await w.doctor(['--timeout', '1']);
    assert.equal(stopped.run.status, 1);
    assert.equal(stopped.check('api').status, 'fail');
    assert.equal(stopped.check('duplicates').status, 'skip');
  });

  it('fails api on a token the server does not accept', async (t) => {
    const w = await world(t);
    w.api.setToken('another-token');
    const { run, check } = await w.doctor();
    assert.equal(run.status, 1);
    assert.match(check('api').detail, /HTTP 401 Unauthorized/);
    assert.match(check('api').hint, /token/);
  });

  it('fails config naming every bad path, and skips what needs the config', async (t) => {
    const w = await world(t);
    w.config((p) => {
      p.logLevel = 9;
      (p.delegates as Json[])[1].type = 7;
    });
    const { run, report, check } = await w.doctor();
    assert.equal(run.status, 1);
    assert.equal(check('config').status, 'fail');
    assert.equal(check('config').detail, `${w.conflist}: network config is invalid: $.delegates[1].type: must be string; $.logLevel: must be <= 3`);
    assert.equal(check('delegates').status, 'skip');
    assert.equal(check('agreement').status, 'skip');
    assert.equal(statuses(report).api, 'skip', 'no kubeconfig without the config');

    // With --kubeconfig the API checks still run.
    const withApi = await w.doctor(['--kubeconfig', w.api.kubeconfig]);
    assert.equal(withApi.check('api').status, 'ok');
    assert.equal(withApi.check('duplicates').status, 'ok');

    const missing = await macmux(['doctor', '--config', join(w.dir, 'nope.conflist'), '-o', 'json']);
    assert.equal(missing.status, 1);
    assert.match(JSON.parse(missing.stdout).checks[0].detail, /nope\.conflist does not exist/);
  });

  it('warns about NODE_EXTRA_CA_CERTS but exits 0', async (t) => {
    const w = await world(t);
    const { run, report, check } = await w.doctor([], { NODE_EXTRA_CA_CERTS: w.api.caFile });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(report.ok, true);
    assert.equal(check('environment').status, 'warn');
    assert.match(check('environment').detail, /NODE_EXTRA_CA_CERTS=.* is set: every macmux start \(each CNI call\) costs about 45 ms more/);
    const text = await macmux(['doctor', '--config', w.conflist], { NODE_EXTRA_CA_CERTS: w.api.caFile });
    assert.equal(text.status, 0);
    assert.match(text.stdout, /^WARN {2}environment {2}NODE_EXTRA_CA_CERTS=/m);
    assert.match(text.stdout, /^ {19}hint: unset it/m);
    assert.match(text.stdout, /8 ok, 1 warning, 0 failed, 0 skipped\n$/);
  });

  it('rejects an unknown output format with exit 2', async () => {
    const r = await macmux(['doctor', '-o', 'yaml']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /use -o text or -o json/);
  });
});

describe('API test server: what doctor asks', () => {
  it('answers SelfSubjectAccessReviews from the deny list (201, the review echoed, status filled)', async (t) => {
    const api = await startApiServer();
    t.after(() => api.stop());
    const review = (attrs: Record<string, unknown>, token = api.token) =>
      post(api, '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: attrs } }, token);
    api.deny('update', 'configmaps', NS);
    api.deny('list', 'network-attachment-definitions');

    const denied = await review({ verb: 'update', resource: 'configmaps', group: '', namespace: NS });
    assert.equal(denied.status, 201);
    assert.deepEqual(denied.body, {
      kind: 'SelfSubjectAccessReview',
      apiVersion: 'authorization.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec: { resourceAttributes: { verb: 'update', resource: 'configmaps', group: '', namespace: NS } },
      status: { allowed: false },
    });
    assert.equal((await review({ verb: 'update', resource: 'configmaps', namespace: 'default' })).body.status.allowed, true, 'another namespace');
    assert.equal((await review({ verb: 'get', resource: 'configmaps', namespace: NS })).body.status.allowed, true, 'another verb');
    assert.equal((await review({ verb: 'list', resource: 'network-attachment-definitions', group: 'k8s.cni.cncf.io' })).body.status.allowed, false, 'cluster-wide deny');
    assert.equal((await review({ verb: 'list', resource: 'network-attachment-definitions', group: 'example.com' })).body.status.allowed, true, 'another group is another resource');
    assert.equal((await review({ verb: 'get', resource: 'pods' }, 'wrong')).status, 401);
    const empty = await post(api, '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { spec: {} });
    assert.equal(empty.status, 422);
    assert.equal(empty.body.reason, 'Invalid');
    const logged = api.requests.filter((r) => r.resource === 'selfsubjectaccessreviews');
    assert.equal(logged.length, 7);
    assert.ok(logged.every((r) => r.verb === 'create'));
  });

  it('serves GET /version and the cluster-wide NAD list', async (t) => {
    const api = await startApiServer({ namespaces: ['default', 'kube-system', 'team'] });
    t.after(() => api.stop());
    for (const [ns, name] of [['default', 'a'], ['team', 'b']]) api.put({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name, namespace: ns }, spec: { config: '{}' } });
    const v = await get(api, '/version');
    assert.equal(v.status, 200);
    assert.equal(v.body.gitVersion, 'v1.31.0-macmux-test');
    assert.equal((await get(api, '/version', 'wrong')).status, 401);
    const all = await get(api, '/apis/k8s.cni.cncf.io/v1/network-attachment-definitions');
    assert.equal(all.status, 200);
    assert.deepEqual(all.body.items.map((i: Json) => `${i.metadata.namespace}/${i.metadata.name}`), ['default/a', 'team/b']);
  });
});

/** The plugin's own answer to VERSION. */
function versionOf(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, [], { env: { CNI_COMMAND: 'VERSION' }, stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(out));
    // A plugin may answer VERSION without reading stdin and exit first: the lost write is no error.
    child.stdin.on('error', () => undefined);
    child.stdin.end('{"cniVersion":"1.0.0"}');
  });
}

function send(api: ApiServer, method: string, path: string, body: unknown, token: string): Promise<{ status: number; body: Json }> {
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${api.url}${path}`,
      {
        method,
        ca: readFileSync(api.caFile),
        agent: false,
        headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', ...(data ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(data)) } : {}) },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}
const post = (api: ApiServer, path: string, body: unknown, token = api.token) => send(api, 'POST', path, body, token);
const get = (api: ApiServer, path: string, token = api.token) => send(api, 'GET', path, undefined, token);
