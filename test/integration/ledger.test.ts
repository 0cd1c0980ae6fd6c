// Integration: the MAC ledger end to end. Real macmux processes (dist/macmux) against the API test
// server, one cacheDir and nodeName per simulated node, one network namespace per pod, macvlan
// secondaries on host bridges; MACs are read from inside the netns and compared with the node's
// journal and the ledger ConfigMaps. The load test makes 1,000 ADDs (about 5 minutes on 2 cores);
// MACMUX_LEDGER_LOAD=<ADDs per phase> shortens it while developing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PLUGIN_DIR, cniAsync, type RunResult } from './harness';
import { decodeHolding, encodeHolding } from '../../src/mac/holding';
import { indexKey } from '../../src/mac/owners';
import {
  LABEL, MACNS, POOL, assertNothingLeft, blockCm, blockOf, claimsCm, codeOf, inRange, keyMac, ledgerCli, live, macInt, macKey, ownerOf, rawOf, sandbox, sleep, spawnCni, why, workers, World,
  refusedKubeconfig, type PodRun, type SimNode,
} from './world';

// ---------------------------------------------------------------- tests

describe('the MAC ledger', () => {
  it('interfaces match the ledger: pool MACs in the netns equal the journal and the node ConfigMap; DEL releases them', async (t) => {
    const w = await World.create(t);
    const lan = w.bridge('l');
    await w.makeBridges();
    w.namespace('t1');
    w.nad('t1', 'blue', lan);
    w.nad('t1', 'green', lan);
    const a = w.node('node-a');
    const p = await w.pod(a, 't1', 'p1', [{ name: 'blue' }, { name: 'green' }]);

    const r = await w.add(p);
    assert.equal(r.status, 0, why(r));
    const blue = await w.macOf(p, 'blue');
    const green = await w.macOf(p, 'green');
    assert.ok(blue && green, 'both secondaries are in the netns');
    assert.notEqual(blue, green);
    for (const m of [blue, green]) assert.ok(inRange(m), `${m} is a pool MAC`);
    const want = new Map([[blue, ownerOf(p, 'blue')], [green, ownerOf(p, 'green')]]);

    // The node's journal: exactly these MACs, active, for these owners and this sandbox.
    const j = a.journal();
    assert.deepEqual(Object.keys(j.entries).sort(), [...want.keys()].sort());
    for (const [mac, owner] of want) {
      assert.equal(j.entries[mac]!.owner, owner);
      assert.equal(j.entries[mac]!.state, 'active');
      assert.equal(j.entries[mac]!.containerID, p.cid);
    }
    // The cluster: LEASES gives block 0 to node-a (new-style, the lease value names the block's own
    // ConfigMap), that ConfigMap, labelled a block, holds exactly these, and the pool none.
    assert.deepEqual(w.leases(), { '0': 'node-a.b0' });
    const held = w.holdings();
    assert.deepEqual(held.map((x) => x.cm), [blockCm('node-a', 0), blockCm('node-a', 0)]);
    assert.deepEqual(w.ledgerCms().map((c) => [c.name, c.labels['macmux.io/ledger']]).sort(), [[blockCm('node-a', 0), 'block'], [POOL, 'pool']]);
    for (const [mac, owner] of want) {
      const h = held.find((x) => x.mac === mac)?.h;
      assert.deepEqual(h && [h.state, h.owner, h.node], ['active', owner, 'node-a'], `${mac} in ${blockCm('node-a', 0)}`);
    }
    // network-status reports the same MACs.
    const status = JSON.parse(w.api.get('Pod', 't1', 'p1')!.metadata!.annotations!['k8s.v1.cni.cncf.io/network-status']!) as Array<{ name: string; mac?: string }>;
    assert.equal(status.find((s) => s.name === 't1/blue')?.mac, blue);
    assert.equal(status.find((s) => s.name === 't1/green')?.mac, green);

    const d = await w.del(p);
    assert.equal(d.status, 0, why(d));
    assert.deepEqual([...(await w.macs(p.netns)).keys()], ['lo']);
    for (const [mac, owner] of want) {
      const h = w.atHome(mac);
      assert.deepEqual(h && [h.state, h.owner], ['released', owner], `${mac} released in the ConfigMap`);
      assert.equal(a.journal().entries[mac]?.state, 'released');
      // The owner index points the owner's next pod at it: one shard, written by this DEL.
      assert.equal(w.ownerEntry(owner)?.mac, mac, `${owner} indexed`);
    }
    assert.deepEqual(a.cacheEntries(), []);
  });

  it('requested MACs are honoured at their home, and a second owner is refused (code 100, naming the first) inside and outside the range', async (t) => {
    const w = await World.create(t);
    const lan = w.bridge('l');
    await w.makeBridges();
    w.namespace('t2');
    w.nad('t2', 'blue', lan);
    w.nad('t2', 'green', lan);
    const a = w.node('node-a');
    const b = w.node('node-b');
    const add = async (node: SimNode, name: string, nets: Array<{ name: string; mac?: string }>) => {
      const p = await w.pod(node, 't2', name, nets);
      return { p, r: await w.add(p) };
    };
    const refused = async (node: SimNode, name: string, nets: Array<{ name: string; mac?: string }>, mac: string, holder: string, allowReleased = false) => {
      const { p, r } = await add(node, name, nets);
      assert.notEqual(r.status, 0, `${name} must be refused`);
      assert.equal(codeOf(r), 100, why(r));
      assert.ok(String(r.json.msg).includes(mac), `the message names ${mac}: ${String(r.json.msg)}`);
      assert.ok(String(r.json.msg).includes(holder), `the message names ${holder}: ${String(r.json.msg)}`);
      await assertNothingLeft(w, p, name, allowReleased);
      return p;
    };

    // node-a leases block 0 by handing out a pool MAC.
    const { p: a0, r: ra0 } = await add(a, 'a0', [{ name: 'blue' }]);
    assert.equal(ra0.status, 0, why(ra0));
    assert.deepEqual(w.leases(), { '0': 'node-a.b0' });

    const cases = [
      // The pool never holds a MAC: the claiming node leases the block first (block 120 of 02:aa:00:00:0f:07).
      { what: 'in the range, in a block nobody leases', mac: '02:aa:00:00:0f:07', before: POOL, home: blockCm('node-b', 120), first: b, second: a },
      { what: "in the range, in node-a's block, claimed from node-b", mac: '02:aa:00:00:00:03', home: blockCm('node-a', 0), first: b, second: a },
      { what: 'outside the range', mac: '02:bb:00:00:00:01', home: claimsCm('02:bb:00:00:00:01'), first: a, second: b },
      { what: 'outside the range, globally administered', mac: '00:16:3e:12:34:56', home: claimsCm('00:16:3e:12:34:56'), first: b, second: a },
    ];
    let i = 0;
    const holders: PodRun[] = [];
    for (const c of cases) {
      i++;
      const { first, second } = c;
      assert.equal(w.home(c.mac), c.before ?? c.home, c.what);
      const { p, r } = await add(first, `want${i}`, [{ name: 'blue', mac: c.mac }]);
      assert.equal(r.status, 0, `${c.what}: ${why(r)}`);
      holders.push(p);
      assert.equal(w.home(c.mac), c.home, `${c.what}: its home now`);
      assert.deepEqual(w.holdings().filter((x) => x.cm === POOL), [], `${c.what}: nothing held in ${POOL}`);
      assert.equal(await w.macOf(p, 'blue'), c.mac, `${c.what}: the netns has the requested MAC`);
      const h = w.cmData(c.home)[macKey(c.mac)];
      assert.ok(h, `${c.what}: recorded in ${c.home}`);
      assert.deepEqual([decodeHolding(h)!.state, decodeHolding(h)!.owner, decodeHolding(h)!.node], ['active', ownerOf(p, 'blue'), first.name]);
      assert.equal(w.holdings().filter((x) => x.mac === c.mac).length, 1, `${c.what}: recorded once, at its home only`);
      // Another pod, on the other node (and on the same node), asking for it is refused.
      await refused(second, `dup${i}`, [{ name: 'blue', mac: c.mac }], c.mac, ownerOf(p, 'blue'));
      await refused(first, `dupsame${i}`, [{ name: 'green', mac: c.mac }], c.mac, ownerOf(p, 'blue'));
      // Uppercase and dashes are the same MAC.
      await refused(second, `dupcase${i}`, [{ name: 'blue', mac: c.mac.toUpperCase().replace(/:/g, '-') }], c.mac, ownerOf(p, 'blue'));
      assert.equal(await w.macOf(p, 'blue'), c.mac, `${c.what}: the holder keeps its interface`);
    }

    // node-a's pool allocation (lowest free first) skips the MAC node-b claimed in node-a's block.
    const taken = '02:aa:00:00:00:03';
    const pool: string[] = [(await w.macOf(a0, 'blue'))!];
    for (let k = 0; k < 2; k++) {
      const { p, r } = await add(a, `fill${k}`, [{ name: 'blue' }, { name: 'green' }]);
      assert.equal(r.status, 0, why(r));
      pool.push((await w.macOf(p, 'blue'))!, (await w.macOf(p, 'green'))!);
    }
    assert.deepEqual(pool, ['02:aa:00:00:00:00', '02:aa:00:00:00:01', '02:aa:00:00:00:02', '02:aa:00:00:00:04', '02:aa:00:00:00:05'], `${taken} skipped`);

    // The same owner asking again (a new sandbox of the same pod, after DEL) is not a conflict.
    const d1 = await w.del(holders[0]!);
    assert.equal(d1.status, 0, why(d1));
    assert.equal(w.atHome(cases[0]!.mac)?.state, 'released');
    await refused(a, 'dupheld', [{ name: 'blue', mac: cases[0]!.mac }], cases[0]!.mac, ownerOf(holders[0]!, 'blue'));
    const again = await w.pod(b, 't2', 'want1', [{ name: 'blue', mac: cases[0]!.mac }]);
    const r1 = await w.add(again);
    assert.equal(r1.status, 0, `the same owner again: ${why(r1)}`);
    assert.equal(await w.macOf(again, 'blue'), cases[0]!.mac);
    assert.deepEqual(w.leases(), { '0': 'node-a.b0', '120': 'node-b.b120' }, 'claims leased only the unleased block they needed');

    // A pod whose second attachment is refused keeps nothing of its first (a pool MAC was taken for it first).
    // Released (held for it during the grace period) is fine; still held is a leak.
    await refused(a, 'half', [{ name: 'green' }, { name: 'blue', mac: cases[2]!.mac }], cases[2]!.mac, ownerOf(holders[2]!, 'blue'), true);
  });

  it('two nodes under load: no duplicate MAC in any netns or ConfigMap, also with 409s and 500s injected on ConfigMap writes', async (t) => {
    const w = await World.create(t);
    const lanA = w.bridge('A');
    const lanB = w.bridge('B');
    await w.makeBridges();
    w.namespace('load');
    // One host bridge per node, as each node has its own: a duplicate would then really be in two netns.
    w.nad('load', 'lan-a', lanA);
    w.nad('load', 'lan-b', lanB);
    const nodes = [w.node('node-a'), w.node('node-b')];
    const nadOf = (n: SimNode) => (n === nodes[0] ? 'lan-a' : 'lan-b');
    const WORKERS_PER_NODE = 4;
    /** ADDs per phase; MACMUX_LEDGER_LOAD lowers it for a quick run while developing. */
    const PER_PHASE = Number(process.env.MACMUX_LEDGER_LOAD ?? 500);

    interface Rec {
      p: PodRun;
      nad: string;
      requested?: string;
      r?: RunResult;
      got?: string;
    }
    const all: Rec[] = [];
    const ok = (x: Rec) => x.r?.status === 0;

    async function phase(tag: string, shared: string[]): Promise<Rec[]> {
      const recs: Rec[] = [];
      let next = 0;
      await workers(2 * WORKERS_PER_NODE, async (k, stopped) => {
        const node = nodes[k % 2]!;
        while (!stopped()) {
          const i = next++;
          if (i >= PER_PHASE) return;
          // ~10% ask for a MAC of a small shared set: each is asked for several times, from both nodes.
          const requested = i % 10 === 5 ? shared[Math.floor(i / 10) % shared.length] : undefined;
          const nad = nadOf(node);
          const p = await w.pod(node, 'load', `${tag}-${i}`, [{ name: nad, ...(requested ? { mac: requested } : {}) }]);
          const rec: Rec = { p, nad, ...(requested ? { requested } : {}) };
          recs.push(rec);
          all.push(rec);
          rec.r = await w.add(p);
        }
      });
      return recs;
    }

    /** Every invariant of the ledger over the pods added so far (`all`). */
    async function verify(what: string, shared: string[]): Promise<void> {
      const problems: string[] = [];
      const live = all.filter(ok);
      for (const x of live) x.got = await w.macOf(x.p, x.nad);
      // Zero duplicates across the netns.
      const inNetns = new Map<string, string[]>();
      for (const x of live) {
        if (!x.got) problems.push(`${x.p.name}: no ${x.nad} interface in ${x.p.netns}`);
        else inNetns.set(x.got, [...(inNetns.get(x.got) ?? []), x.p.name]);
      }
      for (const [mac, pods] of inNetns) if (pods.length > 1) problems.push(`DUPLICATE in netns: ${mac} in ${pods.join(', ')}`);
      // Zero duplicates across the ConfigMaps' live holdings; live holdings are exactly the live pods' MACs.
      const held = w.holdings().filter((h) => h.h.state !== 'released');
      const owners = new Map<string, Set<string>>();
      for (const h of held) owners.set(h.mac, new Set([...(owners.get(h.mac) ?? []), h.h.owner]));
      for (const [mac, o] of owners) if (o.size > 1) problems.push(`DUPLICATE in ConfigMaps: ${mac} held by ${[...o].join(', ')}`);
      const want = new Set(live.map((x) => `${x.got} ${ownerOf(x.p, x.nad)}`));
      const have = new Set(held.map((h) => `${h.mac} ${h.h.owner}`));
      for (const k of have) if (!want.has(k)) problems.push(`held but not in any live pod: ${k}`);
      for (const k of want) if (!have.has(k)) problems.push(`in a live pod but not held: ${k}`);
      // Each live pod's MAC is held by it, active, at its home; a requested one is what it got.
      for (const x of live) {
        if (!x.got) continue;
        const h = w.atHome(x.got);
        if (h?.owner !== ownerOf(x.p, x.nad) || h.state !== 'active') problems.push(`${x.p.name}: ${x.got} at its home ${w.home(x.got)} is ${JSON.stringify(h)}`);
        if (x.requested && x.got !== x.requested) problems.push(`${x.p.name}: asked for ${x.requested}, got ${x.got}`);
        if (!x.requested && !inRange(x.got)) problems.push(`${x.p.name}: ${x.got} is not a pool MAC`);
      }
      // Each requested MAC ended up with exactly one owner.
      for (const mac of shared.filter((m) => all.some((x) => x.requested === m))) {
        const n = live.filter((x) => x.got === mac).length;
        const asked = all.filter((x) => x.requested === mac).length;
        if (n !== 1) problems.push(`requested ${mac} (asked ${asked} times) is in ${n} netns`);
      }
      // Failed ADDs: code 100 only, naming the holder, and nothing left behind.
      for (const x of all.filter((y) => !ok(y))) {
        if (codeOf(x.r!) !== 100) {
          problems.push(`${x.p.name} failed with ${why(x.r!)}`);
          continue;
        }
        const holder = live.find((y) => y.got === x.requested);
        if (!holder || !String(x.r!.json.msg).includes(ownerOf(holder.p, holder.nad))) problems.push(`${x.p.name}: ${String(x.r!.json.msg)} does not name the holder ${holder?.p.name}`);
        try {
          await assertNothingLeft(w, x.p, x.p.name);
        } catch (e) {
          problems.push((e as Error).message.split('\n')[0]!);
        }
      }
      // Each node's journal: its live pods' MACs, active; nothing left reserved.
      for (const n of nodes) {
        const j = n.journal();
        const active = Object.entries(j.entries).filter(([, e]) => e.state === 'active').map(([mac, e]) => `${mac} ${e.owner}`).sort();
        const mine = live.filter((x) => x.p.node === n).map((x) => `${x.got} ${ownerOf(x.p, x.nad)}`).sort();
        if (JSON.stringify(active) !== JSON.stringify(mine)) problems.push(`${n.name} journal: ${active.length} active entries, ${mine.length} live pods`);
        for (const [mac, e] of Object.entries(j.entries)) if (e.state === 'reserved') problems.push(`${n.name} journal: ${mac} still reserved for ${e.owner}`);
      }
      t.diagnostic(`${what}: ${all.length} ADDs, ${live.length} live, ${all.length - live.length} refused; ${held.length} live holdings in ${new Set(held.map((h) => h.cm)).size} ConfigMaps; leases ${JSON.stringify(w.leases())}`);
      assert.deepEqual(problems, [], what);
    }

    const SHARED1 = ['02:aa:00:00:00:1f', '02:aa:00:00:00:5e', '02:aa:00:00:01:5f', '02:aa:00:00:0f:e0', '02:aa:00:00:0f:e1', '02:bb:00:00:00:01', '02:bb:00:00:00:02', '00:16:3e:00:00:01'];
    let started = Date.now();
    await phase('p1', SHARED1);
    t.diagnostic(`phase 1: ${PER_PHASE} ADDs in ${Date.now() - started} ms`);
    await verify('without faults', SHARED1);

    // The same again on fresh pods (the first ones stay), with the API refusing some ConfigMap writes.
    const SHARED2 = ['02:aa:00:00:00:3f', '02:aa:00:00:02:9f', '02:aa:00:00:0f:c0', '02:bb:00:00:01:01', '02:bb:00:00:01:02', '00:16:3e:00:01:01', SHARED1[0]!, SHARED1[5]!];
    const f409 = w.api.fault({ match: (r) => r.path.includes('/configmaps/') && Math.random() < 0.1, method: 'PUT', status: 409, message: 'injected conflict' });
    const f500 = w.api.fault({ match: (r) => r.path.includes('/configmaps/') && Math.random() < 0.1, method: 'PUT', status: 500, message: 'injected error' });
    started = Date.now();
    await phase('p2', SHARED2);
    t.diagnostic(`phase 2: ${PER_PHASE} ADDs in ${Date.now() - started} ms; injected ${f409.hits} 409s and ${f500.hits} 500s`);
    assert.ok(f409.hits > 0 && f500.hits > 0, 'faults were injected');
    await verify('with 409s and 500s', [...new Set([...SHARED1, ...SHARED2])]);

    // Tear down with the faults still on: the runtime's DEL for every 8th pod, then one CNI GC per node
    // listing no valid attachment DELs all the others (far cheaper than ~900 more processes). Every MAC
    // is then released, nothing is cached, only lo is left in the netns.
    started = Date.now();
    const live = all.filter(ok);
    const byDel = live.filter((_, i) => i % 8 === 0);
    let next = 0;
    const failures: string[] = [];
    await workers(2 * WORKERS_PER_NODE, async (_k, stopped) => {
      while (!stopped()) {
        const x = byDel[next++];
        if (!x) return;
        const d = await w.del(x.p);
        if (d.status !== 0) failures.push(`${x.p.name}: ${why(d)}`);
      }
    });
    const dels = Date.now() - started;
    started = Date.now();
    await Promise.all(
      nodes.map(async (n) => {
        const g = await w.run('GC', n.conf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] }), { CNI_PATH: PLUGIN_DIR });
        if (g.status !== 0) failures.push(`GC on ${n.name}: ${why(g)}`);
      }),
    );
    t.diagnostic(`DEL of ${byDel.length} pods in ${dels} ms, GC of ${live.length - byDel.length} in ${Date.now() - started} ms; injected ${f409.hits} 409s and ${f500.hits} 500s in all`);
    w.api.clearFaults();
    assert.deepEqual(failures, []);
    for (const n of nodes) assert.deepEqual(n.cacheEntries(), [], `${n.name}: no cache entry left`);
    assert.deepEqual(w.holdings().filter((h) => h.h.state !== 'released'), [], 'every MAC released in the cluster');
    for (const n of nodes) {
      assert.deepEqual(Object.entries(n.journal().entries).filter(([, e]) => e.state !== 'released' || e.pendingRelease), [], `${n.name}: journal all released`);
    }
    const leftover: string[] = [];
    for (const x of all) if ((await w.macs(x.p.netns)).size !== 1) leftover.push(x.p.name);
    assert.deepEqual(leftover, [], 'only lo left in every netns');
  });

  it('crashes: SIGKILL at a random moment of ADD, then DEL, GC and an ADD leave no leaked MAC and a readable journal; a killed lock holder is taken over', async (t) => {
    const w = await World.create(t);
    const lan = w.bridge('l');
    await w.makeBridges();
    w.namespace('t4');
    w.nad('t4', 'blue', lan);
    w.nad('t4', 'green', lan);
    // GC needs 1.1.0; the loopback delegate and the NADs say 1.0.0, which Debian's plugins speak.
    const base = { cniVersion: '1.1.0' };
    const nodes = [w.node('node-a', base), w.node('node-b', base)];
    const livePods: PodRun[] = [];
    const hex = (n: number) => n.toString(16).padStart(2, '0');

    /** No active or reserved holding for a pod without a live attachment; every live pod's MAC held by it at home; journals parse. */
    async function assertNoLeak(what: string): Promise<void> {
      const problems: string[] = [];
      for (const n of nodes) {
        try {
          n.journal();
        } catch (e) {
          problems.push(`${n.name}: journal.json does not parse: ${(e as Error).message}`);
        }
        const dir = join(n.cacheDir, 'ledger');
        const aside = existsSync(dir) ? readdirSync(dir).filter((f) => f.includes('corrupt')) : [];
        if (aside.length) problems.push(`${n.name}: journal was damaged: ${aside.join(', ')}`);
      }
      const liveOwners = new Set<string>();
      for (const p of livePods) {
        for (const net of p.nets) {
          const owner = ownerOf(p, net.name);
          liveOwners.add(owner);
          const mac = await w.macOf(p, net.name);
          const h = mac ? w.atHome(mac) : undefined;
          if (!mac || h?.owner !== owner || h.state !== 'active') problems.push(`live ${owner}: ${mac} at home is ${JSON.stringify(h)}`);
        }
      }
      for (const x of w.holdings()) if (live(x.h) && !liveOwners.has(x.h.owner)) problems.push(`LEAK: ${x.mac} is ${x.h.state} for ${x.h.owner} in ${x.cm}`);
      assert.deepEqual(problems, [], what);
    }

    let killed = 0;
    let trial = 0;
    const outcomes: string[] = [];
    for (; (killed < 20 || trial < 24) && trial < 60; trial++) {
      const node = nodes[trial % 2]!;
      // Pool MACs, requested ones outside the range (claims shards) and inside it (a block's ConfigMap, the block leased for it if nobody did).
      const nets = [
        [{ name: 'blue' }, { name: 'green' }],
        [{ name: 'blue' }, { name: 'green', mac: `02:bb:00:00:10:${hex(trial)}` }],
        [{ name: 'blue', mac: `02:aa:00:00:0e:${hex(trial)}` }],
        [{ name: 'green', mac: `02:aa:00:00:00:${hex(0x80 + trial)}` }, { name: 'blue' }],
      ][trial % 4]!;
      const p = await w.pod(node, 't4', `crash${trial}`, nets);
      // ConfigMap calls slowed down a little, so that kills land in the ledger's work too.
      const slow = w.api.fault({ match: /\/configmaps/, delay: 20 + Math.floor(Math.random() * 60) });
      const mark = w.api.requests.length;
      const { child, done } = spawnCni('ADD', node.conf(), p.env);
      let exited = false;
      void done.then(() => (exited = true));
      // The moment: 0-300 ms after the start, after its first ConfigMap call, 0-200 ms after its first
      // ConfigMap write, or 0-60 ms after its cache entry appeared (the delegates are running).
      const mode = trial % 4;
      const cmCall = (r: { path: string; method: string }) => r.path.includes('/configmaps') && (mode === 1 || r.method !== 'GET');
      if (mode === 1 || mode === 2) while (!exited && !w.api.requests.slice(mark).some(cmCall)) await sleep(2);
      if (mode === 3) while (!exited && !node.cacheEntries().includes(p.cid)) await sleep(1);
      await sleep(Math.floor(Math.random() * [300, 300, 200, 60][mode]!));
      child.kill('SIGKILL');
      const res = await done;
      slow.cancel();
      const cmCalls = w.api.requests.slice(mark).filter((r) => r.path.includes('/configmaps')).length;
      if (res.signal === 'SIGKILL') killed++;
      // What it left: c = a cache entry, i = an intent, r = a reserved journal entry.
      const j = node.journal();
      const left = `${node.cacheEntries().includes(p.cid) ? 'c' : ''}${j.intents.some((x) => x.containerID === p.cid) ? 'i' : ''}${Object.values(j.entries).some((e) => e.containerID === p.cid && e.state === 'reserved') ? 'r' : ''}`;
      outcomes.push(res.signal === 'SIGKILL' ? `k${cmCalls}${left}` : `exit${res.status}`);

      // The runtime's DEL for that sandbox, a GC listing the live sandboxes, an ordinary ADD (journal sync).
      const d = await w.del(p);
      assert.equal(d.status, 0, `trial ${trial} DEL: ${why(d)}`);
      const valid = livePods.filter((x) => x.node === node).map((x) => ({ containerID: x.cid, ifname: 'eth0' }));
      const g = await w.run('GC', node.conf({ 'cni.dev/valid-attachments': valid }), { CNI_PATH: PLUGIN_DIR });
      assert.equal(g.status, 0, `trial ${trial} GC: ${why(g)}`);
      const s = await w.pod(node, 't4', `live${trial}`, [{ name: 'blue' }]);
      const r = await w.add(s);
      assert.equal(r.status, 0, `trial ${trial} ADD after: ${why(r)}`);
      livePods.push(s);

      await assertNothingLeft(w, p, `trial ${trial} (${outcomes.at(-1)})`, true);
      await assertNoLeak(`trial ${trial} (${outcomes.at(-1)})`);
    }
    t.diagnostic(`${trial} trials, ${killed} killed during ADD (kN: after N ConfigMap calls; left c: cache entry, i: intent, r: reserved entry): ${outcomes.join(' ')}`);
    assert.ok(killed >= 20, `at least 20 ADDs killed (${killed})`);

    // A killed lock holder: SIGKILL while it holds the ledger lock (its ConfigMap write is held up by the
    // API); the next ADD takes the stale lock over instead of waiting for lockTimeout.
    const a = nodes[0]!;
    const hung = await w.pod(a, 't4', 'holder', [{ name: 'blue' }]);
    const hold = w.api.fault({ match: /\/configmaps\//, method: 'PUT', delay: 6000, times: 1 });
    const mark = w.api.requests.length;
    const { child, done } = spawnCni('ADD', a.conf(), hung.env);
    let exited = false;
    void done.then(() => (exited = true));
    while (!exited && !w.api.requests.slice(mark).some((r) => r.method === 'PUT' && r.path.includes('/configmaps/'))) await sleep(5);
    assert.ok(!exited, 'the ADD was still running when its ConfigMap write arrived');
    assert.ok(existsSync(join(a.cacheDir, 'ledger', 'lock')), 'it holds the ledger lock');
    child.kill('SIGKILL');
    assert.equal((await done).signal, 'SIGKILL');
    assert.ok(existsSync(join(a.cacheDir, 'ledger', 'lock')), 'the dead process left its lock behind');
    const next = await w.pod(a, 't4', 'next', [{ name: 'blue' }]);
    const started = Date.now();
    const r = await w.add(next, { lockTimeout: 8 });
    t.diagnostic(`the ADD after the killed lock holder took ${Date.now() - started} ms (stale time about 3 s)`);
    assert.equal(r.status, 0, why(r));
    livePods.push(next);
    hold.cancel();
    // Its sandbox DELed, GCed, and a later ADD: nothing of it is left (after the held-up write is over).
    await sleep(Math.max(0, 6500 - (Date.now() - started)));
    assert.equal((await w.del(hung)).status, 0);
    const last = await w.pod(a, 't4', 'last', [{ name: 'blue' }]);
    assert.equal((await w.add(last)).status, 0);
    livePods.push(last);
    await assertNothingLeft(w, hung, 'the killed lock holder', true);
    await assertNoLeak('after the killed lock holder');

    for (const p of livePods) assert.equal((await w.del(p)).status, 0);
    assert.deepEqual(w.holdings().filter((x) => live(x.h)), []);
  });

  it('stable MACs: a StatefulSet-like pod re-created on the other node gets its MAC back; nobody else can take it meanwhile', async (t) => {
    const w = await World.create(t);
    const lan = w.bridge('l');
    await w.makeBridges();
    w.namespace('t5');
    w.nad('t5', 'blue', lan);
    const a = w.node('node-a');
    const b = w.node('node-b');
    const web = await w.pod(a, 't5', 'web-0', [{ name: 'blue' }]);
    assert.equal((await w.add(web)).status, 0);
    const mac = (await w.macOf(web, 'blue'))!;
    assert.ok(inRange(mac));
    assert.equal((await w.del(web)).status, 0);
    assert.equal(w.atHome(mac)?.state, 'released');
    assert.equal(w.ownerEntry('t5/web-0/blue')?.mac, mac, 'the DEL pointed the owner index at it');
    w.api.remove('Pod', 't5', 'web-0');

    // Meanwhile (within the grace period) nobody else gets it: not from the pool on either node, not on request.
    const others: PodRun[] = [];
    for (const [i, n] of [a, a, b, b].entries()) {
      const o = await w.pod(n, 't5', `other-${i}`, [{ name: 'blue' }]);
      assert.equal((await w.add(o)).status, 0);
      assert.notEqual(await w.macOf(o, 'blue'), mac, `other-${i} on ${n.name}`);
      others.push(o);
    }
    for (const n of [a, b]) {
      const thief = await w.pod(n, 't5', `thief-${n.name}`, [{ name: 'blue', mac }]);
      const r = await w.add(thief);
      assert.equal(codeOf(r), 100, why(r));
      assert.ok(String(r.json.msg).includes('t5/web-0/blue'), String(r.json.msg));
      await assertNothingLeft(w, thief, 'thief');
    }

    // Re-created (new uid) and scheduled on node-b: the same MAC.
    const again = await w.pod(b, 't5', 'web-0', [{ name: 'blue' }]);
    assert.notEqual(again.uid, web.uid);
    const r = await w.add(again);
    assert.equal(r.status, 0, why(r));
    assert.equal(await w.macOf(again, 'blue'), mac, 'the re-created pod has its MAC back');
    const h = w.atHome(mac);
    assert.deepEqual(h && [h.state, h.owner, h.node], ['active', 't5/web-0/blue', 'node-b']);
    assert.equal(w.home(mac), blockCm('node-a', blockOf(mac)), "still homed in node-a's block");
    assert.equal(b.journal().entries[mac]?.state, 'active');

    for (const p of [again, ...others]) assert.equal((await w.del(p)).status, 0);
  });

  it("stable MACs: a pod re-created on the other node before the first node's DEL gets another MAC; the late DEL there releases only the old pod's", async (t) => {
    const w = await World.create(t);
    const lan = w.bridge('l');
    const lan2 = w.bridge('m');
    await w.makeBridges();
    w.namespace('t5b');
    w.nad('t5b', 'blue', lan);
    // Another lower device for the next pod on node-a, so that a duplicate would show in two netns.
    w.nad('t5b', 'red', lan2);
    const GRACE = 3;
    const a = w.node('node-a', { macGracePeriod: GRACE });
    const b = w.node('node-b', { macGracePeriod: GRACE });
    const old = await w.pod(a, 't5b', 'db-0', [{ name: 'blue' }]);
    assert.equal((await w.add(old)).status, 0);
    const mac = (await w.macOf(old, 'blue'))!;
    // node-a is lost with the pod (its netns goes with it); the pod is deleted and re-created on node-b.
    await w.delNetns(old.netns);
    w.api.remove('Pod', 't5b', 'db-0');
    const moved = await w.pod(b, 't5b', 'db-0', [{ name: 'blue' }]);
    const r = await w.add(moved);
    assert.equal(r.status, 0, why(r));
    // node-a never DELed: it may be partitioned and still run the old sandbox, so the MAC stays the old pod's.
    const movedMac = (await w.macOf(moved, 'blue'))!;
    assert.notEqual(movedMac, mac, 'the re-created pod gets another MAC while the old one is live on node-a');
    assert.deepEqual([w.atHome(mac)?.state, w.atHome(mac)?.uid, w.atHome(mac)?.node], ['active', old.uid, 'node-a']);

    // node-a comes back; its kubelet DELs the old sandbox: the old pod's MAC is released, the moved pod's stays.
    const d = await w.del(old);
    assert.equal(d.status, 0, why(d));
    assert.deepEqual([w.atHome(mac)?.state, w.atHome(mac)?.uid], ['released', old.uid]);
    const h = w.atHome(movedMac);
    assert.deepEqual(h && [h.state, h.owner, h.node, h.uid], ['active', 't5b/db-0/blue', 'node-b', moved.uid], 'the MAC stays held for the pod that uses it on node-b');

    // After the grace period a new pod on node-a must not get it.
    await sleep((GRACE + 1.5) * 1000);
    const fresh = await w.pod(a, 't5b', 'fresh', [{ name: 'red' }]);
    const rf = await w.add(fresh);
    assert.equal(rf.status, 0, why(rf));
    assert.notEqual(await w.macOf(fresh, 'red'), movedMac, 'no duplicate of the moved pod\'s MAC');
    for (const p of [moved, fresh]) assert.equal((await w.del(p)).status, 0);
  });

  it('opt-out and opt-in: an ignored namespace gets no pool MACs but its requested MACs are still checked and recorded', async (t) => {
    const w = await World.create(t);
    const lan = w.bridge('l');
    await w.makeBridges();
    w.namespace('quiet', { [LABEL]: 'ignore' });
    w.namespace('plain');
    w.namespace('loud', { [LABEL]: 'allocate' });
    for (const ns of ['quiet', 'plain', 'loud']) w.nad(ns, 'blue', lan);
    const a = w.node('node-a');
    const c = w.node('node-c', { macAssignment: 'opt-in' });
    const noPoolMac = async (p: PodRun) => {
      const r = await w.add(p);
      assert.equal(r.status, 0, why(r));
      const m = (await w.macOf(p, 'blue'))!;
      assert.ok(m && !inRange(m), `${p.namespace}/${p.name}: ${m} is not a pool MAC`);
      assert.deepEqual(w.holdings().filter((x) => x.h.owner.startsWith(`${p.namespace}/${p.name}/`)), [], 'no holding');
      assert.ok(!Object.values(p.node.journal().entries).some((e) => e.owner.startsWith(`${p.namespace}/${p.name}/`)), 'no journal entry');
      return m;
    };
    const poolMac = async (p: PodRun) => {
      const r = await w.add(p);
      assert.equal(r.status, 0, why(r));
      const m = (await w.macOf(p, 'blue'))!;
      assert.ok(inRange(m), `${p.namespace}/${p.name}: ${m} is a pool MAC`);
      const h = w.atHome(m);
      assert.deepEqual(h && [h.state, h.owner, h.node], ['active', ownerOf(p, 'blue'), p.node.name]);
      return m;
    };
    const pods: PodRun[] = [];
    const mk = async (n: SimNode, ns: string, name: string, mac?: string) => {
      const p = await w.pod(n, ns, name, [{ name: 'blue', ...(mac ? { mac } : {}) }]);
      pods.push(p);
      return p;
    };

    // Opt-out (the default): the ignored namespace gets random MACs, twice different ones.
    const q1 = await noPoolMac(await mk(a, 'quiet', 'q1'));
    const q2 = await noPoolMac(await mk(a, 'quiet', 'q2'));
    assert.notEqual(q1, q2);
    // ... while a requested MAC there is recorded and still refused to others, there and elsewhere.
    const want = '02:bb:00:00:00:99';
    const qr = await mk(a, 'quiet', 'qr', want);
    assert.equal((await w.add(qr)).status, 0);
    assert.equal(await w.macOf(qr, 'blue'), want);
    const h = w.atHome(want);
    assert.deepEqual(h && [h.state, h.owner], ['active', 'quiet/qr/blue']);
    for (const [n, ns, name] of [[a, 'plain', 'steal1'], [c, 'quiet', 'steal2']] as const) {
      const p = await mk(n, ns, name, want);
      const r = await w.add(p);
      assert.equal(codeOf(r), 100, why(r));
      assert.ok(String(r.json.msg).includes('quiet/qr/blue'));
      await assertNothingLeft(w, p, name);
    }
    // An unlabelled namespace is allocated in opt-out mode.
    await poolMac(await mk(a, 'plain', 'o1'));

    // Opt-in: an unlabelled namespace gets none, one labelled allocate does.
    await noPoolMac(await mk(c, 'plain', 'i1'));
    await noPoolMac(await mk(c, 'quiet', 'i2'));
    await poolMac(await mk(c, 'loud', 'i3'));

    for (const p of pods) assert.equal((await w.del(p)).status, 0);
    assert.deepEqual(w.holdings().filter((x) => live(x.h)), []);
  });

  it('token refused during DEL (401, as when the DaemonSet pod whose token was copied is gone): DEL succeeds, the release waits in the journal', async (t) => {
    const w = await World.create(t);
    const lan = w.bridge('l');
    await w.makeBridges();
    w.namespace('t8');
    w.nad('t8', 'blue', lan);
    const a = w.node('node-a', { timeBudget: { del: 2 } });
    const p = await w.pod(a, 't8', 'p', [{ name: 'blue' }]);
    assert.equal((await w.add(p)).status, 0);
    const mac = (await w.macOf(p, 'blue'))!;

    const good = w.api.token;
    w.api.setToken('a-token-the-plugin-does-not-have');
    const d = await w.del(p);
    assert.equal(d.status, 0, why(d));
    assert.ok(w.api.requests.some((r) => r.status === 401), 'the API refused the stale token');
    assert.deepEqual([...(await w.macs(p.netns)).keys()], ['lo']);
    const e = a.journal().entries[mac];
    assert.deepEqual(e && [e.owner, e.state, e.pendingRelease], ['t8/p/blue', 'released', true], 'the journal keeps a pending release');

    w.api.setToken(good);
    const q = await w.pod(a, 't8', 'q', [{ name: 'blue' }]);
    assert.equal((await w.add(q)).status, 0);
    const h = w.atHome(mac);
    assert.deepEqual(h && [h.state, h.owner], ['released', 't8/p/blue'], 'the release was pushed once the token worked again');
    assert.equal((await w.del(q)).status, 0);
  });

  it('API down during DEL: DEL succeeds, the release waits in the journal and is pushed by the next invocation', async (t) => {
    const w = await World.create(t);
    const lan = w.bridge('l');
    await w.makeBridges();
    w.namespace('t7');
    w.nad('t7', 'blue', lan);
    const a = w.node('node-a', { timeBudget: { del: 2 } });
    const p = await w.pod(a, 't7', 'p', [{ name: 'blue' }]);
    assert.equal((await w.add(p)).status, 0);
    const mac = (await w.macOf(p, 'blue'))!;

    const down = w.api.fault({ match: /./, status: 503, message: 'injected outage' });
    const d = await w.del(p);
    assert.equal(d.status, 0, why(d));
    assert.ok(down.hits > 0, 'DEL tried the API');
    assert.deepEqual([...(await w.macs(p.netns)).keys()], ['lo']);
    assert.deepEqual(a.cacheEntries(), []);
    const e = a.journal().entries[mac];
    assert.deepEqual(e && [e.owner, e.state, e.pendingRelease], ['t7/p/blue', 'released', true], 'the journal keeps a pending release');
    const h = w.atHome(mac);
    assert.deepEqual(h && [h.state, h.owner], ['active', 't7/p/blue'], 'the cluster still counts the MAC as held');

    down.cancel();
    const q = await w.pod(a, 't7', 'q', [{ name: 'blue' }]);
    const r = await w.add(q);
    assert.equal(r.status, 0, why(r));
    const h2 = w.atHome(mac);
    assert.deepEqual(h2 && [h2.state, h2.owner], ['released', 't7/p/blue'], 'the release was pushed');
    assert.equal(a.journal().entries[mac]?.pendingRelease, undefined);
    assert.notEqual(await w.macOf(q, 'blue'), mac);
    assert.equal((await w.del(q)).status, 0);
  });
  it("a re-created pod's ADD finds its MAC by one read of one owner-index object and no list, whatever the cluster holds; the node's block ConfigMap comes from its seen cache (upgraded from the journal's), and a change another node made there is read", async (t) => {
    const w = await World.create(t);
    const lan = w.bridge('l');
    await w.makeBridges();
    w.namespace('t10');
    w.nad('t10', 'blue', lan);
    const a = w.node('node-a');
    const b = w.node('node-b');
    const p1 = await w.pod(a, 't10', 'p1', [{ name: 'blue' }]);
    assert.equal((await w.add(p1)).status, 0);
    const first = (await w.macOf(p1, 'blue'))!;
    const mine = blockCm('node-a', blockOf(first));

    // The rest of a big cluster: 40 more nodes' blocks, each with holdings (a list would read them all).
    const pool = w.api.get('ConfigMap', MACNS, POOL)! as unknown as { data: Record<string, string> };
    const leases = JSON.parse(pool.data.LEASES!) as Record<string, string>;
    for (let k = 40; k < 80; k++) {
      const node = `far-${k}`;
      leases[String(k)] = `${node}.b${k}`;
      const data: Record<string, string> = {};
      for (let i = 0; i < 16; i++) {
        const mac = keyMac((macInt(first) + k * 32 + i).toString(16).padStart(12, '0'));
        data[macKey(mac)] = encodeHolding({ state: 'active', owner: `far/p${k}-${i}/blue`, node, since: 1, uid: `00000000-0000-4000-8000-${String(k * 100 + i).padStart(12, '0')}` });
      }
      w.api.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: blockCm(node, k), namespace: MACNS, labels: { 'macmux.io/ledger': 'block' } }, data });
    }
    w.api.put({ ...pool, data: { ...pool.data, LEASES: JSON.stringify(leases) } } as never);

    // As an earlier version left it: the cache inside the journal, no seen.json.
    const seenFile = join(a.cacheDir, 'ledger', 'seen.json');
    const journalFile = join(a.cacheDir, 'ledger', 'journal.json');
    const cached = (JSON.parse(readFileSync(seenFile, 'utf8')) as { cms: Record<string, { resourceVersion: string }> }).cms;
    assert.equal(cached[mine]?.resourceVersion, w.api.get('ConfigMap', MACNS, mine)!.metadata!.resourceVersion, 'the seen cache holds the current copy');
    assert.deepEqual((JSON.parse(readFileSync(journalFile, 'utf8')) as { seen: unknown }).seen, {}, 'the journal no longer carries ConfigMaps');
    writeFileSync(journalFile, JSON.stringify({ ...JSON.parse(readFileSync(journalFile, 'utf8')), seen: cached }));
    rmSync(seenFile);

    /** The ConfigMap requests of one ADD, and what they must be: one owner-index shard read, no list, no other node's ConfigMap. */
    const oneAdd = async (p: PodRun) => {
      w.api.clearRequests();
      const r = await w.add(p);
      assert.equal(r.status, 0, why(r));
      const cmReqs = w.api.requests.filter((x) => x.resource === 'configmaps');
      t.diagnostic(`${p.name}: ${cmReqs.map((x) => `${x.verb} ${x.name ?? ''}`).join(', ')}`);
      assert.deepEqual(cmReqs.filter((x) => x.verb === 'list'), [], 'no list');
      const shard = indexKey(ownerOf(p, 'blue')).name;
      assert.deepEqual(cmReqs.filter((x) => x.name?.startsWith('macmux-owners-') && x.verb === 'get').map((x) => x.name), [shard], 'one owner-index shard read: its own');
      assert.deepEqual(cmReqs.filter((x) => x.name !== undefined && ![POOL, mine, shard].includes(x.name)).map((x) => `${x.verb} ${x.name}`), [], "no other ConfigMap touched (another node's, another shard)");
      return cmReqs;
    };

    const p2 = await w.pod(a, 't10', 'p2', [{ name: 'blue' }]);
    const r2 = await oneAdd(p2);
    assert.deepEqual(r2.filter((x) => x.verb === 'get' && x.name === mine), [], 'its block ConfigMap was not read: the seen copy');
    assert.ok(existsSync(seenFile), 'the cache moved to seen.json');

    // node-b records a MAC of node-a's block for its pod q (a request), which then goes; q re-created on node-a gets it back.
    const wanted = keyMac((macInt(first) + 7).toString(16).padStart(12, '0'));
    assert.equal(blockOf(wanted), blockOf(first));
    const q = await w.pod(b, 't10', 'q', [{ name: 'blue', mac: wanted }]);
    assert.equal((await w.add(q)).status, 0);
    assert.equal((await w.del(q)).status, 0);
    const h = w.atHome(wanted);
    assert.deepEqual(h && [h.state, h.owner, h.node], ['released', 't10/q/blue', 'node-b'], "recorded in node-a's block by node-b");
    assert.equal(w.ownerEntry('t10/q/blue')?.mac, wanted, "node-b's DEL indexed it");
    const q2 = await w.pod(a, 't10', 'q', [{ name: 'blue' }]);
    const r = await oneAdd(q2);
    assert.equal(await w.macOf(q2, 'blue'), wanted, 'the sticky MAC, found by the index and taken on a fresh copy');
    assert.ok(r.some((x) => x.verb === 'get' && x.name === mine), 'its stale copy was read again');
    for (const x of [p1, p2, q2]) assert.equal((await w.del(x)).status, 0);
  });

  it("a pod whose name the API server generated (generateName) skips the owner index: its ADD reads no index object and its DEL writes none; a named pod's ADD reads its own, beside the NADs' reads, and its DEL writes it; a pod asking for no network reads nothing for the ledger", async (t) => {
    const w = await World.create(t);
    const lan = w.bridge('l');
    await w.makeBridges();
    w.namespace('t16');
    w.nad('t16', 'blue', lan);
    w.nad('t16', 'green', lan);
    const a = w.node('node-a');
    const warm = await w.pod(a, 't16', 'warm', [{ name: 'blue' }]);
    assert.equal((await w.add(warm)).status, 0); // the node leases its block
    /** A ConfigMap request's object: from the path, or a create's body. */
    const cmName = (x: { name?: string; body: unknown }) => x.name ?? (x.body as { metadata?: { name?: string } } | undefined)?.metadata?.name;
    const owners = (from: number) =>
      w.api.requests
        .slice(from)
        .filter((x) => x.resource === 'configmaps' && cmName(x)?.startsWith('macmux-owners-'))
        .map((x) => ({ verb: x.verb, name: cmName(x) }));
    const run = async (p: PodRun) => {
      w.api.clearRequests();
      const add = await w.add(p);
      assert.equal(add.status, 0, why(add));
      const atAdd = owners(0);
      const adds = w.api.requests.length;
      const cmWrites = w.api.requests.filter((x) => x.resource === 'configmaps' && (x.verb === 'update' || x.verb === 'create')).map(cmName);
      const del = await w.del(p);
      assert.equal(del.status, 0, why(del));
      return { atAdd, atDel: owners(adds), adds, cmWrites };
    };

    const gen = await w.pod(a, 't16', 'web-7d4b9c6f5d-x2k9q', [{ name: 'blue' }, { name: 'green' }], { generateName: 'web-7d4b9c6f5d-' });
    const g = await run(gen);
    t.diagnostic(`generated: ${g.adds} requests at ADD`);
    assert.deepEqual(g.atAdd.map((x) => `${x.verb} ${x.name}`), [], 'its ADD reads no owner-index object');
    assert.deepEqual(g.atDel.map((x) => `${x.verb} ${x.name}`), [], 'its DEL writes no owner-index object');
    assert.equal(w.ownerEntry(ownerOf(gen, 'blue')), undefined);
    assert.equal(g.cmWrites.length, 1, `its two pool MACs in one write of its block: ${g.cmWrites.join(', ')}`);

    const named = await w.pod(a, 't16', 'db', [{ name: 'blue' }, { name: 'green' }]);
    const n = await run(named);
    const shard = indexKey(ownerOf(named, 'blue')).name;
    assert.deepEqual(n.atAdd.map((x) => `${x.verb} ${x.name}`), [`get ${shard}`], 'its ADD reads its own owner-index object, once');
    assert.deepEqual(n.atDel.map((x) => `${x.verb} ${x.name}`), [`create ${shard}`], 'its DEL writes it');
    assert.equal(n.cmWrites.length, 1, `its two pool MACs in one write of its block: ${n.cmWrites.join(', ')}`);
    assert.ok(w.ownerEntry(ownerOf(named, 'blue')), 'the named pod is indexed');
    assert.equal(n.adds, g.adds + 1, 'the named pod costs one read more: its owner-index object');
    // A pod asking for no network (most pods: the cluster network only) makes no read for the ledger.
    const plain = await w.pod(a, 't16', 'plain', []);
    w.api.clearRequests();
    const pr = await w.add(plain);
    assert.equal(pr.status, 0, why(pr));
    assert.deepEqual(w.api.requests.map((x) => `${x.verb} ${x.resource}`), ['get pods', 'patch pods'], 'the pod, and its network-status');
    assert.equal((await w.del(plain)).status, 0);
    assert.equal((await w.del(warm)).status, 0);
  });

  it('the reads ADD starts beside the pod\'s fail it only where it needs them: a missing pod is code 3 whatever the namespace read did; a namespace read refused fails a pool MAC, not a pod with requested MACs only', async (t) => {
    const w = await World.create(t);
    const lan = w.bridge('l');
    await w.makeBridges();
    w.namespace('t17');
    w.nad('t17', 'blue', lan);
    const a = w.node('node-a');
    w.api.deny('get', 'namespaces');
    const gone = await w.pod(a, 't17', 'gone', [{ name: 'blue' }]);
    w.api.remove('Pod', 't17', 'gone');
    const r1 = await w.add(gone);
    assert.equal(codeOf(r1), 3, why(r1));
    const req = await w.pod(a, 't17', 'req', [{ name: 'blue', mac: '02:00:00:00:77:01' }]);
    const r2 = await w.add(req);
    assert.equal(r2.status, 0, why(r2));
    assert.doesNotMatch(r2.stderr, /Unhandled|unhandled/);
    assert.equal(await w.macOf(req, 'blue'), '02:00:00:00:77:01');
    const pool = await w.pod(a, 't17', 'pool', [{ name: 'blue' }]);
    const r3 = await w.add(pool);
    assert.notEqual(r3.status, 0, 'a pool MAC needs the namespace labels');
    assert.equal(codeOf(r3), 102, why(r3));
    assert.match(r3.stdout, /get namespaces t17/);
    await assertNothingLeft(w, pool, 'the refused ADD');
    w.api.allowAll();
    assert.equal((await w.del(req)).status, 0);
  });

  it('a take refused as a whole (the pool read refused, 403) keeps no intent for later syncs to look up', async (t) => {
    const w = await World.create(t);
    const lan = w.bridge('l');
    await w.makeBridges();
    w.namespace('t18');
    w.nad('t18', 'blue', lan);
    w.nad('t18', 'green', lan);
    const a = w.node('node-a');
    // Requested MACs only: no owner-index read before the take, whose first request (the pool) is refused.
    w.api.deny('get', 'configmaps', MACNS);
    const p = await w.pod(a, 't18', 'refused', [{ name: 'blue', mac: '02:00:00:00:78:01' }, { name: 'green', mac: '02:00:00:00:78:02' }]);
    const r = await w.add(p);
    assert.equal(codeOf(r), 102, why(r));
    assert.match(String(r.json.msg), /macmux-pool/);
    assert.deepEqual(a.journal().intents, [], 'a definite failure keeps no intent');
    await assertNothingLeft(w, p, 'the refused ADD');
  });

  it('API server refusing connections during DEL: the release is deferred at the first refusal, without retrying for the budget', async (t) => {
    const w = await World.create(t);
    const lan = w.bridge('l');
    await w.makeBridges();
    w.namespace('t11');
    w.nad('t11', 'blue', lan);
    const a = w.node('node-a', { timeBudget: { del: 30 } });
    const p = await w.pod(a, 't11', 'p', [{ name: 'blue' }]);
    assert.equal((await w.add(p)).status, 0);
    const mac = (await w.macOf(p, 'blue'))!;

    // The same kubeconfig, at a port where nothing listens.
    const { path: refused } = await refusedKubeconfig(w);
    const log = join(w.dir, 'del.log');
    const d = await w.del(p, { kubeconfig: refused, logLevel: 3, logFile: log });
    assert.equal(d.status, 0, why(d));
    const text = readFileSync(log, 'utf8');
    assert.match(text, /ECONNREFUSED; the API server is down, not retrying/);
    assert.doesNotMatch(text, /ECONNREFUSED, retrying/);
    assert.match(text, /release deferred/);
    const e = a.journal().entries[mac];
    assert.deepEqual(e && [e.owner, e.state, e.pendingRelease], ['t11/p/blue', 'released', true], 'the journal keeps a pending release');
    assert.deepEqual(a.cacheEntries(), []);
  });
});

