import { describe, expect, it } from 'vitest';
import { levelOf } from '../../alerts/condition-state.js';
import { validatePolicy } from '../../alerts/policy-input.js';
import { POLICY_METRICS, RESPONSE_TIME_DISTRIBUTIONS } from '../../alerts/policy-metrics.js';
import { percentilesOf } from '../../dashboard/percentiles.js';
import { addValue, bucketValue, bucketOf, type BucketCounts } from '../../lib/distribution/log-buckets.js';

/** One minute's distribution: `fast` calls of 100 ms and `slow` calls of 10 s. */
function minute(fast: number, slow: number): BucketCounts {
  const d: BucketCounts = new Map();
  addValue(d, 0.1, fast);
  addValue(d, 10, slow);
  return d;
}

/** The p95 policy value of one minute, through the dashboard's percentile function. */
function p95Value(d: BucketCounts): number | null {
  const p = percentilesOf('Custom/x', [0], { byBucket: new Map([[0, d]]), total: d })!;
  return POLICY_METRICS.response_time_p95.value(() => undefined, (q) => p[q][0] ?? null);
}

describe('response time p95 policies', () => {
  it('accept thresholds in ms or s and refuse other units, naming the field', () => {
    expect(validatePolicy({ name: 'slow p95', metric: 'response-time-p95', warning: '500ms', critical: '2s' }, new Set())).toMatchObject({ metric: 'response_time_p95', warning: 500, critical: 2000 });
    expect(() => validatePolicy({ name: 'x', metric: 'response_time_p95', critical: '5%' }, new Set())).toThrow('critical "5%" has the wrong unit for response_time_p95 (response time (p95) is in ms; write ms or s or no unit)');
  });

  it('read the distribution the Overview shows (WebTransaction, or the OTLP HTTP server instrument)', () => {
    expect(RESPONSE_TIME_DISTRIBUTIONS).toEqual(['WebTransaction', 'OTLP/http.server.request.duration', 'OTLP/http.server.duration']);
    expect(POLICY_METRICS.response_time_p95.percentiles).toBe(true);
  });

  it('a few slow calls leave p95 at the fast calls; enough of them move it to the slow ones', () => {
    const fast = bucketValue(bucketOf(0.1)) * 1000;
    const slow = bucketValue(bucketOf(10)) * 1000;
    expect(Math.abs(fast - 100)).toBeLessThanOrEqual(1); // within 1 %
    expect(Math.abs(slow - 10_000)).toBeLessThanOrEqual(100);
    // 95 fast + 5 slow: rank floor(0.95 × 99) = 94 is a fast call, while the mean is 595 ms.
    expect(p95Value(minute(95, 5))).toBe(fast);
    // 90 fast + 10 slow: rank 94 is a slow call.
    expect(p95Value(minute(90, 10))).toBe(slow);
    const rule = { metric: 'response_time_p95' as const, warning: null, critical: 500, durationMinutes: 1 };
    expect(levelOf(rule, p95Value(minute(95, 5))!)).toBeNull();
    expect(levelOf(rule, p95Value(minute(90, 10))!)).toBe('critical');
  });

  it('a minute without distribution rows is no data', () => {
    expect(POLICY_METRICS.response_time_p95.value(() => undefined, () => null)).toBeNull();
    expect(POLICY_METRICS.response_time_p95.value(() => undefined)).toBeNull();
  });
});
