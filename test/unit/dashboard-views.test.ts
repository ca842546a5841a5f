import { describe, expect, it } from 'vitest';
import type { Timeslice } from '../../lib/timeslice/timeslice.js';
import { browserOf, breakdownOf } from '../../dashboard/browser-view.js';
import { apdexScore, bucketMinutes, perCall } from '../../dashboard/derive.js';
import { overviewOf } from '../../dashboard/overview.js';
import { metricKey, type SeriesResult } from '../../dashboard/series-reader.js';
import { rankTransactions, segmentBreakdown } from '../../dashboard/transactions.js';

const ts = (callCount: number, totalTime: number, exclusiveTime = totalTime, minTime = 0, maxTime = 0): Timeslice => ({
  callCount, totalTime, exclusiveTime, minTime, maxTime, sumOfSquares: 0,
});

function result(step: number, from: number, n: number, rows: Record<string, Array<Timeslice | undefined>>): SeriesResult {
  const buckets = Array.from({ length: n }, (_, i) => from + i * step);
  const data = new Map<string, Map<number, Timeslice>>();
  for (const [name, values] of Object.entries(rows)) {
    const m = new Map<number, Timeslice>();
    values.forEach((v, i) => v && m.set(buckets[i]!, v));
    data.set(metricKey({ name, scope: '' }), m);
  }
  return { resolution: { kind: step === 60 ? 'minute' : 'hour', step, from, to: from + n * step, points: n }, buckets, data, stitchedHours: [], unrolledHours: [], tablesRead: { minute: 0, hour: 0, day: 0 } };
}

describe('derive', () => {
  it('counts only the elapsed part of the bucket holding now, at least a minute, and nothing of a future bucket', () => {
    expect(bucketMinutes(0, 3600, 10_000)).toBe(60);
    expect(bucketMinutes(3600, 3600, 3600 + 1800)).toBe(30);
    expect(bucketMinutes(3600, 3600, 3600 + 10)).toBe(1);
    expect(bucketMinutes(3600, 3600, 3600)).toBeNull();
  });
  it('scores Apdex from the reused slots and splits time per parent call', () => {
    expect(apdexScore(ts(6, 2, 2, 0.5, 0.5))).toBe(0.7); // (6 + 2/2) / 10
    expect(apdexScore(ts(0, 0, 0))).toBeNull();
    expect(perCall(ts(4, 1.5), ts(3, 9))).toBe(0.5);
    expect(perCall(undefined, ts(3, 9))).toBe(0);
    expect(perCall(ts(4, 1.5), undefined)).toBeNull();
  });
});

describe('overviewOf', () => {
  it('computes throughput, the response-time split, error rate and Apdex per bucket and for the window', () => {
    const from = 1_800_000_000 - (1_800_000_000 % 3600);
    const now = from + 2 * 3600 + 1800; // half-way through the third hour; the fourth is in the future
    const r = result(3600, from, 4, {
      HttpDispatcher: [ts(600, 60), ts(120, 24), ts(90, 9)],
      WebTransaction: [ts(600, 60), ts(120, 24), ts(90, 9)],
      'Datastore/all': [ts(1200, 15), undefined, ts(10, 9.5)],
      'External/all': [ts(300, 6), ts(12, 2.4)],
      'Errors/all': [ts(6, 0), undefined, ts(9, 0)],
      'OtherTransaction/all': [ts(0, 0), ts(30, 3)],
      Apdex: [ts(500, 80, 20, 0.5, 0.5), ts(100, 10, 10, 0.5, 0.5)],
    });
    const o = overviewOf(r, now);
    expect(o.timestamps).toEqual([from, from + 3600, from + 7200, from + 10800]);
    expect(o.series.throughput).toEqual([10, 2, 3, null]); // 90 calls in the 30 elapsed minutes
    expect(o.series.responseTime).toEqual([0.1, 0.2, 0.1, null]);
    expect(o.series.database).toEqual([0.025, 0, 9.5 / 90, null]);
    expect(o.series.external).toEqual([0.01, 0.02, 0, null]);
    expect(o.series.code).toEqual([0.1 - 0.025 - 0.01, 0.2 - 0 - 0.02, 0, null]); // 0.1 - 0.1056 floors at 0
    expect(o.series.errorRate).toEqual([0.01, 0, 0.1, null]);
    expect(o.series.apdex).toEqual([0.9, 0.875, null, null]);
    // Window: 810 web calls over 150 elapsed minutes; 93 s of web time.
    expect(o.summary.throughput).toBe(810 / 150);
    expect(o.summary.responseTime).toBe(93 / 810);
    expect(o.summary.errorRate).toBe(15 / 840);
    expect(o.summary.apdex).toBe((600 + 45) / 720);
    expect(o.summary.apdexT).toBe(0.5);
  });
});

