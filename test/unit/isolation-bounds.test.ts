import { describe, expect, it } from 'vitest';
import { harvestMinute } from '../../collector/newrelic/harvest-plan.js';
import { parseMetricData } from '../../collector/newrelic/metric-data.js';
import { InputError } from '../../lib/errors.js';
import { canonicalMetricName, metricNameProblem } from '../../lib/shard/metric-name.js';
import { timesliceProblem } from '../../lib/timeslice/timeslice-bounds.js';
import { mergeTimeslices } from '../../lib/timeslice/timeslice.js';

/** Issue #18 parts 1, 2, 4 and 6: the pure rules. */
const RUN = 'run-1';
const limits = { now: 10_000, maxFutureSeconds: 300, maxAgeSeconds: 86_400 };
const harvest = (stats: unknown, name = 'WebTransaction', window: [number, number] = [9_900, 9_960]) =>
  parseMetricData([RUN, window[0], window[1], [[{ name }, stats]]], RUN, limits);
const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
};

describe('New Relic stats bounds: 400 naming the slot', () => {
  const cases: Array<[string, unknown, string, RegExp]> = [
    ['overflowing values (the poison of the issue)', [1, 1e308, 1e308, 0, 1e308, 1e308], 'WebTransaction', /total time 1e\+308 is above the maximum 1000000000000000/],
    ['negative total', [1, -1, 0, 0, 0, 0], 'WebTransaction', /total time -1 is negative/],
    ['exclusive above total', [1, 1, 2, 1, 1, 1], 'WebTransaction', /exclusive time 2 is greater than total time 1/],
    ['count of 2^53', [2 ** 53, 1, 1, 0, 1, 1], 'WebTransaction', /call count 9007199254740992 is not a whole number below 2\^53/],
    ['sum of squares above count × max²', [2, 1, 1, 0.5, 0.5, 5], 'WebTransaction', /sum of squares 5 is inconsistent with 2 calls/],
    ['sum of squares below total²/count', [2, 2, 2, 1, 1, 0.5], 'WebTransaction', /sum of squares 0.5 is inconsistent/],
    ['sum of squares above its maximum', [1, 1, 1, 1, 1, 1e31], 'WebTransaction', /sum of squares 1e\+31 is above the maximum 1e\+30/],
    ['fractional Apdex slot', [3, 1.5, 0, 0.5, 0.5, 0], 'Apdex', /Apdex tolerating \(total time 1.5\)/],
    ['min above max', [2, 1, 1, 0.9, 0.1, 0.82], 'WebTransaction', /min 0.9 is greater than max 0.1/],
  ];
  it.each(cases)('%s', (_label, stats, name, message) => {
    expect(refusal(() => harvest(stats, name))).toMatch(message);
  });

  it('keeps what agents send: Apdex (frustrated > tolerating), byte metrics (exclusive holds another size), count-only', () => {
    const h = parseMetricData(
      [RUN, 9_900, 9_960, [
        [{ name: 'Apdex' }, [3, 1, 5, 0.5, 0.5, 0]],
        [{ name: 'Supportability/Nodejs/Collector/preconnect/Output/Bytes' }, [1, 25, 58, 25, 25, 625]],
        [{ name: 'Errors/all' }, [4, 0, 0, 0, 0, 0]],
      ]],
      RUN,
      limits,
    );
    expect(h.metrics.map((m) => m.stats.callCount)).toEqual([3, 1, 4]);
  });

  it('values at the bounds merge without overflow', () => {
    const top = { callCount: 2 ** 52, totalTime: 1e15, exclusiveTime: 1e15, minTime: 0, maxTime: 1e15, sumOfSquares: 1e30 };
    let merged = top;
    for (let i = 0; i < 1000; i++) merged = mergeTimeslices(merged, top);
    expect(Number.isFinite(merged.totalTime) && Number.isFinite(merged.sumOfSquares)).toBe(true);
    expect(merged.totalTime).toBe(1001e15);
  });
});

