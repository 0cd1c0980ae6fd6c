// Secret-bearing inputs: kubeconfigs broken right next to their token, password or key, tokens in CNI_ARGS, NAD configs, annotations and stdin; no output may show the secret.
import { readFileSync, writeFileSync } from 'node:fs';
import { dump } from 'js-yaml';
import { dirname, join } from 'node:path';
import { Rng } from './rng';
import { baseConf, cniEnv, containerIdOf, goodNadConfig, podArgs } from './base';
import { NS, UID, type CaseBody, type Frame } from './types';
import { NETWORKS } from './annotations';

/**
 * The worker's kubeconfig as YAML with every string quoted, whose lines the cases break: the test API server
 * writes it as JSON (as `macmux install` does), and these cases are about YAML broken next to a secret.
 */
function kubeconfigYaml(f: Frame): string {
  const text = readFileSync(f.kubeconfig, 'utf8');
  return text.trimStart().startsWith('{') ? dump(JSON.parse(text), { forceQuotes: true, quotingType: '"', lineWidth: -1 }) : text;
}

/** The worker's real bearer token, read from its kubeconfig: the secret that matters most. */
function apiToken(f: Frame): string {
  const m = /^\s*token:\s*"([^"]+)"/m.exec(kubeconfigYaml(f));
  if (!m) throw new Error(`no inline token in ${f.kubeconfig}`);
  return m[1]!;
}

/** A random secret of the case's stream. */
const madeUp = (rng: Rng): string => `fz${rng.chars(24, 'abcdefghijklmnopqrstuvwxyz0123456789')}`;

/** The worker's kubeconfig with its `token:` line replaced by `lines(token)`, written next to the cache dir. */
function brokenKubeconfig(f: Frame, index: number, lines: (token: string) => string[]): string {
  const text = kubeconfigYaml(f).replace(/^(\s*)token:.*$/m, (_, indent: string) => lines(apiToken(f)).map((l) => indent + l).join('\n'));
  const path = join(dirname(f.cacheDir), `kubeconfig-secret-${index}`);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

const KUBECONFIG_BREAKS: Array<[string, (t: string) => string[]]> = [
  ['a YAML error right after token:', (t) => [`token: ${t}`, ': broken']],
  ['an unterminated quote after token:', (t) => [`token: "${t}`, '"x: [']],
  ['a flow mapping opened before the token', (t) => [`token: {${t}`]],
  ['a tab right after token:', (t) => [`token: ${t}`, '\tx: 1']],
  ['a YAML error right after password:', (t) => ['username: admin', `password: ${t}`, ': }']],
  ['a YAML error right after client-key-data:', (t) => [`client-key-data: ${Buffer.from(t).toString('base64')}`, ': }']],
  ['a token of the wrong type', (t) => [`token: [${t}]`]],
  ['a token and a password', (t) => [`token: ${t}`, 'username: u', `password: ${t}`]],
];

export function secretCase(rng: Rng, index: number): CaseBody {
  const cid = containerIdOf(index);
  return rng.pick<() => CaseBody>([
    () => {
      const [what, lines] = rng.pick(KUBECONFIG_BREAKS);
      return {
        what: `kubeconfig: ${what}`,
        expect: { codes: [7], mention: ['kubeconfig'] },
        build: (f) => ({ command: 'ADD', stdin: JSON.stringify({ ...baseConf(f), kubeconfig: brokenKubeconfig(f, index, lines) }), env: cniEnv(f, cid), budget: 10, secret: apiToken(f) }),
      };
    },
    () => {
      const s = madeUp(rng);
      const key = rng.pick(['API_TOKEN', 'PASSWORD', 'secret_key', 'authToken']);
      return {
        what: `CNI_ARGS: ${key} given twice with different values`,
        expect: { codes: [4], mention: [key] },
        build: (f) => ({ command: 'ADD', stdin: JSON.stringify(baseConf(f)), env: cniEnv(f, cid, `${podArgs(f.basePod.name, f.basePod.uid, cid)};${key}=${s};${key}=${s}x`), budget: 10, secret: s }),
        delMustSucceed: true,
      };
    },
    () => {
      const s = madeUp(rng);
      const key = rng.pick(['password', 'token', 'key', 'privateKey']);
      const name = `sec${index}`;
      return {
        what: `NAD config with a JSON error right after "${key}"`,
        expect: { codes: [7], mention: [`${NS}/${name}`] },
        build: (f) => ({
          command: 'ADD',
          stdin: JSON.stringify(baseConf(f)),
          env: cniEnv(f, cid, podArgs(`pod-${index}`, UID, cid)),
          pod: { name: `pod-${index}`, annotations: { [NETWORKS]: name } },
          nads: [{ namespace: NS, name, spec: { config: JSON.stringify(goodNadConfig(f.master, name)).replace(/}$/, `,"${key}": ${s}}`) } }],
          budget: 10,
          secret: s,
        }),
      };
    },
    () => {
      const s = madeUp(rng);
      return {
        what: 'annotation with a JSON error right after a token in cni-args',
        expect: { codes: [7], mention: [NETWORKS] },
        build: (f) => ({
          command: 'ADD',
          stdin: JSON.stringify(baseConf(f)),
          env: cniEnv(f, cid, podArgs(`pod-${index}`, UID, cid)),
          pod: { name: `pod-${index}`, annotations: { [NETWORKS]: `[{"name":"good-a","cni-args":{"token": ${s}}}]` } },
          budget: 10,
          secret: s,
        }),
      };
    },
    () => {
      const s = madeUp(rng);
      return {
        what: 'stdin with a JSON error right after a password',
        expect: { codes: [6], mention: ['not valid JSON'] },
        build: (f) => ({ command: 'ADD', stdin: JSON.stringify(baseConf(f)).replace(/}$/, `,"password": ${s}}`), env: cniEnv(f, cid), budget: 10, secret: s }),
      };
    },
  ])();
}
