// A malformed CNI environment: missing or empty variables, a bad CNI_COMMAND, CNI_IFNAME, CNI_CONTAINERID, CNI_NETNS or CNI_PATH.
import type { Rng } from './rng';
import { baseConf, cniEnv, containerIdOf } from './base';
import type { CaseBody, Expect, Frame } from './types';
import { badIfName } from './values';

const REQUIRED = ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'];
const BAD_COMMANDS = ['', 'add', 'Add', 'ADD ', ' ADD', 'ADDD', 'DELETE', 'UPDATE', 'version', 'ADD\t', '\uff21\uff24\uff24', 'ADD;DEL', '1', 'ADD\n', 'GET'];
const BAD_IDS = ['-abc', '.abc', '_abc', 'a/b', '../etc', 'a b', 'a:b', 'abc\u00e9', 'a;b', 'a\nb', '*', '/abs', 'a\\b', '..'];

type Env = Record<string, string | undefined>;

interface Broken {
  what: string;
  expect: Expect;
  command?: string;
  /** Changes the runtime's env; `f` and the case's container ID at hand. */
  edit(env: Env, f: Frame): void;
  /** Without the pod in CNI_ARGS: a failure that only a delegate can see must not reach the ledger. */
  static?: boolean;
}

function broken(rng: Rng, index: number): Broken {
  return rng.pick<() => Broken>([
    () => {
      const gone = rng.shuffle(REQUIRED).slice(0, rng.int(1, 4));
      const empty = rng.chance(0.4);
      return {
        what: `${gone.join(', ')} ${empty ? 'empty' : 'missing'}`,
        expect: { codes: [4], mention: gone },
        edit: (env) => {
          for (const k of gone) env[k] = empty ? '' : undefined;
        },
      };
    },
    () => {
      const c = rng.pick(BAD_COMMANDS);
      return { what: `CNI_COMMAND ${JSON.stringify(c)}`, expect: { codes: [4], mention: ['CNI_COMMAND'] }, command: c, edit: () => undefined };
    },
    () => {
      const { name, why } = badIfName(rng);
      return { what: `CNI_IFNAME ${JSON.stringify(name)} (${why})`, expect: { codes: [4], mention: ['CNI_IFNAME'] }, edit: (env) => (env.CNI_IFNAME = name) };
    },
    () => {
      const id = rng.chance(0.25) ? `c${'0123456789abcdef'.repeat(rng.int(13, 300))}` : rng.pick(BAD_IDS);
      return { what: `CNI_CONTAINERID ${JSON.stringify(id.slice(0, 40))}${id.length > 40 ? ` (${id.length} characters)` : ''}`, expect: { codes: [4], mention: ['CNI_CONTAINERID'] }, edit: (env) => (env.CNI_CONTAINERID = id) };
    },
    () => {
      const ns = rng.pick(['netns', 'run/netns/x', './x', '../run/netns/x', '~/netns', 'fuzz']);
      return { what: `CNI_NETNS ${JSON.stringify(ns)} (not an absolute path)`, expect: { codes: [4], mention: ['CNI_NETNS'] }, edit: (env) => (env.CNI_NETNS = ns) };
    },
    () => {
      const ns = rng.pick([`/run/netns/fz-none-${index}`, '/etc/hostname', '/tmp', `/proc/999999999/ns/net`]);
      // The delegate is the one to open the netns; its error (code 999 from a Go plugin) is passed on with its name.
      return { what: `CNI_NETNS ${ns} (not a network namespace)`, expect: { codes: [999], mention: ['macvlan (cluster) ADD', 'netns'] }, static: true, edit: (env) => (env.CNI_NETNS = ns) };
    },
    () => ({ what: 'CNI_PATH with no directory in it', expect: { codes: [4], mention: ['CNI_PATH'] }, static: true, edit: (env) => (env.CNI_PATH = rng.pick([':', ':::', '::'])) }),
    () => ({ what: 'CNI_PATH without the plugins', expect: { codes: [7], mention: ['macvlan', 'not found'] }, static: true, edit: (env) => (env.CNI_PATH = `/nonexistent-${index}:/tmp`) }),
  ])();
}

export function envCase(rng: Rng, index: number): CaseBody {
  const b = broken(rng, index);
  return {
    what: b.what,
    expect: b.expect,
    build: (f) => {
      const cid = containerIdOf(index);
      const env = b.static ? cniEnv(f, cid, 'IgnoreUnknown=1') : cniEnv(f, cid);
      b.edit(env, f);
      return { command: b.command ?? 'ADD', stdin: JSON.stringify(baseConf(f)), env, budget: 10 };
    },
  };
}
