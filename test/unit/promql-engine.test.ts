import { describe, expect, it } from 'vitest';
import { evaluate, type PromStorage, type QueryData, type SelectRequest } from '../../dashboard/prometheus/promql-engine.js';
import { parsePromQL } from '../../dashboard/prometheus/promql-parse.js';
import { PromError } from '../../dashboard/prometheus/prom-error.js';
import { matchesAll, type Series } from '../../dashboard/prometheus/promql-values.js';

/**
 * The evaluator against hand-computed vectors, over an in-memory storage holding per-minute deltas
 * (as the store keeps counters) and per-minute gauges, with the storage's SQL bucketing imitated.
 */
const S = 1000;
const minutes = (values: number[]) => values.map((_, i) => (i + 1) * 60 * S); // samples end at 60 s, 120 s, …

function counter(labels: Record<string, string>, values: number[]): Series {
  return { labels: { __name__: 'apm_calls_total', ...labels }, ts: minutes(values), vs: values, delta: true, period: 60 * S };
}
function gauge(labels: Record<string, string>, values: number[]): Series {
  return { labels: { __name__: 'apm_max_time_seconds', ...labels }, ts: minutes(values), vs: values, delta: false, period: 60 * S };
}

class MemoryStorage implements PromStorage {
  readonly requests: SelectRequest[] = [];
  constructor(private readonly series: Series[]) {}
  period(): number {
    return 60;
  }
  async select(req: SelectRequest): Promise<Series[]> {
    this.requests.push(req);
    return this.series
      .filter((s) => matchesAll(req.matchers, s.labels))
      .map((s) => (s.delta && req.deltaBucket > 60 ? rebucket(s, req.deltaBucket) : s))
      .map((s) => {
        const keep = s.ts.map((t) => t > req.from * S && t <= req.to * S);
        return { ...s, ts: s.ts.filter((_, i) => keep[i]), vs: s.vs.filter((_, i) => keep[i]) };
      });
  }
}

/** Sums deltas into buckets of `b` seconds, each stamped with its end (what the SQL GROUP BY gives). */
function rebucket(s: Series, b: number): Series {
  const sums = new Map<number, number>();
  s.ts.forEach((t, i) => {
    const end = Math.ceil(t / (b * S)) * b * S;
    sums.set(end, (sums.get(end) ?? 0) + s.vs[i]!);
  });
  const ts = [...sums.keys()].sort((x, y) => x - y);
  return { ...s, ts, vs: ts.map((t) => sums.get(t)!), period: b * S };
}

const DATA = [
  counter({ app: 'a', metric: 'X' }, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
  counter({ app: 'b', metric: 'X' }, [10, 10, 10, 10, 10, 10, 10, 10, 10, 20]),
  counter({ app: 'a', metric: 'Y' }, [0, 0, 0, 0, 0, 0, 0, 0, 0, 4]),
  gauge({ app: 'a', metric: 'X' }, [0.5, 1, 0.25, 2, 0.75, 1, 1, 1, 3, 0.5]),
  { ...counter({ app: 'a', metric: 'X' }, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]), labels: { __name__: 'apm_time_seconds_total', app: 'a', metric: 'X' } },
];

async function run(q: string, t: number, storage = new MemoryStorage(DATA), range?: { end: number; step: number }): Promise<QueryData> {
  return evaluate(storage, parsePromQL(q), {
    start: t * S, end: (range?.end ?? t) * S, step: (range?.step ?? 0) * S,
    lookbackMs: 300 * S, maxSeries: 100, maxSamples: 10_000, now: () => 0, deadline: 1,
  });
}

async function vector(q: string, t = 600): Promise<Array<[Record<string, string>, number]>> {
  const d = await run(q, t);
  if (d.resultType !== 'vector') throw new Error(`expected a vector, got ${d.resultType}`);
  return d.result.map((s) => [s.metric, s.value[1]] as [Record<string, string>, number]).sort((x, y) => JSON.stringify(x[0]).localeCompare(JSON.stringify(y[0])));
}

