import { describe, expect, it } from 'vitest';
import { InputError } from '../../lib/errors.js';
import { parseMetricData, type Harvest } from '../../collector/newrelic/metric-data.js';
import { capture } from '../harness/newrelic-captures.js';

const RUN = 'fake-run-1';
const limitsAt = (now: number) => ({ now, maxFutureSeconds: 300, maxAgeSeconds: 86400 });
const parseCapture = (prefix: string): Harvest => {
  const c = capture(prefix);
  return parseMetricData(c.body, c.query.run_id!, limitsAt(c.body[2] + 1));
};
const find = (h: Harvest, name: string, scope = '') => h.metrics.find((m) => m.name === name && m.scope === scope);

describe('metric_data parsing over the captured payloads', () => {
  it('reads the 60 s harvest (capture 05): window, 84 metrics, scoped, Apdex, count-only and Custom rows', () => {
    const h = parseCapture('05');
    expect(h.runId).toBe(RUN);
    expect(h.start).toBe(1795393462.241);
    expect(h.end).toBe(1795393522.247);
    expect(h.metrics).toHaveLength(84);
    expect(find(h, 'WebTransaction')!.stats).toEqual({
      callCount: 413,
      totalTime: 1.92747467,
      exclusiveTime: 1.505038390703125,
      minTime: 0.00012078100000000001,
      maxTime: 0.056826626,
      sumOfSquares: 0.040358455741861234,
    });
    expect(find(h, 'HttpDispatcher')!.stats.callCount).toBe(413);
    // Apdex keeps its slots: satisfied, tolerating, frustrated, T, T.
    expect(find(h, 'Apdex/Custom/seg')!.stats).toEqual({ callCount: 51, totalTime: 0, exclusiveTime: 0, minTime: 0.5, maxTime: 0.5, sumOfSquares: 0 });
    // A scoped metric keeps its scope (the transaction name).
    expect(find(h, 'Custom/research-segment', 'WebTransaction/Custom/seg')!.stats.callCount).toBe(51);
    // The agent also sends the unscoped roll-up of the same segment; both stay distinct rows.
    expect(find(h, 'Custom/research-segment')!.stats.callCount).toBe(51);
    expect(h.metrics.filter((m) => m.scope !== '')).toHaveLength(2);
    // Count-only and Custom/ metrics as sent.
    expect(find(h, 'Errors/all')!.stats).toEqual({ callCount: 104, totalTime: 0, exclusiveTime: 0, minTime: 0, maxTime: 0, sumOfSquares: 0 });
    expect(find(h, 'Custom/Custom/Research/Value')!.stats.callCount).toBe(52);
  });

  it('drops all-zero rows (capture 04 has 3 of 28) and keeps the rest', () => {
    const h = parseCapture('04');
    expect(h.metrics).toHaveLength(25);
    expect(find(h, 'Supportability/Nodejs/FullGranularity/Root/Adaptive/Shared')).toBeUndefined();
    expect(find(h, 'Supportability/Features/CJS/Require')!.stats.callCount).toBe(1);
  });

  it('reads the shutdown harvest (06), the big compressed ones (20, 21) and the 503 pair (22, 23)', () => {
    expect(find(parseCapture('06'), 'WebTransaction')!.stats.callCount).toBe(19);
    expect(parseCapture('20').metrics).toHaveLength(1584);
    expect(parseCapture('21').metrics).toHaveLength(1584);
    expect(parseCapture('22').metrics).toHaveLength(24);
    const merged = parseCapture('23');
    expect(merged.metrics).toHaveLength(107);
    expect(merged.start).toBe(parseCapture('22').start);
  });

  it('merges a (name, scope) that appears twice in one payload, before and after the name has a second scope, in first-seen order', () => {
    const body = [RUN, 100, 160, [
      [{ name: 'Custom/X' }, [1, 2, 2, 2, 2, 4]],
      [{ name: 'Custom/X' }, [2, 1, 1, 0.25, 0.75, 0.625]],
      [{ name: 'Custom/X', scope: 'WebTransaction/a' }, [1, 1, 1, 1, 1, 1]],
      [{ name: 'Custom/Y', scope: 'WebTransaction/a' }, [1, 1, 1, 1, 1, 1]],
      [{ name: 'Custom/X', scope: 'WebTransaction/a' }, [1, 2, 2, 2, 2, 4]],
      [{ name: 'Custom/X' }, [1, 0.5, 0.5, 0.5, 0.5, 0.25]],
    ]];
    const h = parseMetricData(body, RUN, limitsAt(200));
    expect(h.metrics).toEqual([
      { name: 'Custom/X', scope: '', stats: { callCount: 4, totalTime: 3.5, exclusiveTime: 3.5, minTime: 0.25, maxTime: 2, sumOfSquares: 4.875 } },
      { name: 'Custom/X', scope: 'WebTransaction/a', stats: { callCount: 2, totalTime: 3, exclusiveTime: 3, minTime: 1, maxTime: 2, sumOfSquares: 5 } },
      { name: 'Custom/Y', scope: 'WebTransaction/a', stats: { callCount: 1, totalTime: 1, exclusiveTime: 1, minTime: 1, maxTime: 1, sumOfSquares: 1 } },
    ]);
  });

  it('refuses negative values, even of Custom metrics (#18: a negative total time is meaningless)', () => {
    expect(() => parseMetricData([RUN, 100, 160, [[{ name: 'Custom/Delta' }, [2, -3, -3, -2, -1, 5]]]], RUN, limitsAt(200))).toThrow(
      /metric #0 "Custom\/Delta": total time -3 is negative/,
    );
  });
});

