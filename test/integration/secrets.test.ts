// Integration: no secret reaches any output: stdout's error JSON, stderr, the log file, the pod's annotations or the operator CLI.
import { describe, it, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startApiServer, type ApiServer } from '../apiserver/server';
import { Sandbox, cliAsync, cniAsync, linkNames, macmuxConf, PLUGIN_DIR, type RunResult } from './harness';

const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
const API_TOKEN = `apitok-${randomBytes(12).toString('hex')}`;
let api: ApiServer;

before(async () => {
  api = await startApiServer({ token: API_TOKEN });
});
after(async () => api?.stop());

/** A fresh secret: long, random, and unlike anything macmux prints. */
const secret = (tag: string): string => `${tag}S3cr3t${randomBytes(12).toString('hex')}`;

/** A delegate that echoes its whole config (and so any password in it) in its error, on stdout and stderr; or succeeds reporting `password` as its DNS domain. */
const ECHO_PLUGIN = `#!/usr/bin/env node
let text = '';
process.stdin.on('data', (c) => (text += c)).on('end', () => {
  if (process.env.CNI_COMMAND !== 'ADD') return process.exit(0);
  const conf = JSON.parse(text);
  if (conf.fail) {
    const msg = 'cannot use config ' + text;
    process.stderr.write(msg + '\\n');
    process.stdout.write(JSON.stringify({ cniVersion: conf.cniVersion, code: 7, msg, details: 'args ' + JSON.stringify(conf.args || {}) }));
    return process.exit(1);
  }
  const secretOf = conf.password || (conf.args && conf.args.cni && conf.args.cni.token) || '';
  process.stdout.write(JSON.stringify({ cniVersion: conf.cniVersion, interfaces: [{ name: process.env.CNI_IFNAME, sandbox: process.env.CNI_NETNS }], ips: [], dns: { domain: String(secretOf), search: [String(secretOf)] } }));
});
`;

interface World {
  sb: Sandbox;
  conf: Record<string, unknown>;
  logFile: string;
  pod(name: string, annotations: Record<string, string>, cid: string, extraArgs?: string): Record<string, string>;
  nad(name: string, config: string): void;
  /** Writes `text` as a kubeconfig in the sandbox and returns its path. */
  kubeconfig(text: string): string;
  /** Asserts that `secret` (and the API server's token) is nowhere: the run's stdout and stderr, the log file, any pod's annotations. */
  clean(secret: string, ...runs: Array<Pick<RunResult, 'stdout' | 'stderr'>>): void;
}

function world(t: TestContext): World {
  const sb = new Sandbox();
  t.after(() => sb.cleanup());
  api.clearFaults();
  api.allowAll();
  const binDir = join(sb.dir, 'bin');
  mkdirSync(binDir, { recursive: true });
  writeFileSync(join(binDir, 'echo-conf'), ECHO_PLUGIN);
  chmodSync(join(binDir, 'echo-conf'), 0o755);
  const logFile = join(sb.dir, 'macmux.log');
  const conf = macmuxConf(sb, '1.0.0', [], { kubeconfig: api.kubeconfig, binDir, logLevel: 3, logFile });
  const pods: string[] = [];
  const w: World = {
    sb,
    conf,
    logFile,
    pod(name, annotations, cid, extraArgs = '') {
      const full = `${name}-${sb.id}`;
      pods.push(full);
      const obj = api.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: full, namespace: 'default', annotations } });
      return {
        ...sb.env(cid),
        _CNI_LOGGING_LEVEL: '3',
        _CNI_LOGGING_FILE: logFile,
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${full};K8S_POD_INFRA_CONTAINER_ID=${cid};K8S_POD_UID=${obj.metadata!.uid!}${extraArgs}`,
      };
    },
    nad(name, config) {
      api.put({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name, namespace: 'default' }, spec: { config } });
    },
    kubeconfig(text) {
      const path = join(sb.dir, `kubeconfig-${randomBytes(4).toString('hex')}`);
      writeFileSync(path, text, { mode: 0o600 });
      return path;
    },
    clean(s, ...runs) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      // The pod's own input (its networks annotation) holds the secret by design: only what macmux wrote counts.
      const written = (p: string): Record<string, string> => Object.fromEntries(Object.entries(api.get('Pod', 'default', p)?.metadata?.annotations ?? {}).filter(([k]) => k !== NETWORKS));
      const annotations = pods.map((p) => JSON.stringify(written(p)));
      const places: Array<[string, string]> = [
        ...runs.flatMap((r, i): Array<[string, string]> => [[`stdout of run ${i}`, r.stdout], [`stderr of run ${i}`, r.stderr]]),
        ['the log file', log],
        ...annotations.map((a, i): [string, string] => [`annotations of ${pods[i]}`, a]),
      ];
      for (const [where, text] of places) {
        for (const x of [s, API_TOKEN]) assert.ok(!text.includes(x), `${where} holds the secret ${x}:\n${text.slice(0, 2000)}`);
      }
    },
  };
  return w;
}

/** A kubeconfig for the test server whose user section is `user` (YAML lines indented by four spaces). */
function kubeconfigText(user: string[], extra: string[] = []): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'current-context: c',
    'clusters:',
    '- name: c',
    '  cluster:',
    `    server: ${JSON.stringify(api.url)}`,
    `    certificate-authority: ${JSON.stringify(api.caFile)}`,
    'contexts:',
    '- name: c',
    '  context: {cluster: c, user: u}',
    'users:',
    '- name: u',
    '  user:',
    ...user,
    ...extra,
    '',
  ].join('\n');
}

/** An exec plugin script that prints `secret` on stdout and stderr, then fails. */
function failingExec(sb: Sandbox, s: string): string {
  const path = join(sb.dir, `exec-${randomBytes(4).toString('hex')}.sh`);
  writeFileSync(path, `#!/bin/sh\necho '{"kind":"ExecCredential","status":{"token":"${s}"}}'\necho "token ${s} rejected: ${s}" >&2\nexit 1\n`);
  chmodSync(path, 0o755);
  return path;
}

