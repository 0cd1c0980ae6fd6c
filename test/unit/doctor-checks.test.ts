// Unit tests of doctor's pure judging: ledger leftovers, leases, journal states, skips and the text checklist.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate } from '../../src/cli/doctor/evaluate';
import { renderReport } from '../../src/cli/doctor/render';
import type { Facts } from '../../src/cli/doctor/types';
import { loadConf } from '../../src/config/load';
import { encodeHolding, type MacState } from '../../src/mac/holding';
import type { Cm } from '../../src/mac/store';

const NOW = 1_700_000_000;
const h = (owner: string, node: string, state: MacState = 'active', since = NOW) => encodeHolding({ owner, node, state, since });
const pool = (data: Record<string, string> = {}, leases = '{"0":"n1"}'): Cm => ({ name: 'macmux-pool', data: { RANGE_START: '02:00:00:00:00:00', RANGE_END: '02:00:00:00:00:ff', BLOCK_SIZE: '16', LEASES: leases, ...data } });
const conf = loadConf({ cniVersion: '1.0.0', name: 'macmux', type: 'macmux', cacheDir: '/state', macPool: { rangeStart: '02:00:00:00:00:00', rangeEnd: '02:00:00:00:00:ff' }, delegates: [] });

function facts(cms: Cm[], extra: Partial<Facts> = {}): Facts {
  return {
    configFile: '/c.conflist',
    conf,
    networks: [],
    dirs: ['/opt/cni/bin'],
    probes: {},
    namespace: 'kube-system',
    node: 'n1',
    graceSec: 600,
    now: NOW,
    api: { state: 'ok', server: 'https://api' },
    rbac: [],
    nads: { items: [] },
    cms: { items: cms },
    journal: { file: '/state/ledger/journal.json', missing: true },
    env: {},
    ...extra,
  };
}
const check = (f: Facts, name: string) => evaluate(f).checks.find((c) => c.name === name)!;

describe('doctor: ledger integrity', () => {
  it('accepts a leftover claim in the pool of the same owner (or with nothing at home yet)', () => {
    const cms = [pool({ '020000000001': h('a/p/x', 'n2'), '020000000002': h('a/q/x', 'n2') }), { name: 'macmux-ledger-n1', data: { '020000000001': h('a/p/x', 'n2') } }];
    const c = check(facts(cms), 'integrity');
    assert.equal(c.status, 'ok', c.detail);
    assert.match(c.detail, /2 leftovers in macmux-pool awaiting migration/);
  });

  it('fails a leftover whose home holds the MAC for another owner, and a lease outside the range', () => {
    const cms = [pool({ '020000000001': h('a/p/x', 'n2') }, '{"0":"n1","99":"n3"}'), { name: 'macmux-ledger-n1', data: { '020000000001': h('b/r/y', 'n1') } }];
    const c = check(facts(cms), 'integrity');
    assert.equal(c.status, 'fail');
    assert.deepEqual(c.data!.problems, [
      'macmux-pool LEASES "99": "n3" is not a lease of a block of 02:00:00:00:00:00-02:00:00:00:00:ff',
      '02:00:00:00:00:01: leftover of a/p/x in macmux-pool, but its home macmux-ledger-n1 holds it for b/r/y',
    ]);
    assert.equal(check(facts(cms), 'duplicates').status, 'fail');
  });

  it('fails a live holding in an unleased block kept in a node ledger, ignores expired ones only outside node ledgers', () => {
    const cms = [pool(), { name: 'macmux-ledger-n1', data: { '020000000001': h('a/p/x', 'n1') } }, { name: 'macmux-claims-00', data: { '020000000020': h('a/p/x', 'n1', 'released', NOW - 9999) } }];
    const c = check(facts(cms), 'integrity');
    assert.equal(c.status, 'ok', c.detail);
    const stray = [pool(), { name: 'macmux-claims-00', data: { '020000000020': h('a/p/x', 'n1') } }];
    assert.match(check(facts(stray), 'integrity').detail, /02:00:00:00:00:20 held by a\/p\/x in macmux-claims-00, but its home is macmux-pool/);
  });

  it('warns when the pool does not exist yet but the config has a macPool; fails when node ledgers exist without it', () => {
    assert.equal(check(facts([]), 'integrity').status, 'warn');
    assert.equal(check(facts([{ name: 'macmux-ledger-n1', data: {} }]), 'integrity').status, 'fail');
    assert.equal(check(facts([], { conf: { ...conf, macPool: undefined } }), 'integrity').status, 'ok');
  });
});

