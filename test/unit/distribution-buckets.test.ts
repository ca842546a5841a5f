import { describe, expect, it } from 'vitest';
import { addValue, bucketOf, bucketValue, GAMMA, MAX_BUCKETS, MAX_VALUE, mergeCounts, MIN_VALUE, PERCENTILES, quantiles, RELATIVE_ERROR, ZERO_BUCKET, type BucketCounts } from '../../lib/distribution/log-buckets.js';
import { mulberry32 as rng } from '../harness/prng.js';


/** The exact quantile the scheme promises to approximate: the value of rank ⌊q·(n−1)⌋. */
const exact = (sorted: Float64Array, q: number) => sorted[Math.floor(q * (sorted.length - 1))]!;

describe('log-linear buckets (1 % relative error)', () => {
  it('puts every value in the bucket (γ^(i−1), γ^i] whose representative is within 1 %', () => {
    const r = rng(7);
    const bad: number[] = [];
    let worst = 0;
    for (let k = 0; k < 100_000; k++) {
      const v = MIN_VALUE * 1.0001 * Math.exp(r() * Math.log(MAX_VALUE / MIN_VALUE));
      const i = bucketOf(v);
      if (!(v > GAMMA ** (i - 1) * (1 - 1e-12) && v <= GAMMA ** i * (1 + 1e-12))) bad.push(v);
      worst = Math.max(worst, Math.abs(bucketValue(i) - v) / v);
    }
    expect(bad).toEqual([]);
    expect(worst).toBeLessThanOrEqual(RELATIVE_ERROR + 1e-12);
    expect(worst).toBeGreaterThan(RELATIVE_ERROR * 0.99); // the bound is tight, not loose
    for (let i = -600; i < 700; i += 37) {
      expect(bucketOf(GAMMA ** i)).toBe(i); // the upper edge belongs to the bucket
      expect(bucketOf(GAMMA ** i * (1 + 1e-9))).toBe(i + 1);
    }
  });

  it('bounds: 0, negatives and values ≤ 1 µs read back as 0; huge values share the top bucket; ≤ 1,500 buckets', () => {
    expect([bucketOf(0), bucketOf(-3), bucketOf(MIN_VALUE), bucketOf(Number.NaN)]).toEqual([ZERO_BUCKET, ZERO_BUCKET, ZERO_BUCKET, ZERO_BUCKET]);
    expect(bucketValue(ZERO_BUCKET)).toBe(0);
    expect(bucketOf(1e12)).toBe(bucketOf(MAX_VALUE));
    expect(MAX_BUCKETS).toBe(1498); // buckets −690 … 806 and the zero bucket
    expect(ZERO_BUCKET).toBeGreaterThanOrEqual(-32768);
  });

  it('a day merged from per-agent minutes, then hours, gives p50/p75/p95/p99 within 1 % of the raw values', () => {
    for (const seed of [1, 2, 3]) {
      const r = rng(seed);
      const raw: number[] = [];
      const minutes: BucketCounts[] = [];
      for (let m = 0; m < 1440; m++) {
        for (let agent = 0; agent < 3; agent++) {
          const d: BucketCounts = new Map();
          const n = Math.floor(r() * 20);
          for (let k = 0; k < n; k++) {
            // A mixture: mostly fast log-normal-ish requests, a slow tail, some zeros.
            const u = r();
            const v = u < 0.02 ? 0 : u < 0.9 ? 0.05 * Math.exp((r() + r() + r() - 1.5) * 1.5) : 2 + r() * 30;
            raw.push(v);
            addValue(d, v);
          }
          minutes.push(d);
        }
      }
      const hours: BucketCounts[] = [];
      for (let h = 0; h < 24; h++) {
        const hour: BucketCounts = new Map();
        for (const d of minutes.slice(h * 180, (h + 1) * 180)) mergeCounts(hour, d);
        hours.push(hour);
      }
      const day: BucketCounts = new Map();
      for (const h of hours.reverse()) mergeCounts(day, h);
      const sorted = Float64Array.from(raw).sort();
      const got = quantiles(day, PERCENTILES);
      PERCENTILES.forEach((q, k) => {
        const want = exact(sorted, q);
        expect(Math.abs(got[k]! - want)).toBeLessThanOrEqual(RELATIVE_ERROR * want + 1e-12);
      });
      expect([...day.values()].reduce((s, n) => s + n, 0)).toBe(raw.length);
    }
  });

  it('gives null for an empty distribution and the single value for one', () => {
    expect(quantiles(new Map(), [0.5])).toEqual([null]);
    const d: BucketCounts = new Map();
    addValue(d, 0.25, 3);
    expect(quantiles(d, [0, 1]).map((v) => Math.abs(v! - 0.25) / 0.25 <= RELATIVE_ERROR)).toEqual([true, true]);
  });
});
