// Integration: CNI GC (1.1.0) of the built macmux: both keys, per-network valid attachments for 1.1.0 delegates, older delegates left alone.
import { describe, it, before, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BINARY, PLUGIN_DIR, ROOT, Sandbox, cniAsync, linkNames, type RunResult } from './harness';
import { deviceName } from '../../src/util/names';

/** The stand-in for a 1.1.0 delegate (Debian's plugins speak up to 1.0.0): it logs every call and answers per its "probe" config. */
const PROBE_DIR = join(ROOT, 'test', 'plugins');
const CNI_PATH = `${PLUGIN_DIR}:${PROBE_DIR}`;
const VALID = 'cni.dev/valid-attachments';
const LEGACY = 'cni.dev/attachments';

before(() => {
  assert.ok(existsSync(BINARY), `${BINARY} missing: run npm run build`);
  for (const p of ['bridge', 'host-local']) assert.ok(existsSync(`${PLUGIN_DIR}/${p}`), `plugin ${p} missing from ${PLUGIN_DIR}`);
  assert.ok(existsSync(join(PROBE_DIR, 'status-probe')), 'test/plugins/status-probe missing');
  assert.equal(process.getuid?.(), 0, 'integration tests need root');
});

interface Call {
  command: string;
  env: Record<string, string>;
  stdin: Record<string, unknown>;
}

/**
 * One test's node: a state dir, a probe log, and a spy in front of Debian's bridge (1.0.0) for eth0
 * that logs "<command> <containerID>". Pods are network namespaces, each removed by t.after.
 */
class Node {
  readonly sb: Sandbox;
  readonly log: string;
  readonly spyLog: string;
  readonly bin: string;
  private readonly pods: Sandbox[] = [];

  constructor(t: TestContext) {
    this.sb = new Sandbox();
    t.after(() => {
      for (const p of this.pods) p.cleanup();
      this.sb.cleanup();
    });
    this.log = join(this.sb.dir, 'calls.jsonl');
    this.spyLog = join(this.sb.dir, 'spy.log');
    this.bin = join(this.sb.dir, 'bin');
    mkdirSync(this.bin);
    writeFileSync(join(this.bin, 'spy-bridge'), `#!/bin/sh\necho "$CNI_COMMAND $CNI_CONTAINERID" >> ${this.spyLog}\nexec ${PLUGIN_DIR}/bridge\n`, { mode: 0o755 });
  }

  /** A delegate network run by the probe. */
  probe(name: string, cniVersion: string, knobs: Record<string, unknown> = {}): Record<string, unknown> {
    return { name, cniVersion, type: 'status-probe', probe: { log: this.log, ...knobs } };
  }

  /** macmux 1.1.0: eth0 on the spied bridge (1.0.0), then `secondaries`; everything in this node's state dir. */
  conf(secondaries: Array<Record<string, unknown>>): Record<string, unknown> {
    return {
      cniVersion: '1.1.0',
      name: 'macmux',
      type: 'macmux',
      cacheDir: this.sb.cacheDir,
      binDir: this.bin,
      delegates: [
        { name: 'cluster', cniVersion: '1.0.0', masterPlugin: true, type: 'spy-bridge', bridge: this.sb.bridgeName('c'), isGateway: true, ipam: { type: 'host-local', subnet: '10.250.0.0/24', dataDir: this.sb.ipamDir } },
        ...secondaries,
      ],
    };
  }

  /** ADDs a new pod (its own netns) with `conf`; returns its netns. */
  async add(conf: Record<string, unknown>, containerID: string): Promise<Sandbox> {
    const pod = new Sandbox();
    this.pods.push(pod);
    const r = await cniAsync('ADD', conf, { ...pod.env(containerID), CNI_PATH });
    assert.equal(r.status, 0, `ADD ${containerID}: ${r.stdout}`);
    return pod;
  }

  calls(command?: string): Call[] {
    const all = existsSync(this.log) ? readFileSync(this.log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Call) : [];
    return command ? all.filter((c) => c.command === command) : all;
  }