describe('range functions over per-minute deltas', () => {
  it.each([
    ['increase(apm_calls_total{app="a",metric="X"}[5m])', 6 + 7 + 8 + 9 + 10],
    ['rate(apm_calls_total{app="a",metric="X"}[5m])', 40 / 300],
    ['sum_over_time(apm_calls_total{app="a",metric="X"}[2m])', 19],
    ['irate(apm_calls_total{app="a",metric="X"}[5m])', 10 / 60],
    ['avg_over_time(apm_calls_total{app="a",metric="X"}[4m])', 8.5],
    ['count_over_time(apm_calls_total{app="a",metric="X"}[3m])', 3],
    ['max_over_time(apm_max_time_seconds[10m])', 3],
    ['min_over_time(apm_max_time_seconds[10m])', 0.25],
    ['last_over_time(apm_max_time_seconds[10m])', 0.5],
    ['quantile_over_time(0.5, apm_max_time_seconds[4m])', 1],
    ['stdvar_over_time(apm_max_time_seconds[2m])', 1.5625],
    ['increase(apm_calls_total{app="a",metric="X"}[5m] offset 2m)', 4 + 5 + 6 + 7 + 8],
  ])('%s = %d', async (q, want) => {
    const v = await vector(q);
    expect(v).toHaveLength(1);
    expect(v[0]![1]).toBe(want);
  });

  it('delta() of a gauge is extrapolated exactly as Prometheus does', async () => {
    // Samples at 360…600 s in (300, 600]: 1, 1, 1, 3, 0.5 → last − first = −0.5 over 240 s sampled;
    // 60 s to the window's start is below 1.1 × the 60 s spacing, so extrapolate fully: × 300/240.
    expect(await vector('delta(apm_max_time_seconds[5m])')).toEqual([[{ app: 'a', metric: 'X' }, -0.5 * (300 / 240)]]);
  });

  it('a delta stands for its own minute; a gauge is carried forward 5 minutes', async () => {
    expect(await vector('apm_calls_total{app="a",metric="X"}', 630)).toEqual([[{ __name__: 'apm_calls_total', app: 'a', metric: 'X' }, 10]]);
    expect(await vector('apm_calls_total{app="a",metric="X"}', 660)).toEqual([]);
    expect(await vector('apm_max_time_seconds', 880)).toEqual([[{ __name__: 'apm_max_time_seconds', app: 'a', metric: 'X' }, 0.5]]);
    expect(await vector('apm_max_time_seconds', 900)).toEqual([]);
  });
});

describe('aggregations', () => {
  it.each([
    ['sum by (app) (increase(apm_calls_total[2m]))', [[{ app: 'a' }, 23], [{ app: 'b' }, 30]]],
    ['sum without (app) (increase(apm_calls_total[2m]))', [[{ metric: 'X' }, 49], [{ metric: 'Y' }, 4]]],
    ['avg(increase(apm_calls_total[2m]))', [[{}, 53 / 3]]],
    ['max by (metric) (increase(apm_calls_total[2m]))', [[{ metric: 'X' }, 30], [{ metric: 'Y' }, 4]]],
    ['min(increase(apm_calls_total[2m]))', [[{}, 4]]],
    ['count(apm_calls_total)', [[{}, 3]]],
    ['topk(1, increase(apm_calls_total[2m]))', [[{ app: 'b', metric: 'X' }, 30]]],
    ['bottomk(2, increase(apm_calls_total[2m]))', [[{ app: 'a', metric: 'X' }, 19], [{ app: 'a', metric: 'Y' }, 4]]],
  ])('%s', async (q, want) => {
    expect(await vector(q)).toEqual(want);
  });
});

describe('binary operators', () => {
  it.each([
    ['increase(apm_calls_total{metric="X"}[2m]) / ignoring(metric) increase(apm_calls_total{metric="Y"}[2m])', [[{ app: 'a' }, 19 / 4]]],
    ['sum by (app) (increase(apm_calls_total[1m])) / on(app) sum by (app) (increase(apm_calls_total[2m]))', [[{ app: 'a' }, 14 / 23], [{ app: 'b' }, 20 / 30]]],
    ['increase(apm_calls_total[1m]) > 9', [[{ app: 'a', metric: 'X' }, 10], [{ app: 'b', metric: 'X' }, 20]]],
    ['increase(apm_calls_total[1m]) > bool 9', [[{ app: 'a', metric: 'X' }, 1], [{ app: 'a', metric: 'Y' }, 0], [{ app: 'b', metric: 'X' }, 1]]],
    ['apm_calls_total{metric="Y"} * 2 + 1', [[{ app: 'a', metric: 'Y' }, 9]]],
    ['2 ^ apm_calls_total{metric="Y"} - 10 % 4', [[{ app: 'a', metric: 'Y' }, 14]]],
    ['apm_calls_total and on(app, metric) apm_max_time_seconds', [[{ __name__: 'apm_calls_total', app: 'a', metric: 'X' }, 10]]],
    ['apm_calls_total unless on(app) apm_max_time_seconds', [[{ __name__: 'apm_calls_total', app: 'b', metric: 'X' }, 20]]],
    ['-apm_calls_total{metric="Y"}', [[{ app: 'a', metric: 'Y' }, -4]]],
  ])('%s', async (q, want) => {
    expect(await vector(q)).toEqual(want);
  });

  it('scalars: arithmetic, and comparison only with bool', async () => {
    expect(await run('1 + 2 * 3 ^ 2', 600)).toEqual({ resultType: 'scalar', result: [600 * S, 19] });
    expect(await run('2 > bool 1', 600)).toEqual({ resultType: 'scalar', result: [600 * S, 1] });
    await expect(run('2 > 1', 600)).rejects.toThrow('comparisons between scalars must use BOOL modifier');
  });
});

