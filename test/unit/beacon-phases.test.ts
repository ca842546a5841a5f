import { describe, expect, it } from 'vitest';
import { browserApdexOf } from '../../beacon/browser-apdex.js';
import { computePhases, marksProblem, type NavigationMarks } from '../../beacon/page-phases.js';

// The second view of the recorded headless-Chromium run (shared/reference/rum-experiment/results.json),
// rounded to whole milliseconds the way rum.js sends them.
const recorded: NavigationMarks = {
  activationStart: 0,
  requestStart: 10, // 9.6
  responseStart: 222, // 222.3
  responseEnd: 324, // 323.6
  domContentLoadedEventEnd: 390, // 390.4
  loadEventEnd: 579, // 578.7
};

const ms = (s: number) => Math.round(s * 1000);

describe('computePhases', () => {
  it('splits a recorded page load into disjoint phases that add up to loadEventEnd', () => {
    const p = computePhases(recorded);
    expect([p.network, p.backend, p.domProcessing, p.rendering].map(ms)).toEqual([112, 212, 66, 189]);
    expect(ms(p.pageLoad)).toBe(579);
    expect(ms(p.network) + ms(p.backend) + ms(p.domProcessing) + ms(p.rendering)).toBe(579);
    expect(ms(p.ttfb)).toBe(222);
  });

  it.each([
    { name: 'no network at all', m: [0, 0, 100, 100, 150, 200], want: [0, 100, 50, 50, 100] },
    { name: 'redirect + DNS before the request', m: [0, 300, 400, 420, 500, 900], want: [320, 100, 80, 400, 400] },
    { name: 'prerendered: TTFB from activation', m: [500, 5, 50, 60, 70, 80], want: [15, 45, 10, 10, 0] },
    { name: 'activated before first byte', m: [20, 5, 50, 60, 70, 80], want: [15, 45, 10, 10, 30] },
  ])('$name', ({ m, want }) => {
    const [activationStart, requestStart, responseStart, responseEnd, domContentLoadedEventEnd, loadEventEnd] = m as [number, number, number, number, number, number];
    const p = computePhases({ activationStart, requestStart, responseStart, responseEnd, domContentLoadedEventEnd, loadEventEnd });
    expect([p.network, p.backend, p.domProcessing, p.rendering, p.ttfb].map(ms)).toEqual(want);
    expect(ms(p.network) + ms(p.backend) + ms(p.domProcessing) + ms(p.rendering)).toBe(loadEventEnd);
  });
});

describe('marksProblem', () => {
  it('accepts the recorded marks', () => {
    expect(marksProblem(recorded)).toBeUndefined();
  });
  it.each([
    [{ requestStart: -1 }, 'requestStart -1 ms is not within [0, 3600000)'],
    [{ loadEventEnd: 3_600_000 }, 'loadEventEnd 3600000 ms is not within [0, 3600000)'],
    [{ responseEnd: Number.NaN }, 'responseEnd NaN ms is not within [0, 3600000)'],
    [{ activationStart: Infinity }, 'activationStart Infinity ms is not within [0, 3600000)'],
    [{ responseStart: 5 }, 'responseStart (5 ms) is before requestStart (10 ms)'],
    [{ domContentLoadedEventEnd: 300 }, 'domContentLoadedEventEnd (300 ms) is before responseEnd (324 ms)'],
    [{ loadEventEnd: 389 }, 'loadEventEnd (389 ms) is before domContentLoadedEventEnd (390 ms)'],
  ])('rejects %o', (change, problem) => {
    expect(marksProblem({ ...recorded, ...change })).toBe(problem);
  });
  it('rejects a page that had not finished loading', () => {
    expect(marksProblem({ activationStart: 0, requestStart: 0, responseStart: 0, responseEnd: 0, domContentLoadedEventEnd: 0, loadEventEnd: 0 })).toBe(
      'loadEventEnd is 0: the page had not finished loading',
    );
  });
});

describe('browserApdexOf', () => {
  it.each([
    [0.5, 4, [1, 0, 0]],
    [4, 4, [1, 0, 0]],
    [4.001, 4, [0, 1, 0]],
    [16, 4, [0, 1, 0]],
    [16.001, 4, [0, 0, 1]],
  ])('load %f s with T=%f s', (load, t, [s, tol, f]) => {
    expect(browserApdexOf(load, t)).toEqual({ callCount: s, totalTime: tol, exclusiveTime: f, minTime: t, maxTime: t, sumOfSquares: 0 });
  });
});