describe('browserOf and breakdowns', () => {
  it('gives page views per minute, the four phases and the vitals as means of their own metrics', () => {
    const r = result(60, 6000, 2, {
      'Browser/PageLoad': [ts(4, 8)],
      'Browser/Network': [ts(4, 1)],
      'Browser/Backend': [ts(4, 2)],
      'Browser/DOMProcessing': [ts(4, 3)],
      'Browser/Rendering': [ts(4, 2)],
      'Browser/LCP': [ts(2, 3)],
      'Browser/CLS': [ts(4, 0.5)],
      'Browser/Apdex': [ts(2, 2, 0, 2, 2)],
    });
    const b = browserOf(r, 6000 + 150);
    expect(b.series.pageViews).toEqual([4, null]);
    expect([b.series.pageLoad[0], b.series.network[0], b.series.backend[0], b.series.domProcessing[0], b.series.rendering[0]]).toEqual([2, 0.25, 0.5, 0.75, 0.5]);
    expect(b.series.lcp[0]).toBe(1.5);
    expect(b.series.cls[0]).toBe(0.125);
    expect(b.series.fcp[0]).toBeNull();
    expect(b.summary.apdex).toBe(0.75);
    expect(b.summary.apdexT).toBe(2);
    expect(b.summary.pageViews).toBe(2); // 4 views over the 2 minutes of the window (now is past its end)
  });
  it('ranks breakdown rows by views', () => {
    expect(breakdownOf([{ label: 'Firefox', t: ts(2, 3) }, { label: 'Chrome', t: ts(5, 5) }, { label: 'None', t: undefined }], 10)).toEqual([
      { name: 'Chrome', views: 5, meanLoad: 1 },
      { name: 'Firefox', views: 2, meanLoad: 1.5 },
    ]);
  });
});

describe('transactions', () => {
  it('ranks transactions by total time with their own Apdex and share', () => {
    const totals = new Map([
      ['WebTransaction/Custom/ok', ts(100, 2, 2, 0.01, 0.05)],
      ['WebTransaction/Custom/slow', ts(10, 6, 6, 0.5, 0.7)],
    ]);
    const apdex = new Map([['Apdex/Custom/slow', ts(2, 4, 4, 0.5, 0.5)]]);
    expect(rankTransactions(totals, apdex, 10, 20)).toEqual([
      { name: 'WebTransaction/Custom/slow', calls: 10, throughput: 1, meanTime: 0.6, minTime: 0.5, maxTime: 0.7, totalTime: 6, share: 0.75, apdex: 0.4 },
      { name: 'WebTransaction/Custom/ok', calls: 100, throughput: 10, meanTime: 0.02, minTime: 0.01, maxTime: 0.05, totalTime: 2, share: 0.25, apdex: null },
    ]);
    expect(rankTransactions(totals, apdex, 10, 1)).toHaveLength(1);
  });
  it('breaks a transaction down by exclusive time of its scoped metrics', () => {
    const segs = new Map([['Datastore/statement/MySQL/users/select', ts(20, 3, 2.5)], ['External/api.example/http', ts(10, 1, 1)]]);
    expect(segmentBreakdown(segs, ts(10, 5), 10)).toEqual([
      { name: 'Datastore/statement/MySQL/users/select', calls: 20, exclusiveTime: 2.5, totalTime: 3, perTransaction: 0.25, share: 0.5 },
      { name: 'External/api.example/http', calls: 10, exclusiveTime: 1, totalTime: 1, perTransaction: 0.1, share: 0.2 },
    ]);
  });
});
