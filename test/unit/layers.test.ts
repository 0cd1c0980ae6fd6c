// The import graph of src/ and cmd/: no cycle other than through type-only imports, no import up a layer (see layers.ts), verbs and the CLI apart, no verb importing another.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APART, cycles, groupOf, importsOf, LAYERS, layerOf, sourceFiles, VERBS, type Edge } from './layers';

/** The verb chunk's entry (scripts/chunks.mjs): the dispatcher loads it with import(), the one load the binary defers. */
const VERB_CHUNK = 'src/run/verb.ts';

const files = sourceFiles();
const edges: Edge[] = files.flatMap(importsOf);
const show = (e: Edge) => `${e.from} -> ${e.to}${e.typeOnly ? ' (type)' : ''}${e.dynamic ? ' (dynamic)' : ''}`;

test('every source file lies in a declared layer', () => {
  assert.deepEqual(files.filter((f) => layerOf(f) === undefined), []);
});

test('no import cycle, type-only imports aside', () => {
  assert.deepEqual(cycles(edges), []);
});

test('no import points up a layer, type-only imports included', () => {
  const up = edges.filter((e) => layerOf(e.to)! < layerOf(e.from)!);
  assert.deepEqual(up.map((e) => `${show(e)}: ${LAYERS[layerOf(e.from)!]!.name} imports ${LAYERS[layerOf(e.to)!]!.name}`), []);
});

test('the verb chunk and the CLI import nothing of each other', () => {
  const across = edges.filter((e) => groupOf(e.from) !== undefined && groupOf(e.to) !== undefined && groupOf(e.from) !== groupOf(e.to));
  assert.deepEqual(across.map(show), [], `groups kept apart: ${APART.map((g) => g.join(' + ')).join(' | ')}`);
});

test('no verb imports another verb', () => {
  assert.deepEqual(edges.filter((e) => VERBS.includes(e.from) && VERBS.includes(e.to)).map(show), []);
});

test('the verb chunk loads its modules statically: no import() in any module it holds', () => {
  const holds = new Set([VERB_CHUNK]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const e of edges) if (holds.has(e.from) && !e.typeOnly && !holds.has(e.to)) grew = !!holds.add(e.to);
  }
  assert.ok(holds.has('src/plugin/add.ts'), `${VERB_CHUNK} does not reach the verbs`);
  assert.deepEqual(edges.filter((e) => e.dynamic && holds.has(e.from)).map(show), []);
});

test('the graph reader sees type-only imports and import() calls (a check that can fail)', () => {
  assert.ok(edges.some((e) => e.from === 'cmd/main.ts' && e.to === 'src/cli/program.ts' && e.dynamic), 'cmd/main.ts loads the CLI with import()');
  assert.ok(edges.some((e) => e.typeOnly) && edges.some((e) => !e.typeOnly), 'imports of both kinds are told apart');
  assert.ok(edges.length > 300, `only ${edges.length} imports found`);
});
