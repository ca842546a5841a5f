import { bucketOf, GAMMA, MAX_VALUE, MIN_VALUE, ZERO_BUCKET, type BucketCounts } from '../../lib/distribution/log-buckets.js';
import { formatValue } from './prom-format.js';

/**
 * A stored distribution (lib/distribution/log-buckets.ts: bucket i holds (γ^(i−1), γ^i], γ = 1.01/0.99)
 * as Prometheus classic histogram series `apm_distribution_bucket{le=…}`: cumulative counts at upper
 * bounds, the `+Inf` bucket being the count. Only the bounds around buckets that hold values in the
 * window are emitted — both edges of each (γ^(i−1) and γ^i), so histogram_quantile's linear
 * interpolation stays inside the bucket holding the rank and its answer is within a factor γ (2.02 %)
 * of every value of that bucket. The zero bucket (values ≤ 1 µs) is (0, 1e-6]; the top bucket
 * reaches +Inf.
 */
const TOP = bucketOf(MAX_VALUE);

/** The [lower, upper] bound of bucket i as a histogram `le` range. */
export function bucketBounds(i: number): [number, number] {
  if (i <= ZERO_BUCKET) return [0, MIN_VALUE];
  const lower = i === ZERO_BUCKET + 1 ? MIN_VALUE : GAMMA ** (i - 1);
  return [lower, i >= TOP ? Infinity : GAMMA ** i];
}

export interface LeSeries {
  /** The `le` label (Go 'f' form, `+Inf`). */
  le: string;
  /** Time → cumulative count of values ≤ le in that period. */
  values: Map<number, number>;
}

/** Cumulative `le` series of one distribution over time (time → bucket counts), lowest bound first. */
export function cumulativeBuckets(byTime: ReadonlyMap<number, BucketCounts>): LeSeries[] {
  const bounds = new Set<number>([Infinity]);
  for (const counts of byTime.values()) {
    for (const [i, n] of counts) {
      if (!(n > 0)) continue;
      const [lo, hi] = bucketBounds(i);
      if (lo > 0) bounds.add(lo);
      bounds.add(hi);
    }
  }
  const les = [...bounds].sort((a, b) => a - b);
  const out: LeSeries[] = les.map((le) => ({ le: formatValue(le), values: new Map() }));
  for (const [t, counts] of byTime) {
    const sorted = [...counts].filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
    if (sorted.length === 0) continue;
    let k = 0;
    let cumulative = 0;
    les.forEach((le, j) => {
      while (k < sorted.length && bucketBounds(sorted[k]![0])[1] <= le) cumulative += sorted[k++]![1];
      out[j]!.values.set(t, cumulative);
    });
  }
  return out.filter((s) => s.values.size > 0);
}
