import { describe, expect, it } from 'vitest';
import { INITIAL_STATE, parseState, stepCondition, type ConditionRule, type ConditionState, type Transition } from '../../alerts/condition-state.js';
import { minutesToEvaluate } from '../../alerts/minute-plan.js';
import { POLICY_METRICS } from '../../alerts/policy-metrics.js';
import { backoffSeconds } from '../../alerts/notifier.js';

/** Runs values minute by minute; returns the transitions as `minute:kind:level`. */
function run(rule: ConditionRule, values: Array<number | null>, start: ConditionState = INITIAL_STATE): string[] {
  let s = start;
  const out: string[] = [];
  values.forEach((v, i) => {
    const r = stepCondition(s, rule, i * 60, v);
    s = r.state;
    if (r.transition) out.push(`${i}:${label(r.transition)}`);
  });
  return out;
}
function label(t: Transition): string {
  return t.kind === 'close' ? `close:${t.from}` : `${t.kind}:${t.level}`;
}

const errorRate: ConditionRule = { metric: 'error_rate', warning: 5, critical: 10, durationMinutes: 3 };
const apdex: ConditionRule = { metric: 'apdex', warning: 0.9, critical: 0.7, durationMinutes: 2 };
const traffic: ConditionRule = { metric: 'throughput', warning: null, critical: 1, durationMinutes: 2 };

describe('stepCondition', () => {
  it.each([
    ['opens critical after the duration', errorRate, [20, 20, 20, 20], ['2:open:critical']],
    ['opens warning, then raises to critical', errorRate, [6, 6, 6, 20, 20, 20], ['2:open:warning', '5:level:critical']],
    ['does not open on a shorter breach', errorRate, [20, 20, 1, 20, 20], []],
    ['equal to the threshold does not breach', errorRate, [10, 10, 10], ['2:open:warning']],
    ['no data neither advances nor resets the streak', errorRate, [20, null, 20, null, null, 20], ['5:open:critical']],
    ['closes after clearing for the duration', errorRate, [20, 20, 20, 0, 0, 0], ['2:open:critical', '5:close:critical']],
    ['no data never closes', errorRate, [20, 20, 20, null, null, null, null], ['2:open:critical']],
    ['lowers critical to warning after warning for the duration', errorRate, [20, 20, 20, 7, 7, 7, 0, 0, 0], ['2:open:critical', '5:level:warning', '8:close:warning']],
    ['below-direction metrics breach below', apdex, [0.95, 0.8, 0.8, 0.5, 0.5, 1, 1], ['2:open:warning', '4:level:critical', '6:close:critical']],
    ['throughput without warning opens critical only', traffic, [0, 0, 5, 5], ['1:open:critical', '3:close:critical']],
  ] as Array<[string, ConditionRule, Array<number | null>, string[]]>)('%s', (_name, rule, values, want) => {
    expect(run(rule, values)).toEqual(want);
  });

  it('keeps the latest values (at most the duration) for the notification', () => {
    let s = INITIAL_STATE;
    for (const [i, v] of [1, 2, 3, 4].entries()) s = stepCondition(s, errorRate, i * 60, v).state;
    expect(s.recent).toEqual([[60, 2], [120, 3], [180, 4]]);
  });

  it('parses stored state and starts over from junk', () => {
    const s = stepCondition(INITIAL_STATE, errorRate, 0, 20).state;
    expect(parseState(JSON.stringify(s))).toEqual(s);
    expect(parseState('{not json')).toEqual(INITIAL_STATE);
    expect(parseState(null)).toEqual(INITIAL_STATE);
  });
});

describe('minutesToEvaluate', () => {
  // now = 10:05:40 (minute 10:05 is running): with 30 s settle the newest due minute is 10:04.
  const now = 36_000 + 5 * 60 + 40;
  const m = (hhmm: number) => 36_000 + hhmm * 60;
  it.each([
    ['a new policy takes the last duration minutes', { lastMinute: 0, durationMinutes: 3 }, 30, [m(2), m(3), m(4)]],
    ['then only the minutes after the last one', { lastMinute: m(2), durationMinutes: 3 }, 30, [m(3), m(4)]],
    ['nothing when up to date', { lastMinute: m(4), durationMinutes: 3 }, 30, []],
    ['a longer settle waits for the minute', { lastMinute: m(3), durationMinutes: 3 }, 45, []],
  ] as Array<[string, { lastMinute: number; durationMinutes: number }, number, number[]]>)('%s', (_n, p, settle, want) => {
    expect(minutesToEvaluate(p, now, settle)).toEqual(want);
  });
  it('catches up at most an hour after downtime', () => {
    const got = minutesToEvaluate({ lastMinute: m(4) - 5 * 3600, durationMinutes: 3 }, now, 30);
    expect(got).toHaveLength(60);
    expect(got.at(-1)).toBe(m(4));
  });
});

describe('policy values use the dashboard formulas', () => {
  const t = (callCount: number, totalTime = 0, exclusiveTime = 0, minTime = 0, maxTime = 0) => ({ callCount, totalTime, exclusiveTime, minTime, maxTime, sumOfSquares: 0 });
  const data: Record<string, ReturnType<typeof t>> = {
    HttpDispatcher: t(40), 'OtherTransaction/all': t(10), 'Errors/all': t(5), WebTransaction: t(40, 10), Apdex: t(30, 6, 4, 0.5, 0.5),
    'Browser/PageLoad': t(4, 8), 'Browser/Apdex': t(2, 2, 0, 4, 4),
  };
  const get = (n: string) => data[n];
  it.each([
    ['error_rate', 10], ['apdex', 0.825], ['response_time', 250], ['throughput', 40], ['page_load', 2000], ['browser_apdex', 0.75],
  ] as const)('%s', (metric, want) => {
    expect(POLICY_METRICS[metric].value(get)).toBeCloseTo(want, 10);
  });
  it('no traffic is 0 requests/min, a ratio without data is null', () => {
    expect(POLICY_METRICS.throughput.value(() => undefined)).toBe(0);
    expect(POLICY_METRICS.error_rate.value(() => undefined)).toBeNull();
    expect(POLICY_METRICS.apdex.value(() => undefined)).toBeNull();
  });
});

describe('backoff', () => {
  it('doubles from 30 s and stops at an hour', () => {
    expect([1, 2, 3, 4, 8, 20].map(backoffSeconds)).toEqual([30, 60, 120, 240, 3600, 3600]);
  });
});