describe('metric_data bad input: 400 with a message naming the problem', () => {
  const ok = [{ name: 'WebTransaction' }, [1, 0.5, 0.5, 0.5, 0.5, 0.25]];
  const cases: Array<[string, unknown, RegExp]> = [
    ['not an array', { a: 1 }, /body must be the array/],
    ['wrong length', [RUN, 100, 160], /body must be the array/],
    ['other run id in body', ['other', 100, 160, [ok]], /does not match run_id/],
    ['start not a number', [RUN, '100', 160, [ok]], /start \(element 1\)/],
    ['start after end', [RUN, 170, 160, [ok]], /starts \(170\) after it ends \(160\)/],
    ['far future', [RUN, 100, 200 + 301, [ok]], /301 s in the future/],
    ['too old', [RUN, 100, 160, [ok]], /ended \d+ s ago/],
    ['metrics not an array', [RUN, 100, 160, {}], /metrics \(element 3\) must be an array/],
    ['entry not a pair', [RUN, 100, 160, [[{ name: 'A' }]]], /metric #0 must be \[spec, stats\]/],
    ['numeric metric id', [RUN, 100, 160, [[7, [1, 0, 0, 0, 0, 0]]]], /numeric metric id/],
    ['empty name', [RUN, 100, 160, [[{ name: '' }, [1, 0, 0, 0, 0, 0]]]], /metric #0: name is empty/],
    ['name over 255 bytes', [RUN, 100, 160, [[{ name: 'é'.repeat(128) }, [1, 0, 0, 0, 0, 0]]]], /name is 256 bytes long, more than 255/],
    ['control character', [RUN, 100, 160, [ok, [{ name: 'Custom/a\nb' }, [1, 0, 0, 0, 0, 0]]]], /metric #1: name contains a control character/],
    ['bad scope', [RUN, 100, 160, [[{ name: 'A', scope: 5 }, [1, 0, 0, 0, 0, 0]]]], /scope must be a string/],
    ['short stats', [RUN, 100, 160, [[{ name: 'A' }, [1, 0, 0]]]], /stats must be \[count/],
    ['NaN as string', [RUN, 100, 160, [[{ name: 'A' }, ['NaN', 0, 0, 0, 0, 0]]]], /call count must be a finite number, got "NaN"/],
    ['null value', [RUN, 100, 160, [[{ name: 'A' }, [1, null, 0, 0, 0, 0]]]], /total time must be a finite number, got null/],
    ['negative count', [RUN, 100, 160, [[{ name: 'A' }, [-1, 0, 0, 0, 0, 0]]]], /call count -1 is negative/],
    ['fractional count', [RUN, 100, 160, [[{ name: 'A' }, [1.5, 0, 0, 0, 0, 0]]]], /call count 1.5 is not a whole number/],
    ['min > max', [RUN, 100, 160, [[{ name: 'A' }, [2, 1, 1, 0.9, 0.1, 0.82]]]], /min 0.9 is greater than max 0.1/],
    ['negative sum of squares', [RUN, 100, 160, [[{ name: 'A' }, [1, 1, 1, 1, 1, -1]]]], /sum of squares -1 is negative/],
  ];
  it.each(cases)('%s', (_what, body, message) => {
    const now = _what === 'too old' ? 160 + 86401 : 200;
    let err: unknown;
    try {
      parseMetricData(body, RUN, limitsAt(now));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/^cannot accept metric_data: /);
    expect((err as Error).message).toMatch(message);
  });

  it('refuses a whole captured payload when one metric in the middle is bad', () => {
    const c = capture('05');
    const metrics = structuredClone(c.body[3]);
    metrics[40][1][0] = -3;
    expect(() => parseMetricData([RUN, c.body[1], c.body[2], metrics], RUN, limitsAt(c.body[2]))).toThrow(/metric #40 .* call count -3 is negative/);
  });
});
