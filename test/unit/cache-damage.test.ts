// Unit tests for the damage handling of src/plugin/cache.ts and src/mac/journal.ts: what counts as damaged, setting aside, pending and recovered asides, the journal rebuilt from the cache.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachePath, damagedContainers, listCache, markRecovered, pendingAside, readCache, setAside, writeCache, type CacheEntry } from '../../src/state/cache';
import { heldBy, readJournal } from '../../src/mac/journal';
import { thrown } from './helpers';

const made: string[] = [];
const tmp = () => {
  const dir = mkdtempSync(join(tmpdir(), 'macmux-cache-damage-'));
  made.push(dir);
  return dir;
};
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

const network = (name: string) => ({ name, cniVersion: '1.0.0', plugins: [{ type: 'macvlan' }] });
const entry = (id: string, state: CacheEntry['state'] = 'added'): CacheEntry => ({
  format: 1,
  containerID: id,
  netns: '/run/netns/x',
  ifName: 'eth0',
  args: '',
  cniVersion: '1.0.0',
  dirs: [],
  state,
  attachments: [
    { name: 'cluster', ifName: 'eth0', cluster: true, network: network('cluster'), result: { cniVersion: '1.0.0' } as never },
    { name: 'ns/blue', ifName: 'net48d6215903df', cluster: false, network: network('blue'), mac: '02:aa:00:00:00:01', macOwner: 'ns/p/blue', ...(state === 'added' ? { result: { cniVersion: '1.0.0' } as never } : {}) },
  ],
});

test('damaged: empty, truncated, zeroed, wrong shape, attachments without network; a sound entry reads back', () => {
  const dir = tmp();
  writeCache(dir, entry('c1'));
  assert.equal(readCache(dir, 'c1').kind, 'ok');
  const text = readFileSync(cachePath(dir, 'c1'), 'utf8');
  const cases: Array<[string, RegExp]> = [
    ['', /the file is empty/],
    [text.slice(0, 40), /not JSON/],
    ['\0'.repeat(20), /not JSON/],
    ['null', /unknown format/],
    ['{"format":2}', /unknown format 2/],
    ['{"format":1,"containerID":"c1","ifName":"eth0"}', /fields missing/],
    [JSON.stringify({ ...entry('c1'), attachments: [{ name: 'x' }] }), /lacks its ifName or network/],
  ];
  for (const [content, why] of cases) {
    writeFileSync(cachePath(dir, 'c1'), content);
    const r = readCache(dir, 'c1');
    assert.equal(r.kind, 'corrupt', JSON.stringify(content));
    assert.match((r as { why: string }).why, why);
  }
});

test('setAside moves it to <id>.corrupt-<time> and warns; it stays "corrupt" (never "missing") until markRecovered; listCache skips asides', () => {
  const dir = tmp();
  writeCache(dir, entry('c1'));
  writeCache(dir, entry('c2'));
  writeFileSync(cachePath(dir, 'c1'), '{"format":1');
  const warnings: string[] = [];
  const r = readCache(dir, 'c1');
  assert.equal(r.kind, 'corrupt');
  const aside = setAside(dir, 'c1', r as Extract<typeof r, { kind: 'corrupt' }>, (m) => warnings.push(m));
  assert.match(aside, /\/cache\/c1\.corrupt-\d{4}-\d\d-\d\dT\d{9}Z$/);
  assert.equal(readFileSync(aside, 'utf8'), '{"format":1', 'the damaged content is kept');
  assert.ok(!existsSync(cachePath(dir, 'c1')));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /cache entry \S+\/c1 is damaged \(not JSON .*\); moved aside to \S+c1\.corrupt-/);

  const again = readCache(dir, 'c1');
  assert.deepEqual(again, { kind: 'corrupt', why: `damaged earlier, moved aside to ${aside}, not yet recovered`, aside });
  assert.equal(setAside(dir, 'c1', again as Extract<typeof again, { kind: 'corrupt' }>, (m) => warnings.push(m)), aside, 'already aside: nothing moves');
  assert.equal(warnings.length, 1);
  assert.equal(pendingAside(dir, 'c1'), aside);
  assert.equal(pendingAside(dir, 'c'), undefined, 'another container ID is not matched by prefix');
  assert.deepEqual(damagedContainers(dir), ['c1']);
  assert.deepEqual(listCache(dir).sort(), ['c2']);

  markRecovered(dir, 'c1');
  assert.deepEqual(readCache(dir, 'c1'), { kind: 'missing' });
  assert.deepEqual(damagedContainers(dir), []);
  assert.deepEqual(readdirSync(join(dir, 'cache')).filter((n) => n.startsWith('c1.')), [`${aside.split('/').pop()}.recovered`]);
  assert.deepEqual(listCache(dir).sort(), ['c2']);
});

test('an entry that cannot be moved aside is code 5 naming it', () => {
  const dir = tmp();
  const r = { kind: 'corrupt' as const, why: 'test' };
  const e = thrown(() => setAside(dir, 'nothere', r, () => undefined));
  assert.equal(e.code, 5);
  assert.match(e.message, /cache entry \S+nothere is damaged \(test\) and cannot be moved aside/);
});

test('a damaged journal is moved aside and rebuilt from the cache entries: active once added, reserved while adding', async () => {
  const dir = tmp();
  writeCache(dir, entry('c1'));
  const adding = entry('c2', 'adding');
  adding.attachments[1]!.mac = '02:aa:00:00:00:02';
  adding.attachments[1]!.macOwner = 'ns/q/blue';
  writeCache(dir, adding);
  mkdirSync(join(dir, 'ledger'), { recursive: true });
  const file = join(dir, 'ledger', 'journal.json');
  writeFileSync(file, '{"format":1,"entries":{"02:aa');
  const warnings: string[] = [];
  const j = readJournal(dir, (m) => warnings.push(m));
  assert.deepEqual(
    Object.entries(j.entries).map(([mac, e]) => [mac, e.owner, e.state, e.containerID]).sort(),
    [
      ['02:aa:00:00:00:01', 'ns/p/blue', 'active', 'c1'],
      ['02:aa:00:00:00:02', 'ns/q/blue', 'reserved', 'c2'],
    ],
  );
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /journal\.json was damaged \(.*\); moved aside to \S+journal\.json\.corrupt-\S+ and rebuilt from the cache: 2 MAC\(s\).*macmux ledger gc/);
  assert.equal(readdirSync(join(dir, 'ledger')).filter((f) => f.startsWith('journal.json.corrupt-')).length, 1);

  // heldBy reads it (rebuilding again from a fresh damage) and keeps the rebuilt journal.
  writeFileSync(file, '');
  assert.deepEqual(await heldBy(dir, 'c1', 2000, () => undefined), [{ mac: '02:aa:00:00:00:01', owner: 'ns/p/blue' }]);
  assert.ok(existsSync(file), 'the rebuilt journal is written');
  assert.deepEqual(await heldBy(dir, 'c3', 2000, () => undefined), []);
});
