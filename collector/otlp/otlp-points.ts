import { canonicalAttributes } from './otlp-attributes.js';
import type { Bucket, DistributionPoint, NumberPoint } from './otlp-model.js';
import { scaled } from './otlp-units.js';

/** Prefix of reasons counted as out_of_bounds (see rejectCodeOf in otlp-decode.ts). */
export const OUT_OF_BOUNDS = 'out of bounds: ';

/**
 * Validation and conversion of single OTLP data points (as the JSON parser or protobufjs's toObject
 * give them: lowerCamelCase, 64-bit integers as numbers or decimal strings). Each function returns the
 * point, 'skip' (flagged "no recorded value"), or a reason string for the partialSuccess answer.
 */

/** Limits on point times, relative to the receiver's clock (seconds). */
export interface TimeWindow {
  nowSeconds: number;
  maxAgeSeconds: number;
  maxFutureSeconds: number;
}

const NO_RECORDED_VALUE = 1;
const MAX_U64 = (1n << 64n) - 1n;

/** A uint64/int64 field as bigint; undefined when it is not an integer. */
export function toBigInt(v: unknown): bigint | undefined {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : Number.isFinite(v) && Number.isInteger(v) ? BigInt(v) : undefined;
  if (typeof v === 'string' && /^-?[0-9]{1,20}$/.test(v)) return BigInt(v);
  return undefined;
}

