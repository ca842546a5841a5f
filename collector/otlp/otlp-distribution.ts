import type { Timeslice } from '../../lib/timeslice/timeslice.js';
import type { Bucket, DistributionPoint } from './otlp-model.js';

/**
 * Distributions (histogram, exponential histogram, summary points) as timeslices, and the
 * difference of two cumulative distributions. What is exact and what is estimated (documented in
 * schema/README.md, "OTLP mapping"):
 * - call_count = count and total_time = exclusive_time = sum: always exact;
 * - min_time / max_time: exact when the sender sent them for exactly this interval (delta points,
 *   the first interval of a cumulative series, or a cumulative min/max that moved); otherwise
 *   ESTIMATED from the interval's non-empty buckets, bounded by the cumulative min/max;
 * - sum_of_squares: exact when count ≤ 2 with exact min/max, or min = max; otherwise ESTIMATED from bucket
 *   midpoints (clamped to [min, max]) and never below sum²/count (so the variance is ≥ 0).
 */

export interface Distribution {
  count: number;
  sum: number;
  /** Exact min/max of the interval when known. */
  min: number | undefined;
  max: number | undefined;
  /** Bounds the interval's min/max are known to respect (the cumulative min/max), when not exact. */
  minFloor?: number | undefined;
  maxCeiling?: number | undefined;
  buckets: Bucket[];
}

/** The cumulative state kept per series. */
export interface DistributionState {
  count: number;
  sum: number;
  min: number | undefined;
  max: number | undefined;
  buckets: Bucket[];
}

export function stateOf(p: DistributionPoint): DistributionState {
  return { count: p.count, sum: p.sum, min: p.min, max: p.max, buckets: p.buckets };
}

/**
 * cur − prev for one cumulative series with the same start time; a reason string when cur is not a
 * continuation of prev (a count or bucket that went down).
 */
export function diffDistribution(prev: DistributionState, cur: DistributionPoint): Distribution | string {
  const count = cur.count - prev.count;
  if (count < 0) return `cumulative count went down from ${prev.count} to ${cur.count} without a new start time`;
  let buckets: Bucket[] = [];
  const sameLayout =
    prev.buckets.length === cur.buckets.length && cur.buckets.every((b, i) => b.lo === prev.buckets[i]!.lo && b.hi === prev.buckets[i]!.hi);
  if (sameLayout) {
    buckets = cur.buckets.map((b, i) => ({ lo: b.lo, hi: b.hi, count: b.count - prev.buckets[i]!.count }));
    if (buckets.some((b) => b.count < 0)) return 'a cumulative bucket count went down without a new start time';
  }
  // A cumulative min (max) that moved was reached in this interval; an unmoved one only bounds it.
  const minMoved = cur.min !== undefined && (prev.min === undefined || cur.min < prev.min);
  const maxMoved = cur.max !== undefined && (prev.max === undefined || cur.max > prev.max);
  return {
    count,
    sum: cur.sum - prev.sum,
    min: minMoved ? cur.min : undefined,
    max: maxMoved ? cur.max : undefined,
    minFloor: cur.min,
    maxCeiling: cur.max,
    buckets,
  };
}

/** The timeslice of a distribution with count > 0. */
export function distributionTimeslice(d: Distribution): Timeslice {
  const { count, sum } = d;
  const mean = sum / count;
  if (count === 1) return { callCount: 1, totalTime: sum, exclusiveTime: sum, minTime: sum, maxTime: sum, sumOfSquares: sum * sum };
  const nonEmpty = d.buckets.filter((b) => b.count > 0);
  const min = d.min ?? estimateMin(nonEmpty, d.minFloor, mean);
  const max = d.max ?? estimateMax(nonEmpty, d.maxCeiling, mean);
  let sumOfSquares: number;
  if (d.min !== undefined && d.max !== undefined && d.min === d.max) sumOfSquares = count * d.min * d.min;
  else if (d.min !== undefined && d.max !== undefined && count === 2) sumOfSquares = d.min * d.min + d.max * d.max; // the two values
  else {
    sumOfSquares = 0;
    for (const b of nonEmpty) {
      const lo = Math.max(b.lo, min);
      const hi = Math.min(b.hi, max);
      const mid = lo <= hi ? (lo + hi) / 2 : Math.min(Math.max(mean, min), max);
      sumOfSquares += b.count * mid * mid;
    }
    if (nonEmpty.length === 0) sumOfSquares = count * mean * mean;
    sumOfSquares = Math.max(sumOfSquares, (sum * sum) / count);
  }
  return { callCount: count, totalTime: sum, exclusiveTime: sum, minTime: min, maxTime: max, sumOfSquares };
}

function estimateMin(nonEmpty: Bucket[], floor: number | undefined, mean: number): number {
  const first = nonEmpty[0];
  let est = Math.max(first?.lo ?? -Infinity, floor ?? -Infinity);
  if (!Number.isFinite(est)) est = first && Number.isFinite(first.hi) ? first.hi : mean;
  return Math.min(est, mean);
}

function estimateMax(nonEmpty: Bucket[], ceiling: number | undefined, mean: number): number {
  const last = nonEmpty[nonEmpty.length - 1];
  let est = Math.min(last?.hi ?? Infinity, ceiling ?? Infinity);
  if (!Number.isFinite(est)) est = last && Number.isFinite(last.lo) ? last.lo : mean;
  return Math.max(est, mean);
}
