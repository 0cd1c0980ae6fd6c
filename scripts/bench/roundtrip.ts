// Sections 2, 3 and 5: ADD+DEL of the pod through macmux against its recorded delegate calls on the bare plugins, and DEL from the cache with the API down; interleaved run by run.
import { join } from 'node:path';
import { readCaptured, replay, writeShims, type Invocation, type Target } from './capture';
import { PLUGIN_DIR, type PodWorld } from './pod-world';
import { ok } from './proc';

export interface Recorded {
  calls: Invocation[];
  from: Target;
}

/** One ADD+DEL through macmux with shim plugins in binDir: the delegate calls (stdin, env) the bare side replays. */
export async function record(w: PodWorld): Promise<Recorded> {
  const bin = join(w.sb.dir, 'shims');
  const out = join(w.sb.dir, 'captured');
  writeShims(bin, out, PLUGIN_DIR, ['bridge', 'macvlan']);
  const conf = w.conf('mmbench-record', { binDir: bin });
  const ns = w.sb.netns('rec');
  const { env, containerID } = w.pod('record', ns);
  ok(await w.macmux('ADD', conf, env));
  ok(await w.macmux('DEL', conf, env));
  w.sb.dropNetns(ns);
  const calls = readCaptured(out);
  const adds = calls.filter((c) => c.command === 'ADD').length;
  const dels = calls.filter((c) => c.command === 'DEL').length;
  if (adds !== 3 || dels !== 3) throw new Error(`expected macmux to make 3 delegate ADDs and 3 DELs for the pod, recorded ${adds} and ${dels}: ${calls.map((c) => `${c.type} ${c.command}`).join(', ')}`);
  return { calls, from: { containerID, netns: `/run/netns/${ns}` } };
}

export interface RoundTrips {
  add: number[];
  del: number[];
  total: number[];
  addRssKiB: number[];
  bareAdd: number[];
  bareDel: number[];
  bareTotal: number[];
}

const sum = (xs: { ms: number }[]) => xs.reduce((a, r) => a + r.ms, 0);

/** Section 2 (and 5: ADD's peak RSS): `runs` pods, each a fresh netns; macmux and the bare delegates alternate which goes first. */
export async function roundTrips(w: PodWorld, rec: Recorded, runs: number): Promise<RoundTrips> {
  const s: RoundTrips = { add: [], del: [], total: [], addRssKiB: [], bareAdd: [], bareDel: [], bareTotal: [] };
  const conf = w.conf('mmbench-rt');
  const viaMacmux = async (keep: boolean) => {
    const ns = w.sb.netns('m');
    try {
      const { env } = w.pod('rt', ns);
      const add = ok(await w.macmux('ADD', conf, env, true));
      const del = ok(await w.macmux('DEL', conf, env));
      if (keep) {
        s.add.push(add.ms);
        s.del.push(del.ms);
        s.total.push(add.ms + del.ms);
        s.addRssKiB.push(add.rssKiB ?? NaN);
      }
    } finally {
      w.sb.dropNetns(ns);
    }
  };
  const bare = async (i: number, keep: boolean) => {
    const ns = w.sb.netns('b');
    try {
      const to = { containerID: `${w.sb.prefix}bare-${i}`, netns: `/run/netns/${ns}` };
      const add = sum(await replay(rec.calls, 'ADD', rec.from, to, PLUGIN_DIR));
      const del = sum(await replay(rec.calls, 'DEL', rec.from, to, PLUGIN_DIR));
      if (keep) {
        s.bareAdd.push(add);
        s.bareDel.push(del);
        s.bareTotal.push(add + del);
      }
    } finally {
      w.sb.dropNetns(ns);
    }
  };
  await viaMacmux(false);
  await bare(-1, false);
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      await viaMacmux(true);
      await bare(i, true);
    } else {
      await bare(i, true);
      await viaMacmux(true);
    }
  }
  return s;
}

export interface CachedDels {
  del: number[];
  bareDel: number[];
}

/**
 * Section 3: each run ADDs a pod (API up, not timed), then times its DEL with the API down (the
 * kubeconfig points at a closed port), against the bare delegates' DELs after their own ADDs.
 */
export async function cachedDels(w: PodWorld, rec: Recorded, runs: number): Promise<CachedDels> {
  const s: CachedDels = { del: [], bareDel: [] };
  const up = w.conf('mmbench-cache');
  const down = w.conf('mmbench-cache', { apiDown: true });
  const viaMacmux = async () => {
    const ns = w.sb.netns('d');
    try {
      const { env } = w.pod('dc', ns);
      ok(await w.macmux('ADD', up, env));
      const del = ok(await w.macmux('DEL', down, env));
      s.del.push(del.ms);
    } finally {
      w.sb.dropNetns(ns);
    }
  };
  const bare = async (i: number) => {
    const ns = w.sb.netns('e');
    try {
      const to = { containerID: `${w.sb.prefix}bdel-${i}`, netns: `/run/netns/${ns}` };
      await replay(rec.calls, 'ADD', rec.from, to, PLUGIN_DIR);
      const del = sum(await replay(rec.calls, 'DEL', rec.from, to, PLUGIN_DIR));
      s.bareDel.push(del);
    } finally {
      w.sb.dropNetns(ns);
    }
  };
  // No warm-up run: section 2 ran the same binary and plugins just before.
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      await viaMacmux();
      await bare(i);
    } else {
      await bare(i);
      await viaMacmux();
    }
  }
  return s;
}
