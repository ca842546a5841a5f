import { describe, expect, it } from 'vitest';
import { countsOfDistribution } from '../../collector/otlp/otlp-dists.js';
import type { Distribution } from '../../collector/otlp/otlp-distribution.js';
import { bucketOf, quantiles, RELATIVE_ERROR } from '../../lib/distribution/log-buckets.js';

describe('OTLP histogram buckets → stored distribution', () => {
  it('explicit bounds: each count at the geometric middle of its range narrowed by min/max; ≤ 0 as 0', () => {
    const d: Distribution = {
      count: 10, sum: 3, min: 0.002, max: 0.8,
      buckets: [
        { lo: -Infinity, hi: 0, count: 1 },
        { lo: 0, hi: 0.005, count: 2 },
        { lo: 0.005, hi: 0.1, count: 3 },
        { lo: 0.1, hi: Infinity, count: 4 },
        { lo: 5, hi: 10, count: 0 },
      ],
    };
    expect([...countsOfDistribution(d)!.entries()].sort((a, b) => a[0] - b[0])).toEqual([
      [bucketOf(0), 1],
      [bucketOf(Math.sqrt(0.002 * 0.005)), 2],
      [bucketOf(Math.sqrt(0.005 * 0.1)), 3],
      [bucketOf(Math.sqrt(0.1 * 0.8)), 4],
    ]);
    expect(countsOfDistribution({ count: 0, sum: 0, min: undefined, max: undefined, buckets: [] })).toBeUndefined();
  });

  it('exponential buckets of scale 8: percentiles within 1 % plus half the bucket width of the raw values', () => {
    const scale = 8;
    const base = 2 ** (2 ** -scale);
    const values: number[] = [];
    for (let k = 1; k <= 5000; k++) values.push(0.01 * Math.exp((k % 97) / 20 + (k % 13) / 50));
    const byIndex = new Map<number, number>();
    for (const v of values) {
      const i = Math.ceil(Math.log(v) / Math.log(base)) - 1; // OTLP: bucket i holds (base^i, base^(i+1)]
      byIndex.set(i, (byIndex.get(i) ?? 0) + 1);
    }
    const buckets = [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([i, count]) => ({ lo: base ** i, hi: base ** (i + 1), count }));
    const counts = countsOfDistribution({ count: values.length, sum: 0, min: undefined, max: undefined, buckets })!;
    const sorted = [...values].sort((a, b) => a - b);
    const bound = RELATIVE_ERROR + (Math.sqrt(base) - 1) + 1e-9;
    quantiles(counts, [0.5, 0.75, 0.95, 0.99]).forEach((got, k) => {
      const want = sorted[Math.floor([0.5, 0.75, 0.95, 0.99][k]! * (sorted.length - 1))]!;
      expect(Math.abs(got! - want) / want).toBeLessThanOrEqual(bound);
    });
  });
});
