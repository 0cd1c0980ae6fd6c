// `macmux ledger show <mac>`: the MAC's home and holding there, leftover copies, this node's journal entry and history.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { poolView } from '../../mac/pool';
import { homeOf, POOL_CM } from '../../mac/home';
import { historyFile, readHistory, type HistoryRecord } from '../../mac/history';
import { journalDir, type JournalEntry } from '../../mac/journal';
import { macToInt } from '../../mac/range';
import { CliFailure, Exit, print, type CliIo } from '../io';
import { macArg, takeCensus, timeText, withSession, type LedgerOpts } from './common';
import { listed, type ListedHolding } from './list';

export interface Shown {
  mac: string;
  /** Its home ConfigMap by the home rule; null without a pool ConfigMap. */
  home: string | null;
  /** The holding at its home, if any. */
  holding: ListedHolding | null;
  /** Copies recorded elsewhere (a claim left in the pool, a stray copy). */
  leftovers: ListedHolding[];
  /** This node's journal (cacheDir/ledger/journal.json): its entry for the MAC, when the journal is readable. */
  journal: { file: string; node: string; readable: boolean; entry: JournalEntry | null; error?: string };
  /** This node's log of changes to the MAC (not the cluster's: each node keeps its own). */
  history: { source: string; file: string; records: HistoryRecord[] };
}

function journalEntry(cacheDir: string, mac: string): { readable: boolean; entry: JournalEntry | null; error?: string } {
  try {
    const j = JSON.parse(readFileSync(join(journalDir(cacheDir), 'journal.json'), 'utf8')) as { entries?: Record<string, JournalEntry> };
    return { readable: true, entry: j.entries?.[mac] ?? null };
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    return { readable: false, entry: null, error: missing ? 'no journal on this machine' : (e as Error).message };
  }
}

export async function show(io: CliIo, macText: string, opts: LedgerOpts): Promise<void> {
  const mac = macArg(macText);
  await withSession(io, opts, async (x) => {
    const { cms, c } = await takeCensus(x);
    const entries = c.entries.filter((e) => e.mac === mac);
    const poolCm = cms.find((cm) => cm.name === POOL_CM);
    const pool = poolCm && poolView(poolCm);
    const home = pool ? homeOf(mac, macToInt(mac), pool.spec, pool.leases) : null;
    const at = entries.find((e) => e.atHome);
    let history: HistoryRecord[] = [];
    try {
      history = readHistory(x.s.cacheDir, mac);
    } catch (e) {
      io.err(`macmux: cannot read ${historyFile(x.s.cacheDir)}: ${(e as Error).message}\n`);
    }
    const journal = { file: join(journalDir(x.s.cacheDir), 'journal.json'), node: x.s.node, ...journalEntry(x.s.cacheDir, mac) };
    if (entries.length === 0 && history.length === 0 && !journal.entry) {
      throw new CliFailure(Exit.NotFound, `MAC ${mac}: no ledger ConfigMap in namespace ${x.s.namespace} records it and this node's history (${historyFile(x.s.cacheDir)}) has nothing about it; check --namespace, or \`macmux ledger list\``);
    }
    const shown: Shown = {
      mac,
      home,
      holding: at ? listed(at) : null,
      leftovers: entries.filter((e) => !e.atHome).map(listed),
      journal,
      history: { source: "this node's log", file: historyFile(x.s.cacheDir), records: history },
    };
    print(io, opts.output, shown, () => render(shown));
  });
}

const holdingText = (h: ListedHolding) => `${h.state} by ${h.owner}${h.uid ? ` (uid ${h.uid})` : ''} on node ${h.node} since ${timeText(h.since)}${h.live ? '' : ' (free)'}`;

function render(s: Shown): string {
  const lines = [`MAC       ${s.mac}`, `home      ${s.home ?? '(no macmux-pool ConfigMap)'}`];
  lines.push(`holding   ${s.holding ? holdingText(s.holding) : 'none at its home'}`);
  for (const l of s.leftovers) lines.push(`leftover  ${l.configMap}: ${holdingText(l)}`);
  const j = s.journal;
  const e = j.entry;
  lines.push(
    `journal   ${j.readable ? (e ? `${e.state} by ${e.owner}, container ${e.containerID}, since ${timeText(e.since)}${e.pendingRelease ? ', release pending (run macmux ledger sync)' : ''}` : 'no entry') : (j.error ?? 'unreadable')} (node ${j.node}, ${j.file})`,
  );
  lines.push(`history   ${s.history.records.length ? '' : 'none '}(${s.history.source}, ${s.history.file})`);
  for (const r of s.history.records) lines.push(`  ${r.time}  ${r.event.padEnd(16)}  ${r.owner}  node ${r.node}${r.containerID ? `  container ${r.containerID}` : ''}${r.force ? '  (forced)' : ''}`);
  return `${lines.join('\n')}\n`;
}
