// `macmux install --listen`: which addresses it accepts, and that without it the endpoint stays on this host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildProgram } from '../../src/cli/program';
import { parseListen } from '../../src/install/paths';
import { CliFailure, Exit } from '../../src/cli/io';

test('--listen takes ip:port, [ip]:port for either family, and :port for every address', () => {
  assert.deepEqual(parseListen('127.0.0.1:9733'), { host: '127.0.0.1', port: 9733 });
  assert.deepEqual(parseListen('10.1.2.3:0'), { host: '10.1.2.3', port: 0 });
  assert.deepEqual(parseListen('[10.1.2.3]:9733'), { host: '10.1.2.3', port: 9733 }, 'the DaemonSet form [$(POD_IP)]:9733 on an IPv4 node');
  assert.deepEqual(parseListen('[fd00::5]:9733'), { host: 'fd00::5', port: 9733 }, 'and on an IPv6 node');
  assert.deepEqual(parseListen(':9733'), { host: '0.0.0.0', port: 9733 });
  assert.deepEqual(parseListen('0.0.0.0:9733'), { host: '0.0.0.0', port: 9733 });
  assert.deepEqual(parseListen('[::]:9733'), { host: '::', port: 9733 });
});

test('--listen refuses names, unexpanded variables, IPv6 without brackets and bad ports, as a usage error naming the flag', () => {
  const refused = (addr: string, why: RegExp) =>
    assert.throws(() => parseListen(addr), (e: unknown) => {
      assert.ok(e instanceof CliFailure, String(e));
      assert.equal(e.exit, Exit.Usage);
      assert.ok(e.message.startsWith(`--listen ${addr}: `), e.message);
      assert.match(e.message, why);
      return true;
    });
  refused('[$(POD_IP)]:9733', /\$\(POD_IP\) was not expanded.*status\.podIP/);
  refused('$(POD_IP):9733', /was not expanded/);
  refused('localhost:9733', /localhost is not an IP address/);
  refused('[]:9733', / is not an IP address/);
  refused('node-a.example:9733', /not an IP address/);
  refused('fd00::5:9733', /give ip:port/);
  refused('127.0.0.1', /give ip:port/);
  refused('127.0.0.1:65536', /give ip:port/);
  refused('127.0.0.1:123456', /give ip:port/);
  refused('127.0.0.1:-1', /give ip:port/);
});

test('without --listen, install serves on the loopback address only', () => {
  const sink = () => undefined;
  const install = buildProgram({ out: sink, err: sink, getenv: () => undefined }).commands.find((c) => c.name() === 'install')!;
  const listen = install.options.find((o) => o.long === '--listen');
  assert.equal(listen?.defaultValue, '127.0.0.1:9733');
  assert.equal(parseListen(listen.defaultValue as string).host, '127.0.0.1');
});
