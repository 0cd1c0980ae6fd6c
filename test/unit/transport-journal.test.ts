// Unit tests for src/k8s/http.ts (a refused connection with refusedIsDown) and the seen cache of src/mac/journal.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiTransport } from '../../src/k8s/http';
import { CniError, Code } from '../../src/cni/errors';
import { readJournal, readSeen, writeJournal, writeSeen, journalDir } from '../../src/mac/journal';

/** A port on 127.0.0.1 where nothing listens: connections to it are refused. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function attempts(refusedIsDown: boolean): Promise<{ retries: number; error: unknown }> {
  const port = await closedPort();
  const lines: string[] = [];
  const t = new ApiTransport({ server: `http://127.0.0.1:${port}`, rejectUnauthorized: true }, 400, (m) => lines.push(m), Date.now() + 400, { refusedIsDown });
  const error = await t.send({ method: 'GET', path: '/api/v1/namespaces/kube-system/configmaps/x', verb: 'get', resource: 'configmaps x' }).catch((e: unknown) => e);
  t.close();
  return { retries: lines.filter((l) => /ECONNREFUSED, retrying/.test(l)).length, error };
}

test('a refused connection is retried until the deadline by default, and given up at once with refusedIsDown (code 11 both ways)', async () => {
  const patient = await attempts(false);
  assert.ok(patient.retries >= 2, `retried ${patient.retries} times`);
  assert.ok(patient.error instanceof CniError && patient.error.code === Code.TryAgainLater, String(patient.error));
  const quick = await attempts(true);
  assert.equal(quick.retries, 0);
  assert.ok(quick.error instanceof CniError && quick.error.code === Code.TryAgainLater, String(quick.error));
  assert.match((quick.error as Error).message, /unreachable.*ECONNREFUSED/);
});

test('the seen cache lives in its own file, and the journal no longer carries the ConfigMaps', () => {
  const dir = mkdtempSync(join(tmpdir(), 'macmux-seen-'));
  try {
    assert.equal(readSeen(dir), undefined, 'no file: no cache');
    const cm = { name: 'macmux-ledger-n', resourceVersion: '7', labels: { 'macmux.io/ledger': 'node' }, data: { '02000000000a': 'a|ns/p/net|n|1' } };
    // A full block's ConfigMap is kept as its record alone (no copy): the record stays; one of another resourceVersion than the cached copy does not.
    const full = { resourceVersion: '3', blocks: [5] };
    writeSeen(dir, { cms: { [cm.name]: cm }, full: { [cm.name]: { resourceVersion: '7', blocks: [0, 3] }, 'macmux-ledger-n.b5': full } });
    assert.deepEqual(readSeen(dir), { cms: { [cm.name]: cm }, full: { [cm.name]: { resourceVersion: '7', blocks: [0, 3] }, 'macmux-ledger-n.b5': full } });
    writeSeen(dir, { cms: { [cm.name]: cm }, full: { [cm.name]: { resourceVersion: '6', blocks: [0] }, 'macmux-ledger-n.b5': full } });
    assert.deepEqual(readSeen(dir), { cms: { [cm.name]: cm }, full: { 'macmux-ledger-n.b5': full } }, 'not a record of another resourceVersion than the copy');
    writeJournal(dir, { format: 1, entries: {}, intents: [], seen: { [cm.name]: cm } });
    assert.deepEqual(JSON.parse(readFileSync(join(journalDir(dir), 'journal.json'), 'utf8')).seen, {}, 'the journal is written without them');
    // A journal of an earlier version still gives its cached ConfigMaps once.
    writeFileSync(join(journalDir(dir), 'journal.json'), JSON.stringify({ format: 1, entries: {}, intents: [], seen: { [cm.name]: cm } }));
    assert.deepEqual(readJournal(dir, () => assert.fail('not damaged')).seen, { [cm.name]: cm });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a damaged or foreign seen cache is an empty one; entries without a resourceVersion, full blocks not of the cached resourceVersion and malformed ones are dropped', () => {
  const dir = mkdtempSync(join(tmpdir(), 'macmux-seen-'));
  try {
    mkdirSync(journalDir(dir), { recursive: true });
    const file = join(journalDir(dir), 'seen.json');
    for (const text of ['', '{"format":1,"cms":{"a":', 'null', '{"format":2,"cms":{}}', '[]']) {
      writeFileSync(file, text);
      assert.deepEqual(readSeen(dir), { cms: {}, full: {} }, JSON.stringify(text));
    }
    writeFileSync(
      file,
      JSON.stringify({
        format: 1,
        cms: { a: { name: 'a', data: {} }, b: { name: 'x', resourceVersion: '1', data: {} }, c: { name: 'c', resourceVersion: '2', data: {} } },
        full: { c: { resourceVersion: '1', blocks: [0] } },
      }),
    );
    assert.deepEqual(Object.keys(readSeen(dir)!.cms), ['c']);
    assert.deepEqual(readSeen(dir)!.full, {}, 'full blocks of another resourceVersion are dropped');
    writeFileSync(file, JSON.stringify({ format: 1, cms: { c: { name: 'c', resourceVersion: '2', data: {} } }, full: { c: { resourceVersion: '2', blocks: [0, -1] } } }));
    assert.deepEqual(readSeen(dir)!.full, {}, 'malformed blocks are dropped');
    // Records without a copy: kept only when well-formed.
    const bad = { d: { resourceVersion: 4, blocks: [0] }, e: { blocks: [0] }, f: { resourceVersion: '4', blocks: [0.5] }, g: { resourceVersion: '4', blocks: 'x' }, h: null };
    writeFileSync(file, JSON.stringify({ format: 1, cms: {}, full: { ...bad, ok: { resourceVersion: '4', blocks: [2] } } }));
    assert.deepEqual(readSeen(dir)!.full, { ok: { resourceVersion: '4', blocks: [2] } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