// ---------------------------------------------------------------- issue 12: owners are pods, who may request which MAC

describe('owners are pods, not names (issue 12)', () => {
  it("a pod re-created under the same name on another node, before the first node's DEL, never gets the live MACs of the old pod; they come back after that DEL, a forced release, or gc once the node is gone", async (t) => {
    const w = await World.create(t);
    const lan = w.bridge('l');
    await w.makeBridges();
    w.namespace('t12');
    w.nad('t12', 'blue', lan);
    w.nad('t12', 'green', lan);
    const a = w.node('node-a');
    const b = w.node('node-b');
    const REQ = '02:bb:00:00:00:12';
    const both = [{ name: 'blue' }, { name: 'green', mac: REQ }];

    // p on node-a: a pool MAC and a requested one.
    const old = await w.pod(a, 't12', 'p', both);
    const r0 = await w.add(old);
    assert.equal(r0.status, 0, why(r0));
    const M = (await w.macOf(old, 'blue'))!;
    assert.equal(await w.macOf(old, 'green'), REQ);
    for (const m of [M, REQ]) assert.deepEqual([w.atHome(m)?.state, w.atHome(m)?.node], ['active', 'node-a'], m);
    const before = rawOf(w, [M, REQ]);

    // Force-deleted and re-created by its StatefulSet (new uid), scheduled on node-b; node-a never DELs.
    w.api.remove('Pod', 't12', 'p');
    const p2 = await w.pod(b, 't12', 'p', both);
    assert.notEqual(p2.uid, old.uid);
    const r1 = await w.add(p2);
    assert.equal(codeOf(r1), 100, why(r1));
    for (const part of [REQ, 't12/p/green', old.uid, 'node-a']) assert.ok(String(r1.json.msg).includes(part), `the refusal names ${part}: ${String(r1.json.msg)}`);
    await assertNothingLeft(w, p2, 'refused re-created pod', true, true);
    assert.deepEqual(rawOf(w, [M, REQ]), before, "node-a's holdings untouched");
    for (const m of [M, REQ]) assert.equal(w.atHome(m)?.uid, old.uid, `${m}: held for the old pod's uid`);

    // The pool attachment alone: a new MAC, not the old pod's.
    const p2b = await sandbox(w, p2, [{ name: 'blue' }]);
    const r2 = await w.add(p2b);
    assert.equal(r2.status, 0, why(r2));
    const N = (await w.macOf(p2b, 'blue'))!;
    assert.ok(inRange(N) && N !== M, `a different pool MAC: ${N}`);
    assert.deepEqual([w.atHome(N)?.state, w.atHome(N)?.node, w.atHome(N)?.uid], ['active', 'node-b', p2.uid]);
    assert.deepEqual(rawOf(w, [M, REQ]), before, "node-a's holdings still untouched");
    assert.equal(await w.macOf(old, 'blue'), M, 'the old sandbox keeps its MAC');

    // node-a comes back and DELs the old sandbox: its MACs are released (for their owner's grace period) ...
    const d0 = await w.del(old);
    assert.equal(d0.status, 0, why(d0));
    for (const m of [M, REQ]) assert.deepEqual([w.atHome(m)?.state, w.atHome(m)?.uid], ['released', old.uid], m);
    assert.equal(w.atHome(N)?.state, 'active', "the old sandbox's DEL does not touch the new pod's MAC");
    // ... and the re-created pod's next sandbox gets the requested MAC back.
    assert.equal((await w.del(p2b)).status, 0);
    const p2c = await sandbox(w, p2, both);
    const r3 = await w.add(p2c);
    assert.equal(r3.status, 0, why(r3));
    assert.equal(await w.macOf(p2c, 'green'), REQ);
    assert.deepEqual([w.atHome(REQ)?.state, w.atHome(REQ)?.node, w.atHome(REQ)?.uid], ['active', 'node-b', p2.uid]);

    // Another pod, q: node-a is partitioned for good; the operator frees its MAC with release --force.
    const Q = '02:bb:00:00:00:13';
    const q = await w.pod(a, 't12', 'q', [{ name: 'green', mac: Q }]);
    assert.equal((await w.add(q)).status, 0);
    w.api.remove('Pod', 't12', 'q');
    const q2 = await w.pod(b, 't12', 'q', [{ name: 'green', mac: Q }]);
    const rq = await w.add(q2);
    assert.equal(codeOf(rq), 100, why(rq));
    await assertNothingLeft(w, q2, 'q before the forced release', true, true);
    // Without --force the operator is refused: node-a is a Node of the cluster still.
    w.api.put({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a' } });
    const soft = await ledgerCli(w, ['release', Q]);
    assert.equal(soft.status, 1, why(soft));
    assert.match(soft.stderr, /node node-a still exists/);
    // The operator knows node-a runs nothing any more (its sandbox is gone, its netns with it), and forces the release.
    await w.delNetns(q.netns);
    const forced = await ledgerCli(w, ['release', Q, '--force']);
    assert.equal(forced.status, 0, why(forced));
    const rq2 = await w.add(q2);
    assert.equal(rq2.status, 0, why(rq2));
    assert.equal(await w.macOf(q2, 'green'), Q);
    // node-a comes back after all; the late DEL of the old sandbox does not release the new pod's holding.
    const dq = await w.del(q);
    assert.equal(dq.status, 0, why(dq));
    assert.deepEqual([w.atHome(Q)?.state, w.atHome(Q)?.node, w.atHome(Q)?.uid], ['active', 'node-b', q2.uid], "the late DEL left the new pod's MAC alone");

    // gc: s is deleted (not re-created) while node-a, which holds its MAC, still exists: kept. Once the Node is gone: released.
    const s = await w.pod(a, 't12', 's', [{ name: 'blue' }]);
    assert.equal((await w.add(s)).status, 0);
    const S = (await w.macOf(s, 'blue'))!;
    w.api.remove('Pod', 't12', 's');
    const kept = await ledgerCli(w, ['gc']);
    assert.equal(kept.status, 0, why(kept));
    const keptRows = JSON.parse(kept.stdout) as Array<{ mac: string; action: string; reason?: string }>;
    assert.deepEqual(keptRows.filter((x) => x.mac === S).map((x) => x.action), ['kept']);
    assert.equal(w.atHome(S)?.state, 'active');
    // node-a is gone for good (its sandboxes with it), and removed from the cluster.
    await w.delNetns(s.netns);
    w.api.remove('Node', undefined, 'node-a');
    const gone = await ledgerCli(w, ['gc']);
    assert.equal(gone.status, 0, why(gone));
    assert.deepEqual((JSON.parse(gone.stdout) as Array<{ mac: string; action: string }>).filter((x) => x.mac === S).map((x) => x.action), ['released']);
    assert.deepEqual([w.atHome(S)?.state, w.atHome(S)?.uid], ['released', s.uid]);
    // Within the grace period the re-created s gets it back.
    const s2 = await w.pod(b, 't12', 's', [{ name: 'blue' }]);
    const rs2 = await w.add(s2);
    assert.equal(rs2.status, 0, why(rs2));
    assert.equal(await w.macOf(s2, 'blue'), S);

    for (const x of [p2c, q2, s2]) assert.equal((await w.del(x)).status, 0);
  });

  it('holdings of the previous release (no uid): taken back only on the node that wrote them, once its cache shows the old sandbox gone', async (t) => {
    const w = await World.create(t);
    const lan = w.bridge('l');
    await w.makeBridges();
    w.namespace('t12b');
    w.nad('t12b', 'green', lan);
    w.nad('t12b', 'blue', lan);
    const a = w.node('node-a');
    const b = w.node('node-b');
    const L = '02:bb:00:00:00:21';

    // Pod r on node-a holds L and a pool MAC; its holdings are rewritten as the previous release wrote them (no uid).
    const old = await w.pod(a, 't12b', 'r', [{ name: 'green', mac: L }, { name: 'blue' }]);
    assert.equal((await w.add(old)).status, 0);
    const P = (await w.macOf(old, 'blue'))!;
    for (const m of [L, P]) {
      const home = w.home(m);
      const cm = w.api.get('ConfigMap', MACNS, home)! as unknown as { data: Record<string, string> };
      const h = decodeHolding(cm.data[macKey(m)]!)!;
      delete h.uid;
      cm.data[macKey(m)] = encodeHolding(h);
      w.api.put(cm as never);
      assert.equal(w.atHome(m)?.uid, undefined);
    }
    // Re-created (new uid) while the old sandbox still runs on node-a: refused on node-b, and on node-a too.
    w.api.remove('Pod', 't12b', 'r');
    for (const n of [b, a]) {
      const r2 = await w.pod(n, 't12b', 'r', [{ name: 'green', mac: L }]);
      const res = await w.add(r2);
      assert.equal(codeOf(res), 100, `${n.name}: ${why(res)}`);
      assert.match(String(res.json.msg), /t12b\/r\/green \(uid unknown: written by an earlier release, active on node node-a\)/);
      await assertNothingLeft(w, r2, `refused on ${n.name}`, true, true);
      w.api.remove('Pod', 't12b', 'r');
    }
    // A pool attachment on node-b gets another MAC.
    const rb = await w.pod(b, 't12b', 'r', [{ name: 'blue' }]);
    assert.equal((await w.add(rb)).status, 0);
    assert.notEqual(await w.macOf(rb, 'blue'), P);
    assert.equal((await w.del(rb)).status, 0);
    w.api.remove('Pod', 't12b', 'r');
    // The old sandbox's DEL on node-a releases the uid-less holdings (written by node-a) ...
    assert.equal((await w.del(old)).status, 0);
    for (const m of [L, P]) assert.equal(w.atHome(m)?.state, 'released', m);

    // A uid-less live holding whose sandbox is gone (its cache entry lost with a reinstall): node-a's pod of that name takes it and records its uid.
    const old2 = await w.pod(a, 't12b', 'u', [{ name: 'green', mac: '02:bb:00:00:00:22' }]);
    assert.equal((await w.add(old2)).status, 0);
    const U = '02:bb:00:00:00:22';
    const home = w.home(U);
    const cm = w.api.get('ConfigMap', MACNS, home)! as unknown as { data: Record<string, string> };
    const hu = decodeHolding(cm.data[macKey(U)]!)!;
    delete hu.uid;
    cm.data[macKey(U)] = encodeHolding(hu);
    w.api.put(cm as never);
    rmSync(join(a.cacheDir, 'cache', old2.cid));
    await w.delNetns(old2.netns);
    w.api.remove('Pod', 't12b', 'u');
    const onB = await w.pod(b, 't12b', 'u', [{ name: 'green', mac: U }]);
    assert.equal(codeOf(await w.add(onB)), 100, 'not on another node');
    w.api.remove('Pod', 't12b', 'u');
    const onA = await w.pod(a, 't12b', 'u', [{ name: 'green', mac: U }]);
    const ra = await w.add(onA);
    assert.equal(ra.status, 0, why(ra));
    assert.equal(await w.macOf(onA, 'green'), U);
    assert.deepEqual([w.atHome(U)?.state, w.atHome(U)?.node, w.atHome(U)?.uid], ['active', 'node-a', onA.uid]);
    assert.equal((await w.del(onA)).status, 0);
  });
});

describe('who may request which MAC: requestedMacs (issue 12)', () => {
  it('range refuses a MAC outside the pool range, none refuses every requested MAC (code 7 naming MAC, pod and setting, nothing left); the namespace label lifts both', async (t) => {
    const w = await World.create(t);
    const lan = w.bridge('l');
    await w.makeBridges();
    w.namespace('t7');
    w.namespace('t7free', { 'macmux.io/requested-macs': 'any' });
    for (const ns of ['t7', 't7free']) w.nad(ns, 'blue', lan);
    w.nad('t7', 'green', lan);
    const ranged = w.node('node-r', { requestedMacs: 'range' });
    const none = w.node('node-n', { requestedMacs: 'none' });
    const OUT = '00:16:3e:12:34:56';
    const IN = '02:aa:00:00:0f:07';
    const pods: PodRun[] = [];

    const refused = async (node: SimNode, name: string, mac: string, setting: string) => {
      // A pool attachment first: refused before any MAC is taken, its too.
      const p = await w.pod(node, 't7', name, [{ name: 'green' }, { name: 'blue', mac }]);
      const r = await w.add(p);
      assert.equal(codeOf(r), 7, why(r));
      for (const part of [mac, `t7/${name}`, `requestedMacs: ${setting}`, 'macmux.io/requested-macs']) assert.ok(String(r.json.msg).includes(part), `names ${part}: ${String(r.json.msg)}`);
      await assertNothingLeft(w, p, name);
      assert.deepEqual(node.journal().intents, [], 'no intent left');
      assert.ok(!Object.values(node.journal().entries).some((e) => e.owner.startsWith(`t7/${name}/`)), 'no journal entry');
    };
    const allowed = async (node: SimNode, ns: string, name: string, mac: string) => {
      const p = await w.pod(node, ns, name, [{ name: 'blue', mac }]);
      const r = await w.add(p);
      assert.equal(r.status, 0, why(r));
      assert.equal(await w.macOf(p, 'blue'), mac);
      pods.push(p);
      assert.equal((await w.del(p)).status, 0);
    };

    await refused(ranged, 'out', OUT, 'range');
    await allowed(ranged, 't7', 'in', IN);
    await allowed(ranged, 't7free', 'out2', '00:16:3e:12:34:57');
    await refused(none, 'in2', IN, 'none');
    await refused(none, 'out3', OUT, 'none');
    await allowed(none, 't7free', 'in3', '02:aa:00:00:0f:08');
    // Pool MACs are still handed out under none.
    const pool = await w.pod(none, 't7', 'pool', [{ name: 'blue' }]);
    const rp = await w.add(pool);
    assert.equal(rp.status, 0, why(rp));
    assert.ok(inRange((await w.macOf(pool, 'blue'))!));
    assert.equal((await w.del(pool)).status, 0);
  });

  it('requestedMacs range or none without macPool is a config error (code 7)', async () => {
    const r = await cniAsync('ADD', { cniVersion: '1.0.0', name: 'macmux', type: 'macmux', requestedMacs: 'none', delegates: [{ name: 'lo', type: 'loopback', cniVersion: '1.0.0' }] }, { CNI_CONTAINERID: 'x', CNI_NETNS: '/run/netns/none', CNI_IFNAME: 'eth0', CNI_PATH: PLUGIN_DIR });
    assert.equal(codeOf(r), 7, why(r));
    assert.match(String(r.json.msg), /requestedMacs: none needs macPool/);
  });
});