describe('harvest window', () => {
  it('refuses a window longer than an hour, naming start and end', () => {
    const tenDays = [RUN, 1_000_000 - 10 * 86_400, 1_000_000, [[{ name: 'WebTransaction' }, [1, 1, 1, 1, 1, 1]]]];
    expect(refusal(() => parseMetricData(tenDays, RUN, { ...limits, now: 1_000_000 }))).toMatch(
      /the window \(start, element 1, to end, element 2\) is 864000 s long, more than 3600 s/,
    );
  });

  it('files a harvest under the minute holding most of its window: the start minute when aligned', () => {
    expect(harvestMinute(660, 720)).toBe(660); // [11:00, 11:01) → 11:00, not 11:01
    expect(harvestMinute(3540, 3600)).toBe(3540); // 10:59–11:00 stays in the 10:00 hour
    expect(harvestMinute(620, 680)).toBe(600); // 40 s of it in minute 600, 20 s in 660
    expect(harvestMinute(640, 700)).toBe(660); // 20 s in 600, 40 s in 660
    expect(harvestMinute(630, 690)).toBe(660); // a tie (30 s / 30 s) goes to the later minute
    expect(harvestMinute(700, 701)).toBe(660); // the 1 s initial harvest
    expect(harvestMinute(590, 780)).toBe(660); // a merged 190 s window: 660 holds the most (60 s, with 720)
  });
});

describe('canonical metric names', () => {
  it('one form in TypeScript and in the database: lone surrogates become U+FFFD, trailing spaces go', () => {
    expect(canonicalMetricName('/\ud800')).toBe('/\ufffd');
    expect(canonicalMetricName('Custom/pad ')).toBe('Custom/pad');
    expect(canonicalMetricName('Custom/pad  \t')).toBe('Custom/pad  \t'); // a control character is refused, not hidden
    expect(metricNameProblem(canonicalMetricName('Custom/pad  \t'), false)).toBe('contains a control character');
    expect(canonicalMetricName('ok 😀')).toBe('ok 😀');
    expect(metricNameProblem('x'.repeat(255), false)).toBeUndefined();
    expect(metricNameProblem('😀'.repeat(255), false)).toBeUndefined();
    expect(metricNameProblem('x'.repeat(256), false)).toBe('is longer than 255 characters');
    expect(metricNameProblem('', true)).toBeUndefined();
    expect(metricNameProblem('', false)).toMatch(/is empty/);
  });

  it('`Custom/pad ` and `Custom/pad` in one harvest are one metric', () => {
    const h = parseMetricData([RUN, 9_900, 9_960, [[{ name: 'Custom/pad' }, [1, 1, 1, 1, 1, 1]], [{ name: 'Custom/pad ' }, [1, 2, 2, 2, 2, 4]]]], RUN, limits);
    expect(h.metrics).toEqual([{ name: 'Custom/pad', scope: '', stats: { callCount: 2, totalTime: 3, exclusiveTime: 3, minTime: 1, maxTime: 2, sumOfSquares: 5 } }]);
  });
});

describe('computed timeslices (OTLP after scaling, deltas, estimates)', () => {
  it('names the field that is not finite or beyond the bounds', () => {
    const ok = { callCount: 1, totalTime: 1, exclusiveTime: 1, minTime: 1, maxTime: 1, sumOfSquares: 1 };
    expect(timesliceProblem(ok)).toBeUndefined();
    expect(timesliceProblem({ ...ok, totalTime: 1e308 * 3600 })).toBe('totalTime is not a finite number (Infinity)');
    expect(timesliceProblem({ ...ok, sumOfSquares: NaN })).toBe('sumOfSquares is not a finite number (NaN)');
    expect(timesliceProblem({ ...ok, maxTime: -2e15, minTime: -3e15 })).toBe('minTime -3000000000000000 is beyond ±1000000000000000');
  });
});
