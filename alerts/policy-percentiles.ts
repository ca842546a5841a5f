import { percentilesByName, type Percentiles } from '../dashboard/percentiles.js';
import type { SeriesResult } from '../dashboard/series-reader.js';
import type { ShardStore } from '../lib/shard/shard-store.js';
import { RESPONSE_TIME_DISTRIBUTIONS } from './policy-metrics.js';

/** Minute start → that minute's response-time percentiles (seconds; null = no values that minute). */
export type MinutePercentiles = Map<number, Pick<Percentiles['summary'], 'p95'>>;

/**
 * The response-time percentiles of each minute of a policy read, through the dashboard's own percentile
 * reader (dashboard/percentiles.ts: the distribution table beside each timeslice table of the read
 * plan, summed per bucket, quantiles of lib/distribution/log-buckets.ts), so a p95 policy and the
 * Overview's p95 chart never disagree. The distribution is the one the Overview shows: `WebTransaction`
 * (New Relic agents' transaction events) or, for an OTLP application, its HTTP server instrument.
 * `r` is the evaluator's read (minute resolution: one bucket per minute).
 */
export async function responseTimePercentiles(store: ShardStore, accountId: number, r: SeriesResult): Promise<MinutePercentiles> {
  const out: MinutePercentiles = new Map();
  const keyed = Object.fromEntries(RESPONSE_TIME_DISTRIBUTIONS.map((name, i) => [`m${i}`, name]));
  const found = await percentilesByName(store, accountId, r, keyed);
  const p = RESPONSE_TIME_DISTRIBUTIONS.map((_, i) => found[`m${i}`]).find((x): x is Percentiles => x !== null && x !== undefined);
  if (!p) return out;
  r.buckets.forEach((minute, i) => out.set(minute, { p95: p.p95[i] ?? null }));
  return out;
}
