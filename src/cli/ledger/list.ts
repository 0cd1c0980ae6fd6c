// `macmux ledger list`: every holding recorded in the ledger ConfigMaps, optionally of one node.
import type { Entry } from '../../mac/census';
import { print, table, type CliIo } from '../io';
import { takeCensus, timeText, withSession, type LedgerOpts } from './common';

/** One holding as `list` prints it in JSON. */
export interface ListedHolding {
  mac: string;
  owner: string;
  /** The UID of the owner's pod; absent in holdings written before release 12. */
  uid?: string;
  state: string;
  node: string;
  /** Epoch seconds of its last change. */
  since: number;
  configMap: string;
  /** Reserved or active, or released but still in its owner's grace period. */
  live: boolean;
  /** Recorded at the MAC's home by the home rule; a leftover copy otherwise. */
  atHome: boolean;
}

export const listed = (e: Entry): ListedHolding => ({ mac: e.mac, owner: e.owner, ...(e.uid !== undefined ? { uid: e.uid } : {}), state: e.state, node: e.node, since: e.since, configMap: e.cm, live: e.live, atHome: e.atHome });

export function holdingsTable(rows: ListedHolding[]): string {
  return table(
    ['MAC', 'OWNER', 'STATE', 'NODE', 'SINCE', 'CONFIGMAP', 'LIVE', 'WHERE'],
    rows.map((h) => [h.mac, h.owner, h.state, h.node, timeText(h.since), h.configMap, h.live ? 'yes' : 'no', h.atHome ? 'home' : 'leftover']),
  );
}

export async function list(io: CliIo, opts: LedgerOpts): Promise<void> {
  await withSession(io, opts, async (x) => {
    const { c } = await takeCensus(x);
    // --node filters here; without it every node's holdings are listed.
    const rows = c.entries.filter((e) => opts.node === undefined || e.node === opts.node).map(listed);
    print(io, opts.output, rows, () => (rows.length ? holdingsTable(rows) : `no holdings${opts.node ? ` of node ${opts.node}` : ''} in namespace ${x.s.namespace}\n`));
  });
}
