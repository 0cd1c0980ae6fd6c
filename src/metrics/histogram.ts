// A histogram served from stored bucket counts: prom-client's Histogram can only observe, so this is a minimal metric object its Registry prints.
import type { Metric } from 'prom-client';
import { BUCKETS, cumulative, type Durations } from './stats-merge';

export interface StoredSeries {
  labels: Record<string, string>;
  durations: Durations;
}

/**
 * What Registry.registerMetric and getMetricsAsString use: name, help, type and get() returning
 * values with their full metric names (_bucket with le, _sum, _count), as prom-client's own
 * Histogram does. The cast is needed because prom-client types a metric as one of its classes.
 */
export function storedHistogram(name: string, help: string, series: () => StoredSeries[]): Metric {
  const values = (): Array<{ metricName: string; labels: Record<string, string>; value: number }> =>
    series().flatMap(({ labels, durations }) => {
      const cum = cumulative(durations);
      return [
        ...BUCKETS.map((le, i) => ({ metricName: `${name}_bucket`, labels: { ...labels, le: String(le) }, value: cum[i]! })),
        { metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: durations.count },
        { metricName: `${name}_sum`, labels, value: durations.sum },
        { metricName: `${name}_count`, labels, value: durations.count },
      ];
    });
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => ({ name, help, type: 'histogram', aggregator: 'sum', values: values() }),
    reset: () => undefined,
  };
  return metric as unknown as Metric;
}