  /** GC calls as "<network>: <containerID>/<ifname>, ...", in call order. */
  gcSeen(): string[] {
    return this.calls('GC').map((c) => `${String(c.stdin.name)}: ${(c.stdin[VALID] as Array<{ containerID: string; ifname: string }>).map((v) => `${v.containerID}/${v.ifname}`).join(', ')}`);
  }

  spied(): string[] {
    return existsSync(this.spyLog) ? readFileSync(this.spyLog, 'utf8').trim().split('\n').filter(Boolean) : [];
  }
}

/** GC as libcni sends it: CNI_COMMAND and CNI_PATH only. */
const gc = (conf: Record<string, unknown>, keys: Record<string, unknown>) => cniAsync('GC', { ...conf, ...keys }, { CNI_PATH });

function assertOk(r: RunResult, what: string): void {
  assert.equal(r.status, 0, `${what}: ${r.stdout} ${r.stderr}`);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
}

const [GREEN, BLUE, RED, GRAY] = ['green', 'blue', 'red', 'gray'].map(deviceName) as [string, string, string, string];

describe('GC', () => {
  it("gives each 1.1.0 delegate exactly its own network's valid attachments; 1.0.0 delegates and disableGC ones are never asked", async (t) => {
    const node = new Node(t);
    const full = node.conf([
      node.probe('green', '1.1.0'),
      node.probe('blue', '1.1.0'),
      node.probe('red', '1.0.0'),
      { ...node.probe('gray', '1.1.0'), disableGC: true },
    ]);
    const greenOnly = node.conf([node.probe('green', '1.1.0')]);
    await node.add(full, 'gc-a');
    await node.add(greenOnly, 'gc-b'); // added before the config grew blue, red and gray
    const stale = await node.add(full, 'gc-c');
    assert.deepEqual(node.sb.cacheEntries().sort(), ['gc-a', 'gc-b', 'gc-c']);
    assert.deepEqual(linkNames(stale.ns), ['eth0', 'lo']);

    const r = await gc(full, { [VALID]: [{ containerID: 'gc-a', ifname: 'eth0' }, { containerID: 'gc-b', ifname: 'eth0' }] });
    assertOk(r, 'GC');
    assert.deepEqual(node.sb.cacheEntries().sort(), ['gc-a', 'gc-b'], 'the stale container is collected');
    assert.deepEqual(linkNames(stale.ns), ['lo'], "Debian's bridge deleted the stale eth0");
    assert.deepEqual(
      node.calls('DEL').map((c) => `${c.env.CNI_CONTAINERID} ${String(c.stdin.name)} ${c.env.CNI_IFNAME}`),
      [`gc-c gray ${GRAY}`, `gc-c red ${RED}`, `gc-c blue ${BLUE}`, `gc-c green ${GREEN}`],
      'the stale container is DELeted through every delegate, in reverse',
    );
    assert.deepEqual(node.gcSeen(), [`green: gc-a/${GREEN}, gc-b/${GREEN}`, `blue: gc-a/${BLUE}`]);
    const green = node.calls('GC')[0]!;
    assert.deepEqual(green.stdin, { type: 'status-probe', name: 'green', cniVersion: '1.1.0', probe: { log: node.log }, [VALID]: [{ containerID: 'gc-a', ifname: GREEN }, { containerID: 'gc-b', ifname: GREEN }] });
    assert.deepEqual(green.env, { CNI_COMMAND: 'GC', CNI_PATH: `${node.bin}:${CNI_PATH}` }, 'GC has no container, netns, ifname or args');
    assert.deepEqual(node.spied().filter((l) => l.startsWith('GC')), [], "Debian's 1.0.0 bridge is not asked to GC");
    assert.deepEqual(node.spied(), ['ADD gc-a', 'ADD gc-b', 'ADD gc-c', 'DEL gc-c']);

    // With nothing left valid, every container goes, and each 1.1.0 delegate hears of an empty list.
    assertOk(await gc(full, { [VALID]: [] }), 'GC of everything');
    assert.deepEqual(node.sb.cacheEntries(), []);
    assert.deepEqual(node.gcSeen().slice(2), ['green: ', 'blue: ']);
    assert.deepEqual(node.sb.ipamLeases(), []);
  });

  it('reads the legacy cni.dev/attachments like cni.dev/valid-attachments, which wins when both are given', async (t) => {
    const node = new Node(t);
    const conf = node.conf([node.probe('green', '1.1.0')]);
    const a = await node.add(conf, 'lg-a');
    const b = await node.add(conf, 'lg-b');

    assertOk(await gc(conf, { [LEGACY]: [{ containerID: 'lg-a', ifname: 'eth0' }] }), 'GC with the legacy key');
    assert.deepEqual(node.sb.cacheEntries(), ['lg-a']);
    assert.deepEqual(linkNames(b.ns), ['lo']);
    assert.deepEqual(linkNames(a.ns), ['eth0', 'lo']);
    assert.deepEqual(node.gcSeen(), [`green: lg-a/${GREEN}`], 'delegates get the list under the spec key');
    assert.ok(!(LEGACY in node.calls('GC')[0]!.stdin), 'and not the legacy key');

    // Both keys: the spec's key is the list; the legacy one is ignored.
    assertOk(await gc(conf, { [VALID]: [], [LEGACY]: [{ containerID: 'lg-a', ifname: 'eth0' }] }), 'GC with both keys');
    assert.deepEqual(node.sb.cacheEntries(), []);
    assert.deepEqual(linkNames(a.ns), ['lo']);
    assert.deepEqual(node.gcSeen()[1], 'green: ');

    // An attachment listed under another ifname is not the one macmux added: the container goes.
    const c = await node.add(conf, 'lg-c');
    assertOk(await gc(conf, { [LEGACY]: [{ containerID: 'lg-c', ifname: 'net1' }] }), 'GC with another ifname');
    assert.deepEqual(node.sb.cacheEntries(), []);
    assert.deepEqual(linkNames(c.ns), ['lo']);
  });

  it('rejects a malformed list under either key with code 7 naming the element, before touching anything', async (t) => {
    const node = new Node(t);
    const conf = node.conf([node.probe('green', '1.1.0')]);
    await node.add(conf, 'bad-a');
    for (const [key, value, fragment] of [
      [LEGACY, [{ containerID: 'bad-a' }], `${LEGACY}[0] needs string fields containerID and ifname`],
      [VALID, [{ containerID: 'bad-a', ifname: 'eth0' }, 'bad-a'], `${VALID}[1] needs string fields containerID and ifname`],
      [VALID, { containerID: 'bad-a', ifname: 'eth0' }, `${VALID} must be a list`],
    ] as Array<[string, unknown, string]>) {
      const r = await gc(conf, { [key]: value });
      assert.equal(r.status, 1, r.stdout);
      assert.equal(r.json.code, 7, r.stdout);
      assert.equal(r.json.msg, fragment);
    }
    assert.deepEqual(node.sb.cacheEntries(), ['bad-a']);
    assert.deepEqual(node.calls().map((c) => c.command), ['ADD'], 'no delegate was asked anything');
    assert.equal(node.spied().length, 1);
  });

  it("returns a 1.1.0 delegate's GC error with its code and name, after every other delegate and stale container was handled", async (t) => {
    const node = new Node(t);
    const conf = node.conf([node.probe('green', '1.1.0', { answer: { GC: { code: 5, msg: 'cannot read /var/lib/green' } } }), node.probe('blue', '1.1.0')]);
    const stale = await node.add(conf, 'er-a');
    const r = await gc(conf, { [VALID]: [] });
    assert.equal(r.status, 1, r.stdout);
    assert.equal(r.json.code, 5);
    assert.equal(r.json.msg, 'status-probe (green) GC: cannot read /var/lib/green');
    assert.deepEqual(node.sb.cacheEntries(), [], 'the stale container was still collected');
    assert.deepEqual(linkNames(stale.ns), ['lo']);
    assert.deepEqual(node.gcSeen(), ['green: ', 'blue: '], 'blue was still asked');
  });
});