/** A count (uint64) as a safe JS integer; undefined when negative, fractional or too large. */
export function toCount(v: unknown): number | undefined {
  if (v === undefined || v === null) return 0;
  const b = toBigInt(v);
  if (b === undefined || b < 0n || b > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return Number(b);
}

/** A double field: numbers, or the proto3 JSON strings ("1.5", "NaN", "Infinity"). */
export function toDouble(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') return Number(v);
  return undefined;
}

function flagsOf(p: Record<string, unknown>): number {
  return typeof p.flags === 'number' ? p.flags : Number(p.flags ?? 0) || 0;
}

/** Common fields: attributes and times, checked against the window. */
function times(p: Record<string, unknown>, w: TimeWindow, checkStart: boolean): { startNs: bigint; timeNs: bigint } | string {
  const timeNs = toBigInt(p.timeUnixNano ?? 0);
  const startNs = toBigInt(p.startTimeUnixNano ?? 0);
  if (timeNs === undefined || timeNs <= 0n || timeNs > MAX_U64) return 'time_unix_nano is missing or not a valid time';
  if (startNs === undefined || startNs < 0n || startNs > MAX_U64) return 'start_time_unix_nano is not a valid time';
  const seconds = Number(timeNs / 1_000_000n) / 1000;
  if (seconds < w.nowSeconds - w.maxAgeSeconds) return `time ${new Date(seconds * 1000).toISOString()} is older than ${w.maxAgeSeconds} s`;
  if (seconds > w.nowSeconds + w.maxFutureSeconds) return `time ${new Date(seconds * 1000).toISOString()} is more than ${w.maxFutureSeconds} s in the future`;
  if (checkStart && startNs > timeNs) return 'start_time_unix_nano is after time_unix_nano';
  return { startNs, timeNs };
}

/** A NumberDataPoint (gauge or sum). */
export function numberPoint(p: Record<string, unknown>, factor: number, w: TimeWindow, isGauge: boolean): NumberPoint | 'skip' | string {
  const t = times(p, w, !isGauge);
  if (typeof t === 'string') return t;
  let value: number | undefined;
  if (p.asDouble !== undefined && p.asDouble !== null) value = toDouble(p.asDouble);
  else if (p.asInt !== undefined && p.asInt !== null) {
    const b = toBigInt(p.asInt);
    value = b === undefined ? undefined : Number(b);
  } else if (flagsOf(p) & NO_RECORDED_VALUE) return 'skip';
  else return 'point has neither as_double nor as_int';
  if (value === undefined || !Number.isFinite(value)) return `value ${String(p.asDouble ?? p.asInt)} is not a finite number`;
  const v = scaled(value, factor);
  // A cumulative value may be large; what is stored (the delta or the sample) is bounded in otlp-plan.ts.
  if (!Number.isFinite(v)) return `${OUT_OF_BOUNDS}value ${value} is ${String(v)} after unit scaling`;
  return { attributes: canonicalAttributes(p.attributes), ...t, value: v };
}

/** An explicit-bucket HistogramDataPoint. */
export function histogramPoint(p: Record<string, unknown>, factor: number, w: TimeWindow): DistributionPoint | 'skip' | string {
  if (flagsOf(p) & NO_RECORDED_VALUE) return 'skip';
  const t = times(p, w, true);
  if (typeof t === 'string') return t;
  const stats = countSumMinMax(p);
  if (typeof stats === 'string') return stats;
  const counts = Array.isArray(p.bucketCounts) ? p.bucketCounts.map(toCount) : [];
  const bounds = Array.isArray(p.explicitBounds) ? p.explicitBounds.map(toDouble) : [];
  if (counts.some((c) => c === undefined)) return 'bucket_counts holds a value that is not a count';
  if (bounds.some((b) => b === undefined || !Number.isFinite(b))) return 'explicit_bounds holds a value that is not a finite number';
  for (let i = 1; i < bounds.length; i++) if (bounds[i]! <= bounds[i - 1]!) return 'explicit_bounds are not strictly increasing';
  const buckets: Bucket[] = [];
  if (counts.length > 0) {
    if (counts.length !== bounds.length + 1) return `bucket_counts has ${counts.length} entries for ${bounds.length} explicit_bounds (must be one more)`;
    let total = 0;
    counts.forEach((c, i) => {
      total += c!;
      buckets.push({ lo: i === 0 ? -Infinity : bounds[i - 1]! * factor, hi: i === bounds.length ? Infinity : bounds[i]! * factor, count: c! });
    });
    if (total !== stats.count) return `bucket_counts add up to ${total}, not to count ${stats.count}`;
  }
  return distribution(p, t, stats, factor, buckets);
}

/** An ExponentialHistogramDataPoint: buckets become explicit (lo, hi] ranges. */
export function exponentialPoint(p: Record<string, unknown>, factor: number, w: TimeWindow): DistributionPoint | 'skip' | string {
  if (flagsOf(p) & NO_RECORDED_VALUE) return 'skip';
  const t = times(p, w, true);
  if (typeof t === 'string') return t;
  const stats = countSumMinMax(p);
  if (typeof stats === 'string') return stats;
  const scale = Number(p.scale ?? 0);
  if (!Number.isInteger(scale) || scale < -10 || scale > 20) return `scale ${String(p.scale)} is outside -10..20`;
  const zeroCount = toCount(p.zeroCount);
  const zeroThreshold = toDouble(p.zeroThreshold ?? 0) ?? NaN;
  if (zeroCount === undefined || !(zeroThreshold >= 0)) return 'zero_count or zero_threshold is not valid';
  const side = (b: unknown, sign: 1 | -1): Bucket[] | string => {
    if (b === undefined || b === null) return [];
    const o = b as { offset?: unknown; bucketCounts?: unknown };
    const offset = Number(o.offset ?? 0);
    const counts = Array.isArray(o.bucketCounts) ? o.bucketCounts.map(toCount) : [];
    if (!Number.isInteger(offset) || counts.some((c) => c === undefined)) return 'exponential buckets are not valid';
    const edge = (i: number) => Math.pow(2, i * Math.pow(2, -scale)) * factor;
    return counts.map((c, k) => {
      const i = offset + k;
      return sign === 1 ? { lo: edge(i), hi: edge(i + 1), count: c! } : { lo: -edge(i + 1), hi: -edge(i), count: c! };
    });
  };
  const neg = side(p.negative, -1);
  const pos = side(p.positive, 1);
  if (typeof neg === 'string') return neg;
  if (typeof pos === 'string') return pos;
  // At extreme scales and offsets 2^(i·2^-scale) overflows: such buckets cannot be stored or estimated from.
  if ([...neg, ...pos].some((b) => b.count > 0 && !(Number.isFinite(b.lo) && Number.isFinite(b.hi)))) {
    return `${OUT_OF_BOUNDS}exponential bucket bounds are not finite at scale ${scale} (offsets too large)`;
  }
  const buckets = [...neg.reverse(), { lo: -zeroThreshold * factor, hi: zeroThreshold * factor, count: zeroCount }, ...pos];
  const total = buckets.reduce((s, b) => s + b.count, 0);
  if (total !== stats.count) return `exponential buckets add up to ${total}, not to count ${stats.count}`;
  return distribution(p, t, stats, factor, buckets);
}

/** A SummaryDataPoint (cumulative by definition): count and sum; quantiles 0 and 1 as min and max. */
export function summaryPoint(p: Record<string, unknown>, factor: number, w: TimeWindow): DistributionPoint | 'skip' | string {
  if (flagsOf(p) & NO_RECORDED_VALUE) return 'skip';
  const t = times(p, w, true);
  if (typeof t === 'string') return t;
  const stats = countSumMinMax(p);
  if (typeof stats === 'string') return stats;
  for (const q of Array.isArray(p.quantileValues) ? p.quantileValues : []) {
    const quantile = toDouble((q as { quantile?: unknown }).quantile ?? 0);
    const value = toDouble((q as { value?: unknown }).value ?? 0);
    if (value === undefined || !Number.isFinite(value)) return 'a quantile value is not a finite number';
    if (quantile === 0) stats.min = value;
    if (quantile === 1) stats.max = value;
  }
  return distribution(p, t, stats, factor, []);
}

interface Stats {
  count: number;
  sum: number;
  min: number | undefined;
  max: number | undefined;
}

function countSumMinMax(p: Record<string, unknown>): Stats | string {
  const count = toCount(p.count);
  if (count === undefined) return `count ${String(p.count)} is not a count`;
  if (p.sum === undefined || p.sum === null) return 'point has no sum (needed for total time)';
  const sum = toDouble(p.sum);
  if (sum === undefined || !Number.isFinite(sum)) return `sum ${String(p.sum)} is not a finite number`;
  const opt = (v: unknown) => (v === undefined || v === null ? undefined : toDouble(v));
  const min = opt(p.min);
  const max = opt(p.max);
  if ((min !== undefined && !Number.isFinite(min)) || (max !== undefined && !Number.isFinite(max))) return 'min or max is not a finite number';
  if (min !== undefined && max !== undefined && min > max) return `min ${min} is greater than max ${max}`;
  return { count, sum, min, max };
}

function distribution(p: Record<string, unknown>, t: { startNs: bigint; timeNs: bigint }, s: Stats, factor: number, buckets: Bucket[]): DistributionPoint | string {
  for (const [field, v] of [['sum', s.sum], ['min', s.min], ['max', s.max]] as const) {
    if (v !== undefined && !Number.isFinite(scaled(v, factor))) return `${OUT_OF_BOUNDS}${field} ${v} is not finite after unit scaling`;
  }
  return {
    attributes: canonicalAttributes(p.attributes),
    ...t,
    count: s.count,
    sum: scaled(s.sum, factor),
    min: s.min === undefined ? undefined : scaled(s.min, factor),
    max: s.max === undefined ? undefined : scaled(s.max, factor),
    buckets,
  };
}
