import type { Account } from '../lib/directory/directory.js';
import type { ReadRouter, RoutedRead } from '../lib/replica/read-router.js';
import type { RouteReason } from '../lib/replica/read-route.js';
import type { MetricName } from '../lib/shard/metric-dictionary.js';
import { mergeInto } from '../lib/timeslice/timeslice.js';
import type { SeriesReader, SeriesResult } from './series-reader.js';
import type { TimeWindow } from './time-window.js';

/** Where an answer was read from: the `freshness` of every time-series answer (docs/api.md). */
export interface ReadRouting {
  reason: RouteReason;
  /** Consecutive parts of the window and the server each was read from (replica: its host:port). */
  readFrom: Array<{ target: 'primary' | 'replica'; replica?: string; from: number; to: number }>;
  /** Heartbeat lag of the replica used, seconds. */
  replicaLagSeconds?: number;
  /** Data from here on may be older than the primary's (every replica lagged and the edge was bounded). */
  staleFrom?: number;
}

export type RoutedSeriesResult = SeriesResult & { routing?: ReadRouting };

/**
 * Reads a window through the read router: each part of the route from its own server (a replica for
 * the old part, the primary for the edge), merged into one result. Parts split on bucket boundaries and
 * never overlap, so merging is exact (each bucket's rows come from one server).
 */
export async function readRouted(
  router: ReadRouter,
  routed: RoutedRead,
  reader: SeriesReader,
  account: Account,
  applicationId: number,
  metrics: ReadonlyArray<MetricName & { id?: number }>,
  window: TimeWindow,
  now: number,
  mode: 'series' | 'total',
): Promise<RoutedSeriesResult> {
  const { result, route } = await router.run(routed, async (parts) => {
    const results: SeriesResult[] = [];
    // A part on another server may know other metric ids: ids are per shard and replicated, so the
    // (name, scope) pairs are resolved again on each server.
    const named = metrics.map((m) => ({ name: m.name, scope: m.scope }));
    for (const p of parts) results.push(await reader.read(p.store, account, applicationId, parts.length > 1 ? named : metrics, window, now, mode, { from: p.from, to: p.to }));
    return mergeResults(results);
  });
  // No replica registered: the answer stays as it always was (read from the primary).
  if (route.reason === 'no_replica') return result;
  return {
    ...result,
    routing: {
      reason: route.reason,
      readFrom: route.parts.map((p) => ({ target: p.target, ...(p.replica ? { replica: p.replica } : {}), from: p.from, to: p.to })),
      ...(route.replicaLagSeconds !== undefined ? { replicaLagSeconds: Math.round(route.replicaLagSeconds * 1000) / 1000 } : {}),
      ...(route.staleFrom !== undefined ? { staleFrom: route.staleFrom } : {}),
    },
  };
}

/** Merges results of disjoint reads (parts of a window, or agents of one host) into the first: per metric and bucket, as the SQL would. */
export function mergeResults(results: SeriesResult[]): SeriesResult {
  const [first, ...rest] = results;
  if (!first) throw new Error('BUG: a routed read has no part');
  for (const r of rest) {
    for (const [key, series] of r.data) {
      const into = first.data.get(key);
      if (!into) {
        first.data.set(key, series);
        continue;
      }
      for (const [bucket, t] of series) {
        const prev = into.get(bucket);
        if (prev) mergeInto(prev, t);
        else into.set(bucket, t);
      }
    }
    first.stitchedHours = [...first.stitchedHours, ...r.stitchedHours].sort((a, b) => a - b);
    first.unrolledHours = [...first.unrolledHours, ...r.unrolledHours].sort((a, b) => a - b);
    for (const k of ['minute', 'hour', 'day'] as const) first.tablesRead[k] += r.tablesRead[k];
  }
  return first;
}
