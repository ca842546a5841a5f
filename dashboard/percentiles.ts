import type { RowDataPacket } from 'mysql2/promise';
import { distReadSql, type DistBucketRow } from '../lib/distribution/dist-sql.js';
import { distTableOf, existingDistTables } from '../lib/distribution/dist-tables.js';
import { mergeCounts, PERCENTILE_NAMES, PERCENTILES, quantiles, RELATIVE_ERROR, type BucketCounts } from '../lib/distribution/log-buckets.js';
import type { ShardStore } from '../lib/shard/shard-store.js';
import type { ReadSegment } from './read-plan.js';
import type { SeriesResult } from './series-reader.js';

/**
 * Percentiles of one metric from its distribution rows (schema/shard/0009), read through the same
 * plan as its timeslices: each segment's timeslice table has its distribution table beside it (same
 * kind and span; minute, hour or day rows), summed per bucket into the answer's points. A metric
 * without distribution rows in the window has no percentiles (undefined).
 *
 * Estimates: distributions of New Relic transaction metrics (`WebTransaction…`, `OtherTransaction…`)
 * come from the agent's transaction events (analytic_event_data), a sample the agent keeps of the
 * transactions it saw: their percentiles are estimates, labelled so.
 */
export interface Percentiles {
  p50: Array<number | null>;
  p75: Array<number | null>;
  p95: Array<number | null>;
  p99: Array<number | null>;
  summary: Record<(typeof PERCENTILE_NAMES)[number], number | null>;
  /** Values counted in the window (for estimates: the sampled events). */
  count: number;
  /** Relative error bound of each value against the exact percentile of the values counted. */
  relativeError: number;
  estimate: boolean;
  estimateNote?: string;
  /** For estimates: transaction events the agent sent of those it saw, in the window (when known). */
  sampled?: { seen: number; sent: number };
}

export const isSampledEstimate = (name: string) => /^(WebTransaction|OtherTransaction)(\/|$)/.test(name);

/** Bucket start → bucket counts (one metric, one agent), and the whole window merged. */
export async function readDistribution(store: ShardStore, r: SeriesResult, metricId: number): Promise<{ byBucket: Map<number, BucketCounts>; total: BucketCounts }> {
  const byBucket = new Map<number, BucketCounts>();
  const total: BucketCounts = new Map();
  const segments = r.segments ?? [];
  if (segments.length === 0 || r.agentId === undefined) return { byBucket, total };
  const exists = await existingDistTables(store, [...new Set(segments.map((s) => distTableOf(s.table)!).filter(Boolean))]);
  const readable = segments.filter((s) => exists.has(distTableOf(s.table)!));
  if (readable.length === 0) return { byBucket, total };
  const step = r.resolution.step;
  const q = distReadSql(readable.map((s: ReadSegment) => ({ table: distTableOf(s.table)!, from: s.from, to: s.to })), step, metricId, r.agentId);
  const [rows] = await store.pool.query<Array<RowDataPacket & DistBucketRow>>(q.sql, q.params);
  for (const row of rows) {
    const t = Number(row.t);
    const b = Number(row.bucket);
    const n = Number(row.n);
    const counts = byBucket.get(t) ?? new Map<number, number>();
    byBucket.set(t, counts);
    counts.set(b, (counts.get(b) ?? 0) + n);
  }
  for (const c of byBucket.values()) mergeCounts(total, c);
  return { byBucket, total };
}

export function percentilesOf(name: string, buckets: readonly number[], d: { byBucket: Map<number, BucketCounts>; total: BucketCounts }): Percentiles | undefined {
  if (d.total.size === 0) return undefined;
  const out = { p50: [], p75: [], p95: [], p99: [] } as Record<(typeof PERCENTILE_NAMES)[number], Array<number | null>>;
  for (const b of buckets) {
    const c = d.byBucket.get(b);
    const q = c ? quantiles(c, PERCENTILES) : PERCENTILES.map(() => null);
    PERCENTILE_NAMES.forEach((k, i) => out[k].push(q[i]!));
  }
  const whole = quantiles(d.total, PERCENTILES);
  const summary = Object.fromEntries(PERCENTILE_NAMES.map((k, i) => [k, whole[i]!])) as Percentiles['summary'];
  const estimate = isSampledEstimate(name);
  let count = 0;
  for (const n of d.total.values()) count += n;
  return {
    ...out,
    summary,
    count,
    relativeError: RELATIVE_ERROR,
    estimate,
    ...(estimate ? { estimateNote: "Estimated from the agent's transaction events: a sample of the transactions it saw (it reports how many it saw and kept)." } : {}),
  };
}

/** Percentiles of several application-wide (scope '') metrics read beside `r`: key → percentiles or null. */
export async function percentilesByName(store: ShardStore, accountId: number, r: SeriesResult, names: Readonly<Record<string, string>>): Promise<Record<string, Percentiles | null>> {
  const found = await store.findMetrics(accountId, { names: Object.values(names), scope: '' });
  const idOf = new Map(found.filter((m) => m.scope === '').map((m) => [m.name, m.id]));
  const out: Record<string, Percentiles | null> = {};
  for (const [key, name] of Object.entries(names)) {
    const id = idOf.get(name);
    out[key] = id === undefined ? null : percentilesOf(name, r.buckets, await readDistribution(store, r, id)) ?? null;
  }
  return out;
}
