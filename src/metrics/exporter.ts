// The Prometheus metrics `macmux install` serves: the node's stats file (read at each scrape) plus a periodic census of the node's share of the ledger ConfigMaps.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { census, LEDGER_KINDS, type LedgerKind } from '../mac/census';
import type { Cm } from '../mac/store';
import { storedHistogram, type StoredSeries } from './histogram';
import { readStats, repairStats } from './stats';
import { emptyStats, type Stats } from './stats-merge';

export interface ExporterOptions {
  /** The node's stats file, which every plugin invocation adds to (host state dir + /stats.json). */
  statsFile: string;
  /**
   * Reads the ledger ConfigMaps for one census: in the DaemonSet the node's share (the pool, its homes,
   * one claims shard: install/kube.ts readNodeShare); undefined when the API is not configured.
   */
  readLedger?: () => Promise<Cm[]>;
  /** The node whose share readLedger reads: allocated MACs and free ones are counted at its homes only. */
  node?: string;
  /** Seconds a released MAC stays its owner's (to tell live holdings). */
  graceSec: number;
  /** Seconds between censuses (default 60). */
  scanIntervalSec?: number;
  warn?: (msg: string) => void;
  /** Also serve prom-client's process and Node.js metrics (process_*, nodejs_*); default true. */
  processMetrics?: boolean;
}

export interface Exporter {
  /** The Prometheus text for GET /metrics. */
  metrics(): Promise<string>;
  contentType: string;
  /** Runs a census now (also run every scanIntervalSec once start() was called). */
  scan(): Promise<void>;
  start(): void;
  stop(): void;
}

/** The figures of the last successful census. */
interface Figures {
  poolSize: number;
  blocks: number;
  allocated: number;
  blocksLeased: number;
  nodeFree: number;
  objects: Record<LedgerKind, number>;
  largest: Record<LedgerKind, number>;
  duplicates: string[];
  damaged: number;
  at: number;
}

