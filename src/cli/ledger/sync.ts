// `macmux ledger sync`: on this node, under its ledger lock, the sync every plugin invocation starts with, on demand.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { journalDir } from '../../mac/journal';
import type { SyncChange } from '../../mac/session';
import { CliFailure, Exit, print, table, type CliIo } from '../io';
import { withSession, type LedgerOpts } from './common';

const WHAT: Record<SyncChange['change'], string> = {
  pushed: 'release deferred while the API was down, now pushed',
  reclaimed: 'held by an ADD that died, released',
  forgotten: 'grace period over, dropped from the journal',
  'intent-dropped': 'allocation intent of an ADD that died, dropped (no MAC was taken)',
};

export async function syncCmd(io: CliIo, opts: LedgerOpts): Promise<void> {
  await withSession(io, opts, async (x) => {
    const { s } = x;
    if (!existsSync(s.cacheDir)) {
      throw new CliFailure(Exit.NotFound, `no macmux state dir ${s.cacheDir} on this machine: run \`/opt/cni/bin/macmux ledger sync\` on that node (e.g. kubectl debug node/<node> -it --image=busybox -- chroot /host /opt/cni/bin/macmux ledger sync), or pass --config with that node's conflist`);
    }
    let changes: SyncChange[] = [];
    if (existsSync(journalDir(s.cacheDir))) {
      const { syncNode } = await import('../../mac/session');
      const conf = s.conf;
      changes = await syncNode(
        {
          conf: {
            cacheDir: s.cacheDir,
            lockTimeout: conf?.lockTimeout ?? 30,
            macNamespace: s.namespace,
            macGracePeriod: s.graceSec,
            ...(conf?.macPool ? { macPool: conf.macPool } : {}),
          },
          log: { info: () => {}, error: (m) => io.err(`macmux: ${m}\n`) },
          node: s.node,
        },
        x.api,
      );
    }
    const out = { node: s.node, journal: join(journalDir(s.cacheDir), 'journal.json'), changes };
    print(io, opts.output, out, () =>
      changes.length === 0
        ? `node ${s.node}: nothing to sync (${out.journal})\n`
        : table(['CHANGE', 'MAC', 'OWNER', 'CONTAINER', 'WHAT'], changes.map((c) => [c.change, c.mac ?? '-', c.owner, c.containerID, WHAT[c.change]])),
    );
  });
}