/** Broken kubeconfigs, each carrying `s`: YAML errors next to secrets, bad token files, exec plugins printing it, wrong types. */
function brokenKubeconfigs(w: World, s: string): Array<[string, string]> {
  const tokenFile = join(w.sb.dir, `token-${randomBytes(4).toString('hex')}`);
  writeFileSync(tokenFile, `${s}\nsecond line ${s}\n`);
  const b64 = Buffer.from(`-----BEGIN PRIVATE KEY-----\n${s}\n-----END PRIVATE KEY-----\n`).toString('base64');
  return [
    ['a YAML error right after token: (the finding)', kubeconfigText([`    token: ${s}`, '  : broken', '   x: ['])],
    ['a YAML error right after a quoted token', kubeconfigText([`    token: "${s}`, '    "x'])],
    ['a YAML error right after password:', kubeconfigText(['    username: admin', `    password: ${s}`, '   - oops: ['])],
    ['a YAML error right after client-key-data:', kubeconfigText([`    client-key-data: ${b64}`, '\t bad tab'])],
    ['a YAML error before the token, on the same line', kubeconfigText([`    token: {${s}`])],
    ['a token file with two lines', kubeconfigText([`    tokenFile: ${JSON.stringify(tokenFile)}`])],
    ['a token of the wrong type', kubeconfigText([`    token: [${s}]`])],
    ['a token and a password', kubeconfigText([`    token: ${s}`, '    username: admin', `    password: ${s}`])],
    ['an exec plugin printing the token on stdout and stderr, failing', kubeconfigText(['    exec:', '      apiVersion: client.authentication.k8s.io/v1', `      command: ${failingExec(w.sb, s)}`])],
    ['an exec env value', kubeconfigText(['    exec:', '      apiVersion: client.authentication.k8s.io/v1', '      command: /nonexistent/plugin', '      env:', `      - {name: API_TOKEN, value: ${s}}`, '      - {name: X, value: [1]}'])],
    ['client-key-data that is not base64', kubeconfigText(['    client-certificate-data: AAAA', `    client-key-data: "${s}!!"`])],
    ['a token the server refuses', kubeconfigText([`    token: ${s}`])],
  ];
}