describe('functions of instant vectors', () => {
  it.each([
    ['clamp_max(apm_calls_total{app="b"}, 15)', [[{ app: 'b', metric: 'X' }, 15]]],
    ['clamp_min(apm_calls_total{metric="Y"}, 5)', [[{ app: 'a', metric: 'Y' }, 5]]],
    ['clamp(apm_max_time_seconds, 1, 2)', [[{ app: 'a', metric: 'X' }, 1]]],
    ['abs(-apm_calls_total{metric="Y"})', [[{ app: 'a', metric: 'Y' }, 4]]],
    ['round(rate(apm_calls_total{app="a",metric="X"}[5m]), 0.01)', [[{ app: 'a', metric: 'X' }, 0.13]]],
    ['label_replace(apm_calls_total{app="b"}, "service", "svc-$1", "app", "(.*)")', [[{ __name__: 'apm_calls_total', app: 'b', metric: 'X', service: 'svc-b' }, 20]]],
    ['vector(time())', [[{}, 600]]],
  ])('%s', async (q, want) => {
    expect(await vector(q)).toEqual(want);
  });

  it('regular expressions are Go RE2 (as in Prometheus), anchored, and linear in time', async () => {
    expect(await vector('count(apm_calls_total{metric=~"(?i)x"})')).toEqual([[{}, 2]]);
    expect(await vector('count(apm_calls_total{app!~"a|c"})')).toEqual([[{}, 1]]);
    // A pattern that takes a backtracking engine (JavaScript's RegExp) exponential time.
    const evil = new MemoryStorage([counter({ app: 'a'.repeat(40) + 'b', metric: 'X' }, [1])]);
    const t0 = performance.now();
    expect(await run('count(apm_calls_total{app=~"(a+)+"})', 60, evil)).toEqual({ resultType: 'vector', result: [] });
    expect(performance.now() - t0).toBeLessThan(1000);
    // Go's Regexp.Expand: $1x names group "1x" (empty), ${1}x is group 1 then x, $$ is a dollar.
    expect(await vector('label_replace(apm_calls_total{app="b"}, "a1", "$1x|${1}x|$$|$name", "metric", "(?P<name>.)")')).toEqual([
      [{ __name__: 'apm_calls_total', a1: '|Xx|$|X', app: 'b', metric: 'X' }, 20],
    ]);
    await expect(run('label_replace(apm_calls_total, "a", "b", "app", "(")', 600)).rejects.toThrow('invalid regular expression in label_replace()');
    await expect(run('apm_calls_total{app=~"("}', 600)).rejects.toThrow('invalid regular expression in matcher app=~"("');
  });

  it('histogram_quantile interpolates inside the bucket holding the rank', async () => {
    const bucket = (le: string, v: number): Series => ({ labels: { __name__: 'x_bucket', le }, ts: [600 * S], vs: [v], delta: true, period: 60 * S });
    const storage = new MemoryStorage([bucket('0.1', 10), bucket('0.5', 30), bucket('1', 40), bucket('+Inf', 40)]);
    // rank 20 of 40 falls in (0.1, 0.5] holding 20: 0.1 + 0.4 × (20 − 10) / 20.
    const d = await run('histogram_quantile(0.5, x_bucket)', 600, storage);
    expect(d).toEqual({ resultType: 'vector', result: [{ metric: {}, value: [600 * S, 0.1 + 0.4 * 0.5] }] });
    const top = await run('histogram_quantile(0.99, x_bucket)', 600, storage);
    // rank 39.6 falls in (0.5, 1] holding 10: 0.5 + 0.5 × (39.6 − 30) / 10 ≈ 0.98.
    expect(top).toEqual({ resultType: 'vector', result: [{ metric: {}, value: [600 * S, 0.5 + 0.5 * ((0.99 * 40 - 30) / 10)] }] });
  });
});

