import type { DistRow } from '../../lib/distribution/dist-writer.js';
import { addValue, type BucketCounts } from '../../lib/distribution/log-buckets.js';
import type { Distribution } from './otlp-distribution.js';
import type { PlannedRow } from './otlp-plan.js';
import type { ResolvedResource } from './otlp-rows.js';

/**
 * OTLP histogram buckets → the stored distribution scheme (lib/distribution/log-buckets.ts), so their
 * percentiles survive the rollups like the beacon's. Each bucket's count goes to one value inside it:
 * the geometric middle of the bucket's range narrowed by the interval's min/max when known (an
 * exponential bucket of scale ≥ 5 is narrower than 2.2 %, so its middle is within ~1.1 % of any of
 * its values; explicit bounds are as coarse as the sender chose them, so their percentiles are only as
 * precise as those bounds); the zero bucket and anything ≤ 0 count as 0; an open-ended bucket uses its
 * finite edge (or the known min/max).
 */
export function countsOfDistribution(d: Distribution): BucketCounts | undefined {
  const counts: BucketCounts = new Map();
  const floor = d.min ?? d.minFloor;
  const ceiling = d.max ?? d.maxCeiling;
  for (const b of d.buckets) {
    if (!(b.count > 0)) continue;
    const lo = Math.max(b.lo, floor ?? -Infinity);
    const hi = Math.min(b.hi, ceiling ?? Infinity);
    let v: number;
    if (hi <= 0) v = 0;
    else if (lo > 0 && Number.isFinite(hi)) v = Math.sqrt(lo * Math.max(hi, lo));
    else if (Number.isFinite(hi)) v = lo > 0 ? lo : hi / 2;
    else v = Number.isFinite(lo) ? Math.max(lo, 0) : 0;
    addValue(counts, v, b.count);
  }
  return counts.size > 0 ? counts : undefined;
}

/** Planned rows with distributions → distribution rows for every name and agent of their resource, merged per key. */
export function buildDistRows(planned: readonly PlannedRow[], resolved: readonly ResolvedResource[]): DistRow[] {
  const out = new Map<string, DistRow>();
  for (const p of planned) {
    if (!p.dist) continue;
    const ids = resolved[p.resource]!;
    for (const name of p.names) {
      const metricId = ids.metricIds.get(name)!;
      for (const agentId of ids.agentIds) {
        for (const [bucket, count] of p.dist) {
          const k = `${metricId}:${agentId}:${p.minute}:${bucket}`;
          const row = out.get(k);
          if (row) row.count += count;
          else out.set(k, { metricId, agentId, period: p.minute, bucket, count });
        }
      }
    }
  }
  return [...out.values()];
}