describe('no secret in any output', () => {
  it('kubeconfigs broken in many ways: ADD fails naming the file and field, and the secret is nowhere', async (t) => {
    const w = world(t);
    const s = secret('kc');
    let i = 0;
    for (const [what, text] of brokenKubeconfigs(w, s)) {
      const path = w.kubeconfig(text);
      const env = w.pod(`kc${i++}`, { [NETWORKS]: '' }, `kc${i}`);
      const r = await cniAsync('ADD', { ...w.conf, kubeconfig: path }, env);
      assert.equal(r.status, 1, `${what}: ${r.stdout}`);
      assert.notEqual(r.json.code, undefined, what);
      w.clean(s, r);
      await cniAsync('DEL', { ...w.conf, kubeconfig: path }, env);
    }
  });

  it('the finding: a YAML error right after token: names the file, line and column, never the text', async (t) => {
    const w = world(t);
    const s = secret('yaml');
    const path = w.kubeconfig(kubeconfigText([`    token: ${s}`, '  : broken']));
    const env = w.pod('yaml', {}, 'yaml1');
    const r = await cniAsync('ADD', { ...w.conf, kubeconfig: path }, env);
    assert.equal(r.json.code, 7);
    assert.match(String(r.json.msg), new RegExp(`kubeconfig ${path}: not YAML: line 16 column 3: `));
    w.clean(s, r);
  });

  it('tokens in CNI_ARGS, in NAD configs (also relayed in a delegate error) and in pod annotations', async (t) => {
    const w = world(t);
    const s = secret('in');
    const runs: RunResult[] = [];
    // CNI_ARGS: a secret key given twice, which the error quotes.
    runs.push(await cniAsync('ADD', w.conf, { ...w.pod('args', {}, 'args1', `;API_TOKEN=${s};API_TOKEN=${s}x`) }));
    assert.equal(runs.at(-1)!.json.code, 4);
    // A NAD whose config breaks right after its password.
    w.nad('badjson', `{"cniVersion":"1.0.0","type":"bridge","password": ${s}}`);
    runs.push(await cniAsync('ADD', w.conf, w.pod('nadjson', { [NETWORKS]: 'badjson' }, 'nadjson1')));
    assert.equal(runs.at(-1)!.json.code, 7);
    // A delegate that quotes its whole config (password included) in its error, on stdout and stderr.
    w.nad('echo', JSON.stringify({ cniVersion: '1.0.0', type: 'echo-conf', fail: true, password: s, nested: { privateKey: `k${s}` } }));
    runs.push(await cniAsync('ADD', w.conf, w.pod('nadecho', { [NETWORKS]: 'echo' }, 'nadecho1')));
    assert.equal(runs.at(-1)!.json.code, 7);
    assert.match(String(runs.at(-1)!.json.msg), /echo-conf \(echo\) ADD: cannot use config/);
    // An annotation whose JSON breaks right after a token in cni-args.
    runs.push(await cniAsync('ADD', w.conf, w.pod('annjson', { [NETWORKS]: `[{"name":"echo","cni-args":{"token": ${s}}}]` }, 'annjson1')));
    assert.equal(runs.at(-1)!.json.code, 7);
    // A token in cni-args that the delegate echoes in its error.
    runs.push(await cniAsync('ADD', w.conf, w.pod('annecho', { [NETWORKS]: JSON.stringify([{ name: 'echo', 'cni-args': { token: s } }]) }, 'annecho1')));
    assert.equal(runs.at(-1)!.json.code, 7);
    w.clean(s, ...runs);
  });

  it('network-status never carries a secret a delegate reports', async (t) => {
    const w = world(t);
    const s = secret('st');
    w.nad('okecho', JSON.stringify({ cniVersion: '1.0.0', type: 'echo-conf', password: s }));
    const env = w.pod('status', { [NETWORKS]: 'okecho' }, 'status1');
    const r = await cniAsync('ADD', w.conf, env);
    assert.equal(r.status, 0, r.stdout);
    const status = api.get('Pod', 'default', `status-${w.sb.id}`)?.metadata?.annotations?.['k8s.v1.cni.cncf.io/network-status'];
    assert.ok(status?.includes('<redacted>'), status);
    // The plugin's own result on stdout is the runtime's, not an output macmux makes up: only the other places are checked.
    w.clean(s, { stdout: '', stderr: r.stderr });
    await cniAsync('DEL', w.conf, env);
  });

  it('the operator CLI (doctor, ledger list) with such kubeconfigs', async (t) => {
    const w = world(t);
    const s = secret('cli');
    const conflist = join(w.sb.dir, 'macmux.conflist');
    writeFileSync(conflist, JSON.stringify({ cniVersion: '1.0.0', name: 'macmux', plugins: [{ ...w.conf, kubeconfig: api.kubeconfig }] }));
    for (const [what, text] of brokenKubeconfigs(w, s)) {
      const path = w.kubeconfig(text);
      for (const args of [['doctor', '--config', conflist, '--kubeconfig', path], ['ledger', 'list', '--config', conflist, '--kubeconfig', path], ['doctor', '-o', 'json', '--config', conflist, '--kubeconfig', path]]) {
        const r = await cliAsync(args, { CNI_PATH: PLUGIN_DIR });
        assert.notEqual(r.status, 0, `${what}: ${args.join(' ')}: ${r.stdout}${r.stderr}`);
        w.clean(s, r);
      }
    }
    assert.deepEqual(linkNames(w.sb.ns), ['lo']);
  });
});
