// Unit tests for src/config/validators.ts: the precompiled validators the binary ships judge every config like ajv at run time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Script } from 'node:vm';
import type { ValidateFunction } from 'ajv';
import { precompiledSource, validator, VALIDATORS, type ValidatorName } from '../../src/config/validators';
import { DEFAULT_SEED, generate } from '../fuzz/generate';
import type { Frame } from '../fuzz/types';

/** The generated module, loaded as the bundle would: CommonJS, requiring only ajv's runtime helpers. */
function precompiled(): (name: ValidatorName) => ValidateFunction {
  const module = { exports: {} as { validator: (name: ValidatorName) => ValidateFunction } };
  new Script(`(function (exports, require, module) {${precompiledSource()}\n})`).runInThisContext()(module.exports, require, module);
  return module.exports.validator;
}

const frame: Frame = { cacheDir: '/c', confDir: '/d', canary: '/z', kubeconfig: '/k', nodeName: 'n', netnsPath: '/run/netns/x', master: 'br0', cniPath: '/usr/lib/cni', basePod: { name: 'p', uid: 'u' } };

/** Every JSON document the fuzz corpus feeds macmux as a config or a NAD's config, plus a few well-formed ones. */
function corpus(): unknown[] {
  const docs: unknown[] = [
    { cniVersion: '1.0.0', name: 'm', type: 'macmux', delegates: [{ name: 'lo', type: 'loopback' }] },
    { cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'macvlan', master: 'br0' }, { type: 'tuning' }] },
    { cniVersion: '1.0.0', name: 'n', type: 'macvlan', plugins: [] },
  ];
  for (const c of generate(DEFAULT_SEED)) {
    if (c.kind !== 'config' && c.kind !== 'nad' && c.kind !== 'trust') continue;
    const plan = c.build(frame);
    const texts = [String(plan.stdin), ...(plan.nads ?? []).map((n) => (n.spec as { config?: unknown } | undefined)?.config).filter((t): t is string => typeof t === 'string')];
    // macmux refuses documents nested deeper than 512 levels before any schema runs.
    for (const t of texts.filter((x) => x.length < 200_000 && depth(x) <= 512)) {
      try {
        docs.push(JSON.parse(t));
      } catch {
        // not JSON: the schema never sees it
      }
    }
  }
  return docs;
}

function depth(text: string): number {
  let d = 0;
  let max = 0;
  for (const ch of text) {
    if (ch === '{' || ch === '[') max = Math.max(max, ++d);
    else if (ch === '}' || ch === ']') d--;
  }
  return max;
}

test('the precompiled validators give the runtime verdict and the same errors on every config and NAD of the fuzz corpus', () => {
  const pre = precompiled();
  const docs = corpus();
  assert.ok(docs.length > 500, `a corpus of ${docs.length} documents`);
  let refused = 0;
  for (const name of Object.keys(VALIDATORS) as ValidatorName[]) {
    const [a, b] = [validator(name), pre(name)];
    for (const doc of docs) {
      const [ra, rb] = [a(doc), b(doc)];
      assert.equal(rb, ra, `${name}: ${JSON.stringify(doc).slice(0, 200)}`);
      assert.deepEqual(b.errors ?? null, a.errors ?? null, `${name} errors: ${JSON.stringify(doc).slice(0, 200)}`);
      if (!ra) refused++;
    }
  }
  assert.ok(refused > 100, `${refused} verdicts were refusals`);
});
