// The example conflists in cni-conf/ are valid macmux configs, as libcni would hand them to the plugin.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConf } from '../../src/config/load';
import { planStatic } from '../../src/plugin/plan';

const dir = join(__dirname, '..', '..', 'cni-conf');

for (const file of readdirSync(dir).filter((f) => f.endsWith('.conflist'))) {
  it(`cni-conf/${file} validates`, () => {
    const list = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { cniVersion: string; name: string; plugins: Array<Record<string, unknown>> };
    const mine = list.plugins.find((p) => p.type === 'macmux');
    assert.ok(mine, 'has a macmux plugin');
    const conf = loadConf({ ...mine, name: list.name, cniVersion: list.cniVersion });
    assert.equal(conf.name, 'macmux');
    if (!conf.clusterNetwork) {
      const plan = planStatic(conf, 'eth0');
      assert.equal(plan[0]!.ifName, 'eth0');
      assert.ok(plan.slice(1).every((a) => /^net[0-9a-f]{12}$/.test(a.ifName)));
    }
  });
}