export function createExporter(opts: ExporterOptions): Exporter {
  const warn = opts.warn ?? (() => undefined);
  const registry = new Registry();
  const registers = [registry];
  let stats: Stats = emptyStats();
  let figures: Figures | undefined;

  // From the ledger census (only when there is an API to read it from).
  const scanErrors = opts.readLedger ? new Counter({ name: 'macmux_ledger_scan_errors_total', help: 'Ledger censuses that failed (the census gauges keep their last values)', registers }) : undefined;
  if (opts.readLedger) {
    const gauge = (name: string, help: string, value: (f: Figures) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(figures ? value(figures) : 0);
        },
      });
    gauge('macmux_pool_size', 'Assignable MACs in the pool range (ConfigMap macmux-pool)', (f) => f.poolSize);
    gauge('macmux_pool_blocks', 'Blocks the pool range is cut into (BLOCK_SIZE MACs each)', (f) => f.blocks);
    gauge('macmux_pool_allocated', "Distinct MACs of the pool range with a live holding (reserved, active, or released within the grace period) at this node's homes: sum over nodes", (f) => f.allocated);
    gauge('macmux_blocks_leased', 'Pool blocks leased to nodes (the whole pool: the same on every node)', (f) => f.blocksLeased);
    if (opts.node !== undefined) gauge('macmux_node_free_macs', "MACs of the blocks leased to this node not held: at 0 its next pool ADD must lease a block (error 101 when none is left)", (f) => f.nodeFree);
    gauge('macmux_duplicate_macs', 'MACs with live holdings of more than one owner in the ledger ConfigMaps this node read', (f) => f.duplicates.length);
    const perKind = (name: string, help: string, value: (f: Figures) => Record<LedgerKind, number>) =>
      new Gauge({
        name,
        help,
        labelNames: ['kind'] as const,
        registers,
        collect() {
          for (const kind of LEDGER_KINDS) this.set({ kind }, figures ? value(figures)[kind] : 0);
        },
      });
    perKind('macmux_ledger_objects', 'Ledger ConfigMaps the last census read, by kind (pool, block, node, claims, owners)', (f) => f.objects);
    perKind('macmux_ledger_largest_object_bytes', 'The largest ledger ConfigMap the last census read of each kind, in bytes of its data as JSON (the API server refuses objects over 1 MiB)', (f) => f.largest);
    gauge('macmux_ledger_damaged_entries', 'Ledger ConfigMap entries that are not holdings or whose keys are not MACs', (f) => f.damaged);
    gauge('macmux_ledger_last_scan_timestamp_seconds', 'When the last successful ledger census ran (0: none yet)', (f) => f.at);
  }

  // From the stats file, as read at this scrape.
  const total = (name: string, help: string, value: (s: Stats) => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(value(stats));
      },
    });
  total('macmux_allocations_total', 'MACs taken for an owner on this node: from the pool, or requested and recorded', (s) => s.allocations);
  total('macmux_releases_total', 'MACs released on this node (at once, or deferred while the API was down)', (s) => s.releases);
  total('macmux_conflicts_total', 'Requested MACs refused on this node because another owner holds them (CNI error 100)', (s) => s.conflicts);
  new Counter({
    name: 'macmux_invocations_total',
    help: 'Plugin invocations on this node by CNI verb, result and CNI error code (0 on success)',
    labelNames: ['verb', 'result', 'code'] as const,
    registers,
    collect() {
      this.reset();
      for (const [verb, byResult] of Object.entries(stats.invocations)) {
        for (const [result, byCode] of Object.entries(byResult)) for (const [code, n] of Object.entries(byCode)) this.inc({ verb, result, code }, n);
      }
    },
  });
  registry.registerMetric(
    storedHistogram('macmux_invocation_duration_seconds', 'Plugin invocation durations on this node by CNI verb and result', (): StoredSeries[] =>
      Object.entries(stats.durations).flatMap(([verb, byResult]) => Object.entries(byResult).map(([result, durations]) => ({ labels: { verb, result }, durations }))),
    ),
  );
  const statsErrors = new Counter({ name: 'macmux_stats_file_errors_total', help: 'Scrapes that found the stats file damaged (moved aside to stats.json.corrupt-<time>) or unreadable', registers });
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry });

  let lastGood = emptyStats();
  /** The stats file now; a damaged one is moved aside (under the lock) and counted, an unreadable one leaves the last good figures. */
  async function loadStats(): Promise<Stats> {
    try {
      let r = readStats(opts.statsFile);
      if (r.kind === 'damaged') {
        statsErrors.inc();
        await repairStats(opts.statsFile, warn).catch((e: Error) => warn(`stats file ${opts.statsFile} is damaged (${r.kind === 'damaged' ? r.reason : ''}) and could not be moved aside: ${e.message}`));
        r = readStats(opts.statsFile);
      }
      if (r.kind !== 'damaged') lastGood = r.kind === 'ok' ? r.stats : emptyStats();
    } catch (e) {
      statsErrors.inc();
      warn(`cannot read the stats file ${opts.statsFile}: ${(e as Error).message}`);
    }
    return lastGood;
  }

  let scanning: Promise<void> | undefined;
  async function scanOnce(): Promise<void> {
    if (!opts.readLedger) return;
    try {
      const c = census(await opts.readLedger(), Math.floor(Date.now() / 1000), opts.graceSec, opts.node !== undefined ? { node: opts.node } : {});
      const duplicates = c.duplicates.map((d) => `${d.mac} (${[...new Set(d.holders.map((h) => `${h.owner} in ${h.cm}`))].join(', ')})`);
      if (duplicates.length > 0 && duplicates.join() !== figures?.duplicates.join()) warn(`ledger census: ${duplicates.length} MAC(s) held by more than one owner: ${duplicates.join('; ')}; run 'macmux doctor'`);
      figures = {
        poolSize: c.poolSize,
        blocks: c.blocks,
        allocated: c.allocated,
        blocksLeased: c.blocksLeased,
        nodeFree: c.nodeFree ?? 0,
        objects: c.objects,
        largest: c.largest,
        duplicates,
        damaged: c.damaged.length,
        at: Math.floor(Date.now() / 1000),
      };
    } catch (e) {
      scanErrors?.inc();
      warn(`ledger census failed, keeping the last figures: ${(e as Error).message}`);
    }
  }

  const scan = () => (scanning ??= scanOnce().finally(() => (scanning = undefined)));
  let timer: NodeJS.Timeout | undefined;
  return {
    contentType: registry.contentType,
    metrics: async () => {
      stats = await loadStats();
      return registry.metrics();
    },
    scan,
    start() {
      if (timer || !opts.readLedger) return;
      void scan();
      timer = setInterval(() => void scan(), (opts.scanIntervalSec ?? 60) * 1000);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