describe('range queries and push-down', () => {
  it('evaluates at each step; the storage sums deltas into buckets of gcd(step, range) seconds', async () => {
    const storage = new MemoryStorage(DATA);
    const d = await run('sum(rate(apm_calls_total{metric="X"}[2m]))', 240, storage, { end: 600, step: 120 });
    expect(d).toEqual({
      resultType: 'matrix',
      result: [{ metric: {}, values: [[240 * S, 7 / 120 + 20 / 120], [360 * S, 11 / 120 + 20 / 120], [480 * S, 15 / 120 + 20 / 120], [600 * S, 19 / 120 + 30 / 120]] }],
    });
    expect(storage.requests.map((r) => [r.deltaBucket, r.sumByApp])).toEqual([[120, true]]);
    // A raw delta selector is read per minute (summing would change its meaning).
    const raw = new MemoryStorage(DATA);
    await run('apm_calls_total', 240, raw, { end: 600, step: 120 });
    expect(raw.requests.map((r) => [r.deltaBucket, r.sumByApp])).toEqual([[60, false]]);
    // Only sum by (app) or sum() over a summable function may be summed by the storage.
    const grouped = new MemoryStorage(DATA);
    await run('sum by (metric) (rate(apm_calls_total[2m]))', 240, grouped, { end: 600, step: 120 });
    expect(grouped.requests.map((r) => r.sumByApp)).toEqual([false]);
  });
});

describe('bounds', () => {
  const opts = { start: 600 * S, end: 600 * S, step: 0, lookbackMs: 300 * S, now: () => 0, deadline: 1 };
  it('series and samples loaded, as execution errors', async () => {
    const e1 = await evaluate(new MemoryStorage(DATA), parsePromQL('apm_calls_total'), { ...opts, maxSeries: 2, maxSamples: 1000 }).catch((e: PromError) => e);
    expect(e1).toMatchObject({ status: 422, errorType: 'execution', message: 'query would read more than 2 series: narrow its label matchers' });
    // 3 series × 5 minutes of look-back in (300, 600] = 15 samples.
    const e2 = await evaluate(new MemoryStorage(DATA), parsePromQL('count(apm_calls_total)'), { ...opts, maxSeries: 10, maxSamples: 14 }).catch((e: PromError) => e);
    expect(e2).toMatchObject({ status: 422, errorType: 'execution', message: 'query processing would load too many samples into memory in query execution' });
    const ok = await evaluate(new MemoryStorage(DATA), parsePromQL('count(apm_calls_total)'), { ...opts, maxSeries: 10, maxSamples: 15 });
    expect(ok).toEqual({ resultType: 'vector', result: [{ metric: {}, value: [600 * S, 3] }] });
  });
});

describe('refused, never answered wrongly', () => {
  const refusal = async (q: string) => {
    const err = await run(q, 600).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(PromError);
    return err as PromError;
  };
  it.each([
    ['predict_linear(apm_calls_total[5m], 60)', 422, 'bad_data', 'predict_linear'],
    ['quantile(0.5, apm_calls_total)', 422, 'bad_data', 'quantile'],
    ['apm_calls_total[5m:1m]', 422, 'bad_data', 'subqueries'],
    ['apm_calls_total @ 100', 422, 'bad_data', '@ modifier'],
    ['a * on(x) group_left(y) b', 422, 'bad_data', 'group modifiers'],
    ['rate(apm_max_time_seconds[5m])', 422, 'execution', 'needs a counter'],
    ['delta(apm_calls_total[5m])', 422, 'execution', 'use increase()'],
    ['rate({__name__=~"apm_.*_total",app="a",metric="X"}[5m])', 422, 'execution', 'same labelset'],
    ['foo(apm_calls_total)', 400, 'bad_data', 'unknown function foo'],
    ['rate(apm_calls_total)', 400, 'bad_data', 'expected type range vector'],
    ['sum(', 400, 'bad_data', 'parse error'],
    ['{app=""}', 400, 'bad_data', 'at least one non-empty matcher'],
    ['sum(apm_calls_total[5m])', 400, 'bad_data', 'expected type instant vector in aggregation expression, got range vector'],
    ['topk(apm_calls_total, apm_calls_total)', 400, 'bad_data', 'expected type scalar in aggregation parameter'],
    ['apm_calls_total[5m] + 1', 400, 'bad_data', 'binary expression must contain only scalar and instant vector types'],
    ['1 + apm_calls_total[5m]', 400, 'bad_data', 'ranges only allowed for vector selectors'],
    ['-"a"', 400, 'bad_data', 'unary expression only allowed'],
  ])('%s → %d %s', async (q, status, type, text) => {
    const e = await refusal(q);
    expect(e.status).toBe(status);
    expect(e.errorType).toBe(type);
    expect(e.message).toContain(text);
  });
});