describe('doctor: ledger integrity on the block layout (issue 15) beside legacy node ledgers', () => {
  // Blocks of 16: block 0 legacy (n1), blocks 1 and 2 new-style (n1, n2); owner index shards are not holdings.
  const leases = '{"0":"n1","1":"n1.b1","2":"n2.b2"}';
  const world = (): Cm[] => [
    pool({}, leases),
    { name: 'macmux-ledger-n1', labels: { 'macmux.io/ledger': 'node' }, data: { '020000000001': h('a/p/x', 'n1') } },
    { name: 'macmux-ledger-n1.b1', labels: { 'macmux.io/ledger': 'block' }, data: { '020000000011': h('a/q/x', 'n1') } },
    { name: 'macmux-ledger-n2.b2', labels: { 'macmux.io/ledger': 'block' }, data: { '020000000021': h('a/r/x', 'n2') } },
    { name: 'macmux-owners-7a', labels: { 'macmux.io/ledger-index': 'owners' }, data: { '0123456789abcdef0123456789abcdef': '02:00:00:00:00:11|1700000000|a/q/x' } },
  ];

  it('block ConfigMaps are homes, leases are counted per node, owner index shards are no holdings', () => {
    const c = check(facts(world()), 'integrity');
    assert.equal(c.status, 'ok', c.detail);
    assert.deepEqual(c.data!.leases, { n1: 2, n2: 1 });
    assert.match(c.detail, /3 leased to 2 nodes, 3 allocated; 5 ConfigMaps \(1 pool, 2 block, 1 node, 1 owners\), 3 live holdings at their homes/);
    assert.deepEqual(c.data!.objects, { pool: 1, block: 2, node: 1, claims: 0, owners: 1 });
    assert.equal(check(facts(world()), 'duplicates').status, 'ok');
  });

  it("fails a MAC kept in another block's ConfigMap of the same node, and one in the legacy ledger of a block leased new-style", () => {
    const cms = world();
    cms[2]!.data['020000000002'] = h('a/s/x', 'n1'); // block 0 (legacy, macmux-ledger-n1) recorded in n1.b1
    cms[1]!.data['020000000012'] = h('a/t/x', 'n1'); // block 1 (new-style, n1.b1) recorded in the legacy ledger
    const c = check(facts(cms), 'integrity');
    assert.equal(c.status, 'fail', c.detail);
    assert.deepEqual(c.data!.problems, [
      'macmux-ledger-n1.b1 records 02:00:00:00:00:02 (a/s/x, active) outside the block 1 leased to n1',
      'macmux-ledger-n1 records 02:00:00:00:00:12 (a/t/x, active) outside the blocks leased to n1',
    ]);
  });

  it('warns about a ledger object over the 256 KiB bound', () => {
    const cms = world();
    const bigOwners = { ...cms[4]!, data: { ...cms[4]!.data, ['f'.repeat(32)]: `02:00:00:00:00:11|1|${'y'.repeat(256 * 1024)}` } };
    const w = check(facts([...cms.slice(0, 4), bigOwners]), 'integrity');
    assert.equal(w.status, 'warn', w.detail);
    assert.match(w.detail, /over the 256 KiB bound: the largest owners ConfigMap has \d+ bytes/);
  });
});

describe('doctor: agreement', () => {
  const cms = [pool(), { name: 'macmux-ledger-n1', data: { '020000000001': h('a/p/x', 'n1') } }];
  const journal = (entries: Record<string, object>): Facts['journal'] => ({ file: '/j', journal: { format: 1, entries: entries as never, intents: [], seen: {} } });

  it('warns about a reservation the cluster does not hold (an ADD under way or dead), fails an active one', () => {
    const reserved = check(facts(cms, { journal: journal({ '02:00:00:00:00:02': { owner: 'a/q/x', state: 'reserved', containerID: 'c', pid: 1, since: NOW } }) }), 'agreement');
    assert.equal(reserved.status, 'warn');
    assert.equal(reserved.detail, '02:00:00:00:00:02: the journal has it reserved for a/q/x, macmux-ledger-n1 has no entry');
    const active = check(facts(cms, { journal: journal({ '02:00:00:00:00:01': { owner: 'a/q/x', state: 'active', containerID: 'c', pid: 1, since: NOW } }) }), 'agreement');
    assert.equal(active.status, 'fail');
    const ok = check(facts(cms, { journal: journal({ '02:00:00:00:00:01': { owner: 'a/p/x', state: 'active', containerID: 'c', pid: 1, since: NOW } }) }), 'agreement');
    assert.equal(ok.status, 'ok', ok.detail);
  });
});

describe('doctor: report', () => {
  it('skips what needs a failed API, and is ok with warnings only', () => {
    const r = evaluate(facts([], { api: { state: 'failed', error: 'Kubernetes API at https://api unreachable' } }));
    assert.equal(r.ok, false);
    assert.deepEqual(r.checks.filter((c) => c.status === 'skip').map((c) => c.name), ['rbac', 'nads', 'integrity', 'agreement', 'duplicates']);
    const warned = evaluate(facts([pool()], { env: { nodeExtraCaCerts: '/ca' } }));
    assert.equal(warned.ok, true);
  });

  it('renders one line per check, hints under failures and warnings, and a summary', () => {
    const text = renderReport(evaluate(facts([pool()], { env: { nodeExtraCaCerts: '/ca' } })));
    const lines = text.split('\n');
    assert.match(lines[0]!, /^ok {4}config {7}\/c\.conflist: valid/);
    assert.match(text, /\nWARN {2}environment {2}NODE_EXTRA_CA_CERTS=\/ca is set.*\n {19}hint: unset it/);
    assert.ok(text.endsWith('\n8 ok, 1 warning, 0 failed, 0 skipped\n'));
  });
});
