// The Prometheus metrics `macmux install` serves: the node's stats file (read at each scrape) plus a periodic census of the ledger ConfigMaps.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { census } from '../mac/census';
import type { Cm } from '../mac/store';
import { storedHistogram, type StoredSeries } from './histogram';
import { readStats, repairStats } from './stats';
import { emptyStats, type Stats } from './stats-merge';

export interface ExporterOptions {
  /** The node's stats file, which every plugin invocation adds to (host state dir + /stats.json). */
  statsFile: string;
  /** Reads every ledger ConfigMap (label macmux.io/ledger) for the census; undefined when the API is not configured. */
  listLedger?: () => Promise<Cm[]>;
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
  allocated: number;
  blocksLeased: number;
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
  const scanErrors = opts.listLedger ? new Counter({ name: 'macmux_ledger_scan_errors_total', help: 'Ledger censuses that failed (the census gauges keep their last values)', registers }) : undefined;
  if (opts.listLedger) {
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
    gauge('macmux_pool_allocated', 'Distinct MACs of the pool range with a live holding (reserved, active, or released within the grace period)', (f) => f.allocated);
    gauge('macmux_blocks_leased', 'Pool blocks leased to nodes', (f) => f.blocksLeased);
    gauge('macmux_duplicate_macs', 'MACs with live holdings of more than one owner in the ledger ConfigMaps', (f) => f.duplicates.length);
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
    if (!opts.listLedger) return;
    try {
      const c = census(await opts.listLedger(), Math.floor(Date.now() / 1000), opts.graceSec);
      const duplicates = c.duplicates.map((d) => `${d.mac} (${[...new Set(d.holders.map((h) => `${h.owner} in ${h.cm}`))].join(', ')})`);
      if (duplicates.length > 0 && duplicates.join() !== figures?.duplicates.join()) warn(`ledger census: ${duplicates.length} MAC(s) held by more than one owner: ${duplicates.join('; ')}; run 'macmux doctor'`);
      figures = { poolSize: c.poolSize, allocated: c.allocated, blocksLeased: c.blocksLeased, duplicates, damaged: c.damaged.length, at: Math.floor(Date.now() / 1000) };
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
      if (timer || !opts.listLedger) return;
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
