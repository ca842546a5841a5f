import { describe, expect, it } from 'vitest';
import { bucketOf, GAMMA, MAX_VALUE, quantiles, ZERO_BUCKET } from '../../lib/distribution/log-buckets.js';
import { bucketBounds, cumulativeBuckets } from '../../dashboard/prometheus/histogram-series.js';
import { evaluate, type PromStorage, type SelectRequest } from '../../dashboard/prometheus/promql-engine.js';
import { parsePromQL } from '../../dashboard/prometheus/promql-parse.js';
import { formatValue } from '../../dashboard/prometheus/prom-format.js';
import { matchesAll, type Series } from '../../dashboard/prometheus/promql-values.js';

/**
 * Distributions as classic histogram series (`apm_distribution_bucket{le=…}`), against hand-computed
 * cumulative counts, and the engine's `host` routing flags.
 */
const S = 1000;
const g = 101 / 99; // γ = (1 + 0.01) / (1 − 0.01)

class MemoryStorage implements PromStorage {
  readonly requests: SelectRequest[] = [];
  constructor(private readonly series: Series[]) {}
  period(): number {
    return 60;
  }
  async select(req: SelectRequest): Promise<Series[]> {
    this.requests.push(req);
    return this.series.filter((s) => matchesAll(req.matchers, s.labels));
  }
}

/** Period start (s) → bucket → count: two values of 1 s and three of γ² s in the minute ending at 60 s, one of γ² s in the next. */
const DIST = new Map([
  [0, new Map([[0, 2], [2, 3]])],
  [60, new Map([[2, 1]])],
]);

function asSeries(labels: Record<string, string>): Series[] {
  return cumulativeBuckets(DIST).map((l) => {
    const ts = [...l.values.keys()].sort((a, b) => a - b);
    return { labels: { __name__: 'apm_distribution_bucket', ...labels, le: l.le }, ts: ts.map((t) => (t + 60) * S), vs: ts.map((t) => l.values.get(t)!), delta: true, period: 60 * S };
  });
}

describe('distribution buckets as le series', () => {
  it('bucket i spans (γ^(i−1), γ^i]; the zero bucket (0, 1e-6]; the top bucket reaches +Inf', () => {
    expect(GAMMA).toBeCloseTo(g, 15);
    expect(bucketOf(1)).toBe(0);
    expect(bucketBounds(0)[0]).toBeCloseTo(99 / 101, 15);
    expect(bucketBounds(0)[1]).toBe(1);
    expect(bucketBounds(2)[0]).toBeCloseTo(g, 15);
    expect(bucketBounds(2)[1]).toBeCloseTo(g * g, 15);
    expect(bucketBounds(ZERO_BUCKET)).toEqual([0, 0.000001]);
    expect(bucketBounds(ZERO_BUCKET + 1)[0]).toBe(0.000001);
    const top = bucketOf(MAX_VALUE);
    expect(bucketBounds(top)[1]).toBe(Infinity);
    expect(bucketBounds(top)[0]).toBeLessThan(MAX_VALUE);
  });

  it('cumulative counts at both edges of every non-empty bucket, +Inf = count, per period', () => {
    const les = cumulativeBuckets(DIST);
    // Bounds: γ^-1 and 1 (bucket 0), γ and γ² (bucket 2), +Inf.
    expect(les.map((l) => l.le)).toEqual([formatValue(GAMMA ** -1), '1', formatValue(GAMMA), formatValue(GAMMA ** 2), '+Inf']);
    expect(Number(les[2]!.le)).toBeCloseTo(1.0202020202020203, 15);
    expect(Number(les[3]!.le)).toBeCloseTo(1.0408121620242832, 15);
    expect(les.map((l) => l.values.get(0))).toEqual([0, 2, 2, 5, 5]);
    expect(les.map((l) => l.values.get(60))).toEqual([0, 0, 0, 1, 1]);
  });

  it('an empty distribution gives no series; the zero bucket has le 0.000001', () => {
    expect(cumulativeBuckets(new Map())).toEqual([]);
    const zero = cumulativeBuckets(new Map([[0, new Map([[ZERO_BUCKET, 4]])]]));
    expect(zero.map((l) => [l.le, l.values.get(0)])).toEqual([['0.000001', 4], ['+Inf', 4]]);
  });

  it('histogram_quantile over sum by (le) (rate(…)) interpolates inside the bucket holding the rank, within γ of the read API', async () => {
    const storage = new MemoryStorage([...asSeries({ app: 'a', metric: 'M' }), ...asSeries({ app: 'b', metric: 'M' })]);
    const q = parsePromQL('histogram_quantile(0.5, sum by (le) (rate(apm_distribution_bucket{metric="M"}[2m])))');
    const r = await evaluate(storage, q, { start: 120 * S, end: 120 * S, step: 0, lookbackMs: 300_000, maxSeries: 100, maxSamples: 1000, now: () => 0, deadline: 1 });
    // Both apps: counts per le over 2 min = [0, 4, 4, 12, 12]; rank 0.5·12 = 6 falls in (γ, γ²] (4 below it, 8 in it):
    // γ + (γ² − γ)·(6 − 4)/8.
    const expected = g + (g * g - g) * (2 / 8);
    expect(r.resultType).toBe('vector');
    const [sample] = (r as { result: Array<{ value: [number, number] }> }).result;
    expect(sample!.value[1]).toBeCloseTo(expected, 12);
    expect(sample!.value[1]).toBeCloseTo(1.0253545556575858, 12);
    // The read API's p50 of the same 12 values (rank ⌊0.5·11⌋ = 5 → bucket 2's representative 2γ²/(γ + 1)).
    const merged = new Map([[0, 4], [2, 8]]);
    const [p50] = quantiles(merged, [0.5]);
    expect(p50).toBeCloseTo((2 * g * g) / (g + 1), 12);
    expect(Math.abs(sample!.value[1] - p50!) / p50!).toBeLessThan(g - 1);
  });
});

describe('host: application-wide rows unless asked for', () => {
  const run = async (expr: string) => {
    const storage = new MemoryStorage([]);
    await evaluate(storage, parsePromQL(expr), { start: 600 * S, end: 600 * S, step: 0, lookbackMs: 300_000, maxSeries: 100, maxSamples: 1000, now: () => 0, deadline: 1 });
    return storage.requests.map((r) => [r.perHost === true, r.sumByApp]);
  };
  it('by (host) asks the storage for per-agent rows; other aggregations keep the sum push-down', async () => {
    expect(await run('sum(rate(apm_calls_total[5m]))')).toEqual([[false, true]]);
    expect(await run('sum by (app) (rate(apm_calls_total[5m]))')).toEqual([[false, true]]);
    expect(await run('sum by (host) (rate(apm_calls_total[5m]))')).toEqual([[true, false]]);
    expect(await run('sum by (app, host) (rate(apm_calls_total[5m])) / 2')).toEqual([[true, false]]);
    expect(await run('topk(3, sum by (host) (rate(apm_calls_total[5m])))')).toEqual([[true, false]]);
    expect(await run('sum without (host) (rate(apm_calls_total[5m]))')).toEqual([[false, false]]);
    expect(await run('rate(apm_calls_total{host="h1"}[5m])')).toEqual([[false, false]]);
  });
});
