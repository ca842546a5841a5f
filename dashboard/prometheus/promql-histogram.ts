import { execution } from './prom-error.js';
import { labelsKey, NAME, type Labels, type Sample } from './promql-values.js';

/**
 * histogram_quantile(φ, buckets) over classic `_bucket{le=…}` series, with Prometheus's algorithm:
 * buckets of one series (all labels but `le` and the name) sorted by upper bound, counts made
 * monotonic, linear interpolation inside the bucket holding the rank; the +Inf bucket must exist.
 */
export function histogramQuantile(q: number, v: readonly Sample[]): Sample[] {
  const groups = new Map<string, { labels: Labels; buckets: Array<{ upper: number; count: number }> }>();
  for (const s of v) {
    const le = s.labels.le;
    if (le === undefined) continue;
    const upper = le === '+Inf' || le === 'Inf' || le === 'inf' ? Infinity : Number(le);
    if (Number.isNaN(upper)) throw execution(`histogram_quantile(): bad le label ${JSON.stringify(le)}`);
    const { le: _, [NAME]: __, ...rest } = s.labels;
    const key = labelsKey(rest);
    const g = groups.get(key) ?? { labels: rest, buckets: [] };
    groups.set(key, g);
    g.buckets.push({ upper, count: s.value });
  }
  return [...groups.values()].map((g) => ({ labels: g.labels, value: bucketQuantile(q, g.buckets) }));
}

export function bucketQuantile(q: number, input: Array<{ upper: number; count: number }>): number {
  if (Number.isNaN(q)) return Number.NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const sorted = [...input].sort((a, b) => a.upper - b.upper);
  if (sorted.length === 0 || sorted[sorted.length - 1]!.upper !== Infinity) return Number.NaN;
  const buckets: Array<{ upper: number; count: number }> = [];
  for (const b of sorted) {
    const last = buckets[buckets.length - 1];
    if (last && last.upper === b.upper) last.count += b.count;
    else buckets.push({ ...b });
  }
  for (let i = 1; i < buckets.length; i++) if (buckets[i]!.count < buckets[i - 1]!.count) buckets[i]!.count = buckets[i - 1]!.count;
  if (buckets.length < 2) return Number.NaN;
  const observations = buckets[buckets.length - 1]!.count;
  if (observations === 0 || Number.isNaN(observations)) return Number.NaN;
  let rank = q * observations;
  const b = buckets.findIndex((x) => x.count >= rank);
  if (b === buckets.length - 1) return buckets[buckets.length - 2]!.upper;
  if (b === 0 && buckets[0]!.upper <= 0) return buckets[0]!.upper;
  let start = 0;
  let count = buckets[b]!.count;
  if (b > 0) {
    start = buckets[b - 1]!.upper;
    count -= buckets[b - 1]!.count;
    rank -= buckets[b - 1]!.count;
  }
  return start + (buckets[b]!.upper - start) * (rank / count);
}
