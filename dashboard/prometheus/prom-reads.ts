import type { Account } from '../../lib/directory/directory.js';
import { mergeCounts, type BucketCounts } from '../../lib/distribution/log-buckets.js';
import type { ReadRouter, RoutedPart } from '../../lib/replica/read-router.js';
import type { MetricName } from '../../lib/shard/metric-dictionary.js';
import type { ShardStore } from '../../lib/shard/shard-store.js';
import { readDistribution } from '../percentiles.js';
import type { Resolution } from '../resolution.js';
import { mergeResults } from '../routed-read.js';
import type { SeriesReader, SeriesResult } from '../series-reader.js';

/**
 * The Prometheus API's reads, through the dashboard's read router when read replicas are registered
 * (lib/replica/read-router.ts, as the read API's routed-read.ts): the old part of the window from a
 * replica whose lag allows it, the edge from the primary, a failed replica read again from the
 * primary. Parts split on bucket boundaries, so merging them is exact. Without a router (or replica)
 * everything is read from the account's primary store.
 */
export interface ReadContext {
  reader: SeriesReader;
  /** The account's primary shard store. */
  store: ShardStore;
  account: Account;
  router?: ReadRouter;
  /** Unix seconds. */
  now: number;
  /** Told of every read (self-metrics) and of the route taken when a replica was involved. */
  onRead: (r: SeriesResult) => void;
  onRoute?: (reason: string, staleFrom: number | undefined) => void;
}

type Metric = MetricName & { id: number };

async function routed<T>(c: ReadContext, resolution: Resolution, fn: (parts: Array<{ store: ShardStore; from?: number; to?: number }>) => Promise<T>): Promise<T> {
  if (!c.router) return fn([{ store: c.store }]);
  const route = await c.router.route(c.store, c.account.id, { from: resolution.from, to: resolution.to, step: resolution.step }, c.now);
  const { result, route: taken } = await c.router.run(route, (parts: RoutedPart[]) => fn(parts));
  if (taken.reason !== 'no_replica') c.onRoute?.(taken.reason, taken.staleFrom);
  return result;
}

/** Metric ids are per shard (replicated): a read split over servers names the metrics instead. */
const named = (metrics: readonly Metric[], split: boolean) => (split ? metrics.map((m) => ({ name: m.name, scope: m.scope })) : metrics);

/** Timeslice rows of `metrics` (application-wide, or one agent's) at `resolution`. */
export async function readSeries(c: ReadContext, appId: number, metrics: readonly Metric[], resolution: Resolution, sumMetrics: boolean, agentId?: number): Promise<SeriesResult> {
  return routed(c, resolution, async (parts) => {
    const results: SeriesResult[] = [];
    for (const p of parts) {
      const rows = p.from !== undefined && p.to !== undefined ? { from: p.from, to: p.to } : undefined;
      const r = await c.reader.readAt(p.store, c.account, appId, named(metrics, parts.length > 1), resolution, 'series', sumMetrics, rows, agentId);
      c.onRead(r);
      results.push(r);
    }
    return mergeResults(results);
  });
}

/** Distribution bucket counts of one metric by bucket start (the tables beside the timeslice tables read). */
export async function readDistributionSeries(c: ReadContext, appId: number, metric: Metric, resolution: Resolution, agentId?: number): Promise<Map<number, BucketCounts>> {
  return routed(c, resolution, async (parts) => {
    const out = new Map<number, BucketCounts>();
    for (const p of parts) {
      const rows = p.from !== undefined && p.to !== undefined ? { from: p.from, to: p.to } : undefined;
      const r = await c.reader.readAt(p.store, c.account, appId, named([metric], parts.length > 1), resolution, 'series', false, rows, agentId);
      c.onRead(r);
      if (!r.segments || r.segments.length === 0) continue;
      const id = parts.length > 1 ? (await p.store.findMetrics(c.account.id, { names: [metric.name], scope: metric.scope })).find((m) => m.scope === metric.scope)?.id : metric.id;
      if (id === undefined) continue;
      for (const [t, counts] of (await readDistribution(p.store, r, id)).byBucket) {
        const into = out.get(t) ?? new Map<number, number>();
        out.set(t, into);
        mergeCounts(into, counts);
      }
    }
    return out;
  });
}
