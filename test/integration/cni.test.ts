// Integration: dist/macmux run as a runtime runs it, with real plugins in real network namespaces.
import { describe, it, before, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { BINARY, PLUGIN_DIR, Sandbox, cni, ipv4, linkNames, links, macmuxConf, sh } from './harness';

const GREEN = 'net9f27410725ab'; // md5("green")[:12]
const BLUE = 'net48d6215903df'; // md5("blue")[:12]

before(() => {
  assert.ok(existsSync(BINARY), `${BINARY} missing: run npm run build`);
  for (const p of ['bridge', 'macvlan', 'host-local', 'tuning']) assert.ok(existsSync(`${PLUGIN_DIR}/${p}`), `plugin ${p} missing from ${PLUGIN_DIR}`);
  assert.equal(process.getuid?.(), 0, 'integration tests need root');
});

function sandbox(t: TestContext): Sandbox {
  const sb = new Sandbox();
  t.after(() => sb.cleanup());
  return sb;
}

/** eth0 on the cluster bridge, green = macvlan on a host bridge, blue = bridge + tuning conflist. */
function podConf(sb: Sandbox, v: string): Record<string, unknown> {
  const lower = sb.bridge('l');
  return macmuxConf(sb, v, [
    { name: 'green', type: 'macvlan', master: lower, mode: 'bridge', ipam: { type: 'host-local', subnet: '10.251.0.0/24', dataDir: sb.ipamDir } },
    {
      name: 'blue',
      plugins: [
        { type: 'bridge', bridge: sb.bridgeName('b'), ipam: { type: 'host-local', subnet: '10.252.0.0/24', dataDir: sb.ipamDir } },
        { type: 'tuning', sysctl: {} },
      ],
    },
  ]);
}

/** Asserts a spec error object on stdout with exit status 1. */
function assertCniError(r: ReturnType<typeof cni>, code: number, ...fragments: string[]): void {
  assert.equal(r.status, 1, `exit status; stdout=${r.stdout} stderr=${r.stderr}`);
  assert.equal(r.json.code, code, `code in ${r.stdout}`);
  const text = `${String(r.json.msg)} ${String(r.json.details ?? '')}`;
  for (const f of fragments) assert.ok(text.includes(f), `error ${JSON.stringify(text)} should mention ${JSON.stringify(f)}`);
  assert.ok(!/\n\s+at /.test(r.stdout), 'no stack trace on stdout');
}

for (const v of ['0.3.1', '0.4.0', '1.0.0']) {
  describe(`cniVersion ${v}`, () => {
    it('ADD gives eth0 plus net<md5> devices with the MACs and addresses the delegates reported', (t) => {
      const sb = sandbox(t);
      const conf = podConf(sb, v);
      const r = cni('ADD', conf, sb.env('add1'));
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.equal(r.stderr, '', 'nothing on stderr at the default log level');

      assert.deepEqual(linkNames(sb.ns), ['eth0', BLUE, GREEN, 'lo'].sort());
      const byName = new Map(links(sb.ns).map((l) => [l.ifname, l]));
      assert.deepEqual(ipv4(byName.get('eth0')), ['10.250.0.2/24']);
      assert.deepEqual(ipv4(byName.get(GREEN)), ['10.251.0.2/24']);
      assert.deepEqual(ipv4(byName.get(BLUE)), ['10.252.0.2/24']);
      assert.equal(byName.get(GREEN)?.linkinfo?.info_kind, 'macvlan');
      assert.equal(byName.get(BLUE)?.linkinfo?.info_kind, 'veth');

      // The printed result is eth0's, in the config's version.
      assert.equal(r.json.cniVersion, v);
      const ips = r.json.ips as Array<Record<string, unknown>>;
      assert.equal(ips[0]?.address, '10.250.0.2/24');
      assert.equal(ips[0]?.version, v === '1.0.0' ? undefined : '4');
      const ifaces = r.json.interfaces as Array<Record<string, string>>;
      const eth0 = ifaces.find((i) => i.name === 'eth0' && i.sandbox === sb.netnsPath);
      assert.equal(eth0?.mac, byName.get('eth0')?.address);

      // The cache holds every attachment's result, and its MACs match the netns.
      const entry = sb.cacheEntry('add1') as { state: string; attachments: Array<{ name: string; ifName: string; result: { interfaces: Array<{ name: string; mac: string }> } }> };
      assert.equal(entry.state, 'added');
      assert.deepEqual(entry.attachments.map((a) => [a.name, a.ifName]), [['cluster', 'eth0'], ['green', GREEN], ['blue', BLUE]]);
      for (const a of entry.attachments) {
        const mac = a.result.interfaces.find((i) => i.name === a.ifName)?.mac;
        assert.equal(mac, byName.get(a.ifName)?.address, `${a.name} MAC`);
      }
    });

    it('DEL removes everything, succeeds twice, and succeeds after the netns is gone', (t) => {
      const sb = sandbox(t);
      const conf = podConf(sb, v);
      assert.equal(cni('ADD', conf, sb.env('del1')).status, 0);
      assert.equal(sb.ipamLeases().length, 3);

      const d1 = cni('DEL', conf, sb.env('del1'));
      assert.equal(d1.status, 0, d1.stdout);
      assert.equal(d1.stdout, '');
      assert.deepEqual(linkNames(sb.ns), ['lo']);
      assert.deepEqual(sb.cacheEntries(), []);
      assert.deepEqual(sb.ipamLeases(), []);

      assert.equal(cni('DEL', conf, sb.env('del1')).status, 0, 'second DEL');

      // ADD again, then the netns disappears before DEL.
      assert.equal(cni('ADD', conf, sb.env('del2')).status, 0);
      sb.deleteNetns();
      const d3 = cni('DEL', conf, sb.env('del2'));
      assert.equal(d3.status, 0, d3.stdout);
      assert.deepEqual(sb.cacheEntries(), []);
      assert.deepEqual(sb.ipamLeases(), [], 'IPs released even without the netns');
    });

    it('a failing secondary delegate leaves no link, lease or cache entry behind', (t) => {
      const sb = sandbox(t);
      const conf = macmuxConf(sb, v, [
        { name: 'green', type: 'macvlan', master: sb.bridge('l'), mode: 'bridge', ipam: { type: 'host-local', subnet: '10.251.0.0/24', dataDir: sb.ipamDir } },
        { name: 'broken', type: 'macvlan', master: 'mmnosuchdev0', ipam: { type: 'host-local', subnet: '10.253.0.0/24', dataDir: sb.ipamDir } },
      ]);
      const r = cni('ADD', conf, sb.env('fail1'));
      assert.equal(r.status, 1, r.stdout);
      assert.equal(r.json.code, 999, 'the delegate code is kept');
      assert.equal(r.json.msg, 'macvlan (broken) ADD: Link not found', 'the delegate message is kept, naming the delegate');
      assert.deepEqual(linkNames(sb.ns), ['lo']);
      assert.deepEqual(sb.cacheEntries(), []);
      assert.deepEqual(sb.ipamLeases(), []);
    });

    it('a missing plugin gives a clear error naming it and the directories searched', (t) => {
      const sb = sandbox(t);
      const conf = macmuxConf(sb, v, [{ name: 'green', type: 'no-such-plugin' }]);
      const r = cni('ADD', conf, sb.env('miss1'));
      assertCniError(r, 7, 'no-such-plugin', PLUGIN_DIR);
      assert.deepEqual(linkNames(sb.ns), ['lo'], 'eth0 rolled back');
      assert.deepEqual(sb.cacheEntries(), []);
      assert.deepEqual(sb.ipamLeases(), []);
    });

    it('CHECK passes after ADD and fails once an interface is deleted by hand', (t) => {
      const sb = sandbox(t);
      const conf = podConf(sb, v);
      assert.equal(cni('ADD', conf, sb.env('chk1')).status, 0);
      const c1 = cni('CHECK', conf, sb.env('chk1'));
      if (v === '0.3.1') {
        assertCniError(c1, 1, 'CHECK'); // CHECK exists from 0.4.0 on
        return;
      }
      assert.equal(c1.status, 0, c1.stdout);
      assert.equal(c1.stdout, '');
      sh('ip', ['-n', sb.ns, 'link', 'del', GREEN]);
      const c2 = cni('CHECK', conf, sb.env('chk1'));
      assert.equal(c2.status, 1, 'CHECK must fail without the macvlan');
      assert.ok(String(c2.json.msg).includes('macvlan (green) CHECK'), String(c2.json.msg));
      assert.equal(cni('DEL', conf, sb.env('chk1')).status, 0, 'DEL still succeeds');
      assert.deepEqual(sb.ipamLeases(), []);
    });
  });
}

describe('runtime-facing errors', () => {
  it('bad env, bad JSON and a bad config give spec codes and no stack trace', (t) => {
    const sb = sandbox(t);
    assertCniError(cni('ADD', macmuxConf(sb, '1.0.0', []), { CNI_PATH: PLUGIN_DIR }), 4, 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME');
    assertCniError(cni('ADD', '{not json', sb.env('e1')), 6);
    const bad = { ...macmuxConf(sb, '1.0.0', [{ name: 'x' }]), logLevel: 7 };
    assertCniError(cni('ADD', bad, sb.env('e1')), 7, '$.delegates[1]', '$.logLevel');
    assertCniError(cni('ADD', macmuxConf(sb, '9.9.9', []), sb.env('e1')), 1, '9.9.9');
    assertCniError(cni('FROB', {}, sb.env('e1')), 4, 'FROB');
    assert.deepEqual(linkNames(sb.ns), ['lo']);
    assert.deepEqual(sb.cacheEntries(), []);
  });

  it('VERSION echoes the input version and lists all supported versions', () => {
    const r = cni('VERSION', { cniVersion: '0.4.0' });
    assert.equal(r.status, 0);
    assert.equal(r.stderr, '');
    assert.deepEqual(r.json, { cniVersion: '0.4.0', supportedVersions: ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
    assert.equal(cni('VERSION', '').json.cniVersion, '1.1.0');
  });

  it('_CNI_LOGGING_FILE gets one line per event and stdout stays pure', (t) => {
    const sb = sandbox(t);
    const file = `${sb.dir}/macmux.log`;
    const conf = podConf(sb, '1.0.0');
    const r = cni('ADD', conf, { ...sb.env('log1'), _CNI_LOGGING_LEVEL: '3', _CNI_LOGGING_FILE: file });
    assert.equal(r.status, 0);
    assert.equal(r.stderr, '');
    JSON.parse(r.stdout);
    const lines = sh('cat', [file]).trim().split('\n');
    assert.ok(lines.length >= 4, lines.join('\n'));
    for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT[\d:.]+Z (error|info|debug) ADD log1 - .+/);
    assert.ok(lines.some((l) => l.includes(`adding green on ${GREEN}`)));
    assert.equal((sh('stat', ['-c', '%a', file]).trim()), '600');
    assert.equal(cni('DEL', conf, sb.env('log1')).status, 0);
  });
});

describe('GC and clusterNetwork', () => {
  it('GC deletes the attachments of containers the runtime no longer lists, and keeps the valid ones', (t) => {
    const sb = sandbox(t);
    const other = new Sandbox();
    t.after(() => other.cleanup());
    // macmux speaks 1.1.0 to the runtime while Debian's plugins speak 1.0.0: each delegate keeps its version.
    const conf = macmuxConf(sb, '1.1.0', [
      { name: 'green', cniVersion: '1.0.0', type: 'macvlan', master: sb.bridge('l'), mode: 'bridge', ipam: { type: 'host-local', subnet: '10.251.0.0/24', dataDir: sb.ipamDir } },
    ]);
    (conf.delegates as Array<Record<string, unknown>>)[0]!.cniVersion = '1.0.0';
    const a = cni('ADD', conf, sb.env('gc-keep'));
    assert.equal(a.status, 0, a.stdout);
    assert.equal(a.json.cniVersion, '1.1.0');
    assert.equal(cni('ADD', conf, other.env('gc-stale')).status, 0);
    assert.deepEqual(sb.cacheEntries().sort(), ['gc-keep', 'gc-stale']);
    assert.equal(sb.ipamLeases().length, 4);

    const gcConf = { ...conf, 'cni.dev/valid-attachments': [{ containerID: 'gc-keep', ifname: 'eth0' }] };

    // While an ADD is still running (its entry says "adding"), GC leaves the container alone.
    const stalePath = `${sb.cacheDir}/cache/gc-stale`;
    sh('sh', ['-c', `sed -i 's/"state":"added"/"state":"adding"/' ${stalePath}`]);
    assert.equal(cni('GC', gcConf, { CNI_PATH: PLUGIN_DIR }).status, 0);
    assert.deepEqual(sb.cacheEntries().sort(), ['gc-keep', 'gc-stale']);
    assert.deepEqual(linkNames(other.ns), ['eth0', GREEN, 'lo'].sort());

    // An "adding" entry older than any ADD could run is a crashed ADD: GC collects it.
    sh('touch', ['-d', '2 hours ago', stalePath]);
    const gc = cni('GC', gcConf, { CNI_PATH: PLUGIN_DIR });
    assert.equal(gc.status, 0, gc.stdout);
    assert.deepEqual(sb.cacheEntries(), ['gc-keep']);
    assert.deepEqual(linkNames(other.ns), ['lo'], 'stale container cleaned');
    assert.deepEqual(linkNames(sb.ns), ['eth0', GREEN, 'lo'].sort(), 'valid container untouched');
    assert.equal(sb.ipamLeases().length, 2);

    assertCniError(cni('GC', { ...conf, cniVersion: '1.0.0' }, { CNI_PATH: PLUGIN_DIR }), 1, 'GC');
    assert.equal(cni('DEL', conf, sb.env('gc-keep')).status, 0);
  });

  it('clusterNetwork names a conflist file for eth0; every delegate is then a secondary', (t) => {
    const sb = sandbox(t);
    const file = `${sb.dir}/10-cluster.conflist`;
    const cluster = { cniVersion: '1.0.0', name: 'k8s-pod-network', plugins: [
      { type: 'bridge', bridge: sb.bridgeName('k'), isGateway: true, ipam: { type: 'host-local', subnet: '10.254.0.0/24', dataDir: sb.ipamDir } },
      { type: 'tuning', sysctl: {} },
    ] };
    sh('sh', ['-c', `cat > ${file} <<'X'\n${JSON.stringify(cluster)}\nX`]);
    const conf = { cniVersion: '1.0.0', name: 'macmux', type: 'macmux', cacheDir: sb.cacheDir, clusterNetwork: file,
      delegates: [{ name: 'green', type: 'macvlan', master: sb.bridge('l'), ipam: { type: 'host-local', subnet: '10.251.0.0/24', dataDir: sb.ipamDir } }] };
    const r = cni('ADD', conf, sb.env('cn1'));
    assert.equal(r.status, 0, r.stdout);
    const byName = new Map(links(sb.ns).map((l) => [l.ifname, l]));
    assert.deepEqual(ipv4(byName.get('eth0')), ['10.254.0.2/24']);
    assert.deepEqual(ipv4(byName.get(GREEN)), ['10.251.0.2/24']);
    assert.equal(cni('DEL', conf, sb.env('cn1')).status, 0);
    assert.deepEqual(linkNames(sb.ns), ['lo']);

    assertCniError(cni('ADD', { ...conf, clusterNetwork: `${sb.dir}/missing.conflist` }, sb.env('cn2')), 7, 'clusterNetwork', 'missing.conflist');
    assert.deepEqual(sb.cacheEntries(), []);
  });
});

describe('cache and DEL robustness', () => {
  /** A binDir of spy-<type> wrappers that log "VERB ifname type" and exec the real plugin. */
  function spyDir(sb: Sandbox, types: string[]): { dir: string; log: string } {
    const dir = `${sb.dir}/spybin`;
    const log = `${sb.dir}/calls.log`;
    sh('mkdir', ['-p', dir]);
    for (const type of types) {
      sh('sh', ['-c', `printf '#!/bin/sh\\necho "$CNI_COMMAND $CNI_IFNAME ${type}" >> ${log}\\nexec ${PLUGIN_DIR}/${type}\\n' > ${dir}/spy-${type} && chmod 755 ${dir}/spy-${type}`]);
    }
    return { dir, log };
  }

  it('DEL runs the delegates in reverse order from the 0600, versioned cache', (t) => {
    const sb = sandbox(t);
    const { dir, log } = spyDir(sb, ['bridge', 'macvlan', 'tuning']);
    const conf = macmuxConf(sb, '1.0.0', [
      { name: 'green', type: 'spy-macvlan', master: sb.bridge('l'), ipam: { type: 'host-local', subnet: '10.251.0.0/24', dataDir: sb.ipamDir } },
      { name: 'blue', plugins: [{ type: 'spy-bridge', bridge: sb.bridgeName('b'), ipam: { type: 'host-local', subnet: '10.252.0.0/24', dataDir: sb.ipamDir } }, { type: 'spy-tuning', sysctl: {} }] },
    ], { binDir: dir });
    (conf.delegates as Array<Record<string, unknown>>)[0]!.type = 'spy-bridge';
    assert.equal(cni('ADD', conf, sb.env('ord1')).status, 0);
    assert.equal(sh('stat', ['-c', '%a', `${sb.cacheDir}/cache/ord1`]).trim(), '600');
    const entry = sb.cacheEntry('ord1');
    assert.equal(entry.format, 1);
    assert.equal(entry.ifName, 'eth0');
    assert.equal(cni('DEL', conf, sb.env('ord1')).status, 0);
    assert.deepEqual(sh('cat', [log]).trim().split('\n'), [
      'ADD eth0 bridge', `ADD ${GREEN} macvlan`, `ADD ${BLUE} bridge`, `ADD ${BLUE} tuning`,
      `DEL ${BLUE} tuning`, `DEL ${BLUE} bridge`, `DEL ${GREEN} macvlan`, 'DEL eth0 bridge',
    ]);
  });

  it('DEL and GC find the plugins where ADD found them, even without CNI_PATH', (t) => {
    const sb = sandbox(t);
    const conf = podConf(sb, '1.1.0');
    for (const d of conf.delegates as Array<Record<string, unknown>>) d.cniVersion = '1.0.0';
    assert.equal(cni('ADD', conf, sb.env('np1')).status, 0);
    const d = cni('DEL', conf, { ...sb.env('np1'), CNI_PATH: undefined });
    assert.equal(d.status, 0, d.stdout);
    assert.deepEqual(linkNames(sb.ns), ['lo']);
    assert.deepEqual(sb.ipamLeases(), []);

    assert.equal(cni('ADD', conf, sb.env('np2')).status, 0);
    const gc = cni('GC', { ...conf, 'cni.dev/valid-attachments': [] }, {});
    assert.equal(gc.status, 0, gc.stdout);
    assert.deepEqual(linkNames(sb.ns), ['lo']);
    assert.deepEqual(sb.cacheEntries(), []);
    assert.deepEqual(sb.ipamLeases(), []);
  });

  it('a plugin uninstalled between ADD and DEL fails the DEL and keeps the cache until it is back', (t) => {
    const sb = sandbox(t);
    const { dir } = spyDir(sb, ['macvlan']);
    const conf = macmuxConf(sb, '1.0.0', [
      { name: 'green', type: 'spy-macvlan', master: sb.bridge('l'), ipam: { type: 'host-local', subnet: '10.251.0.0/24', dataDir: sb.ipamDir } },
    ], { binDir: dir });
    assert.equal(cni('ADD', conf, sb.env('un1')).status, 0);
    sh('mv', [dir, `${dir}.away`]);
    assertCniError(cni('DEL', conf, sb.env('un1')), 7, 'spy-macvlan');
    assert.deepEqual(sb.cacheEntries(), ['un1'], 'cache kept for a retry');
    assert.deepEqual(linkNames(sb.ns), ['lo', GREEN], 'eth0 deleted, green still there');
    assert.equal(sb.ipamLeases().length, 1);
    sh('mv', [`${dir}.away`, dir]);
    assert.equal(cni('DEL', conf, sb.env('un1')).status, 0);
    assert.deepEqual(linkNames(sb.ns), ['lo']);
    assert.deepEqual(sb.cacheEntries(), []);
    assert.deepEqual(sb.ipamLeases(), []);
  });

  it('an ADD on another ifname is refused and a DEL on another ifname touches nothing', (t) => {
    const sb = sandbox(t);
    const conf = podConf(sb, '1.0.0');
    assert.equal(cni('ADD', conf, sb.env('if1')).status, 0);
    assertCniError(cni('ADD', conf, sb.env('if1', 'eth1')), 7, 'already has macmux attachments on eth0');
    const d = cni('DEL', conf, sb.env('if1', 'eth1'));
    assert.equal(d.status, 0, d.stdout);
    assert.deepEqual(linkNames(sb.ns), ['eth0', BLUE, GREEN, 'lo'].sort());
    assert.deepEqual(sb.cacheEntries(), ['if1']);
    assert.equal(cni('DEL', conf, sb.env('if1')).status, 0);
    assert.deepEqual(linkNames(sb.ns), ['lo']);
  });

  it('an ADD after a crashed ADD first removes what the crashed one left', (t) => {
    const sb = sandbox(t);
    const conf = podConf(sb, '1.0.0');
    assert.equal(cni('ADD', conf, sb.env('re1')).status, 0);
    // As if the process died before the final write: the entry still says "adding".
    sh('sh', ['-c', `sed -i 's/"state":"added"/"state":"adding"/' ${sb.cacheDir}/cache/re1`]);
    const r = cni('ADD', conf, sb.env('re1'));
    assert.equal(r.status, 0, r.stdout);
    assert.deepEqual(linkNames(sb.ns), ['eth0', BLUE, GREEN, 'lo'].sort());
    assert.equal(sb.ipamLeases().length, 3, 'old leases released, new ones taken');
    assert.equal(cni('DEL', conf, sb.env('re1')).status, 0);
    assert.deepEqual(sb.ipamLeases(), []);
  });
});
