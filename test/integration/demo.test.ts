// The README's first command works: the demo shows a pod getting its interfaces, MACs and network-status, then cleans up.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, sh } from './harness';

it('the demo adds eth0, net9f27410725ab (with the requested MAC) and net48d6215903df, publishes network-status, and deletes them', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'demo.ts')], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /net9f27410725ab\s+macvlan\s+02:00:5e:10:00:2a\s+192\.168\.100\.2\/24/);
  assert.match(r.stdout, /net48d6215903df\s+veth\s+\S+\s+192\.168\.200\.2\/24/);
  assert.match(r.stdout, /"name": "default\/green",\s+"interface": "net9f27410725ab"/);
  assert.match(r.stdout, /DEL ok; the pod now has:\s+DEVICE.*\n\s+lo\s/);
  // blue got a pool MAC from the ledger: it is in the netns, active in the ConfigMap, then released. It comes from the
  // node's one block, the one green's requested MAC leased (02:00:5e:10:00:00-ff), and is not that MAC.
  const blue = /net48d6215903df\s+veth\s+(\S+)/.exec(r.stdout)?.[1];
  assert.match(blue ?? '', /^02:00:5e:10:00:[0-9a-f]{2}$/);
  assert.notEqual(blue, '02:00:5e:10:00:2a');
  assert.match(r.stdout, new RegExp(`${blue}\\s+a\\|default/demo/blue\\|demo-node\\|`));
  assert.match(r.stdout, new RegExp(`${blue}\\s+x\\|default/demo/blue\\|demo-node\\|`));
  assert.match(r.stdout, /02:00:5e:10:00:2a\s+a\|default\/demo\/green\|/, 'the requested MAC is recorded too');
  // The operator CLI's view of the same ledger: both MACs active, owned by the pod, written by demo-node.
  assert.match(r.stdout, /\$ macmux ledger list --kubeconfig \S+ --namespace kube-system\n\s+MAC\s+OWNER\s+STATE/);
  assert.match(r.stdout, new RegExp(`${blue}\\s+default/demo/blue\\s+active\\s+demo-node`));
  assert.match(r.stdout, /02:00:5e:10:00:2a\s+default\/demo\/green\s+active\s+demo-node/);
  assert.equal(sh('ip', ['netns', 'list']).includes('macmux-demo-pod'), false, 'the demo cleaned up its netns');
});
