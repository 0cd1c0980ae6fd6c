// The Prometheus metrics `macmux install` serves: the node's stats file plus a periodic census of the ledger ConfigMaps (stub: filled in by the metrics work).
import type { Cm } from '../mac/store';

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

export function createExporter(_opts: ExporterOptions): Exporter {
  return {
    metrics: async () => '',
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
    scan: async () => {},
    start: () => {},
    stop: () => {},
  };
}
