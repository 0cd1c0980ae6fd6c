// The bench's scale simulation (scripts/bench/scale.ts, section 8a) at a CI size: no duplicate MAC and every ledger object within its bound, with the real ClusterLedger on a MemoryStore.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OBJECT_LIMIT, simulate } from '../../scripts/bench/scale';
import { MemoryStore, type Cm } from '../../src/mac/store';

test('100 nodes × 30 ADDs, requested MACs contested across nodes, DELs and pods created again: no duplicate MAC, every object ≤ 256 KiB', async () => {
  const f = await simulate({ nodes: 100, adds: 30 });
  assert.equal(f.failed, 0, f.firstFailure);
  assert.equal(f.add.ops, 3000);
  // The simulation did what it claims: contests raced (one side refused), 409s happened, pods came back within grace.
  assert.ok(f.refused > 0, 'no contested requested MAC was refused');
  assert.ok(f.add.attempts > f.add.writes, 'no write was refused: the nodes did not race');
  assert.ok(f.del.ops > 0 && f.sticky.within > 0, 'no pod was deleted and created again within grace');
  assert.equal(f.sticky.same, f.sticky.within, 'a pod created again within grace lost its MAC');

  assert.equal(f.duplicates, 0, 'census() found MACs with live holdings of two owners');
  assert.equal(f.liveClashes, 0, 'an ADD got a MAC a live pod of another owner held');
  assert.equal(f.damaged, 0);
  for (const [kind, k] of Object.entries(f.kinds)) assert.ok(k.bytes <= OBJECT_LIMIT, `${kind} ${k.largest} has ${k.bytes} bytes of data, over ${OBJECT_LIMIT}`);
  assert.ok(f.kinds.pool && f.kinds.claims, `kinds seen: ${Object.keys(f.kinds).join(', ')}`);
});

/** A store whose updates skip the compare-and-swap (last writer wins): what the ledger's safety rests on. */
class BlindWrites extends MemoryStore {
  override update(cm: Cm): Promise<Cm | 'conflict'> {
    return super.update({ ...cm, resourceVersion: this.cms.get(cm.name)?.resourceVersion });
  }
}

test('the checks catch duplicates: on a store without compare-and-swap, contested MACs end up held twice', async () => {
  const f = await simulate({ nodes: 20, adds: 30, requested: 0.5, contested: 1 }, new BlindWrites());
  assert.ok(f.liveClashes > 0, 'two nodes claimed the same MAC at once and both got it, unnoticed');
});
