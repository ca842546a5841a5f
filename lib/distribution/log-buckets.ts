/**
 * The one bucket scheme of every stored distribution (DDSketch-like, log-linear): a value v > 0 falls
 * in bucket i = ceil(log_γ(v)) with γ = (1 + α) / (1 − α) and α = RELATIVE_ERROR = 1 %, i.e. bucket i
 * holds (γ^(i−1), γ^i]. The bucket's representative value 2γ^i / (γ + 1) is within α of every value
 * in it, so a quantile read from merged bucket counts is within 1 % of the exact quantile of the raw
 * values (the value of rank ⌊q·(n − 1)⌋ in sorted order) — whatever was merged, in any order, because
 * merging only adds counts per bucket.
 *
 * Bounded: values at or below MIN_VALUE (1 µs, for durations in seconds; also 0 and anything negative)
 * count in ZERO_BUCKET and read back as 0; values above MAX_VALUE (10^7 s ≈ 116 days) count in the top
 * bucket. So one distribution (metric, agent, period) has at most MAX_BUCKETS (≈ 1,500) rows, each one
 * fixed-size row (metric, agent, period, bucket, count).
 */
export const RELATIVE_ERROR = 0.01;
export const GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR);
const LN_GAMMA = Math.log(GAMMA);
export const MIN_VALUE = 1e-6;
export const MAX_VALUE = 1e7;
const MIN_INDEX = Math.ceil(Math.log(MIN_VALUE) / LN_GAMMA);
const MAX_INDEX = Math.ceil(Math.log(MAX_VALUE) / LN_GAMMA);
/** Bucket of 0 (and of every value ≤ MIN_VALUE): below every real bucket, fits a SMALLINT. */
export const ZERO_BUCKET = MIN_INDEX - 1;
export const MAX_BUCKETS = MAX_INDEX - ZERO_BUCKET + 1;

/** The bucket of one value (NaN counts as 0: callers validate values before). */
export function bucketOf(v: number): number {
  if (!(v > MIN_VALUE)) return ZERO_BUCKET;
  if (v >= MAX_VALUE) return MAX_INDEX;
  // Rounding of log near a bucket edge can land one off: correct against the exact bounds.
  let i = Math.ceil(Math.log(v) / LN_GAMMA);
  if (v <= GAMMA ** (i - 1)) i--;
  else if (v > GAMMA ** i) i++;
  return Math.min(Math.max(i, MIN_INDEX), MAX_INDEX);
}

/** The value a bucket stands for (within RELATIVE_ERROR of every value in it). */
export function bucketValue(i: number): number {
  if (i <= ZERO_BUCKET) return 0;
  return (2 * GAMMA ** i) / (GAMMA + 1);
}

/** Bucket → count. Counts are whole numbers ≥ 1. */
export type BucketCounts = Map<number, number>;

export function addValue(d: BucketCounts, v: number, count = 1): void {
  const b = bucketOf(v);
  d.set(b, (d.get(b) ?? 0) + count);
}

/** Adds b's counts into a (exact: merging is per-bucket addition, associative and commutative). */
export function mergeCounts(a: BucketCounts, b: ReadonlyMap<number, number>): void {
  for (const [k, n] of b) a.set(k, (a.get(k) ?? 0) + n);
}

/** The q-quantiles (0 ≤ q ≤ 1) of a distribution: the representative of the bucket holding rank ⌊q·(n−1)⌋; null when empty. */
export function quantiles(d: ReadonlyMap<number, number>, qs: readonly number[]): Array<number | null> {
  let total = 0;
  for (const n of d.values()) total += n;
  if (total <= 0) return qs.map(() => null);
  const sorted = [...d.entries()].filter(([, n]) => n > 0).sort((x, y) => x[0] - y[0]);
  return qs.map((q) => {
    const rank = Math.floor(Math.min(Math.max(q, 0), 1) * (total - 1));
    let seen = 0;
    for (const [b, n] of sorted) {
      seen += n;
      if (seen > rank) return bucketValue(b);
    }
    return bucketValue(sorted[sorted.length - 1]![0]);
  });
}

/** The percentiles the dashboard and read API give. */
export const PERCENTILES = [0.5, 0.75, 0.95, 0.99] as const;
export const PERCENTILE_NAMES = ['p50', 'p75', 'p95', 'p99'] as const;
