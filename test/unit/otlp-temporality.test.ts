import { describe, expect, it } from 'vitest';
import { normalizeExport } from '../../collector/otlp/otlp-decode.js';
import { planExport, type PlannedRow } from '../../collector/otlp/otlp-plan.js';
import { SeriesStateStore } from '../../collector/otlp/otlp-series-state.js';
import { mergeTimeslices, type Timeslice } from '../../lib/timeslice/timeslice.js';
import { capture, CAPTURE_MINUTE, CAPTURE_WINDOW } from './otlp-capture.js';

const ACCOUNT = 7;
/** A receiver that started before the captured SDK did (so new series count from their start). */
const EARLY = 1795393000_000000000n;
/** A receiver that (re)started after the captured SDK did: the first points are baselines. */
const LATE = 1795393649_000000000n;

/** Runs exports through one store, committing each; returns rows merged per (name, minute). */
function run(store: SeriesStateStore, files: string[]) {
  const merged = new Map<string, Timeslice>();
  const outcomes = [];
  for (const f of files) {
    const txn = store.begin();
    const plan = planExport(normalizeExport(capture(f).body, CAPTURE_WINDOW), ACCOUNT, txn);
    txn.commit(CAPTURE_WINDOW.nowSeconds);
    outcomes.push(plan);
    for (const r of plan.rows) addRow(merged, r);
  }
  return { merged, outcomes };
}

function addRow(merged: Map<string, Timeslice>, r: PlannedRow) {
  for (const n of r.names) {
    const k = `${n}@${r.minute}`;
    const prev = merged.get(k);
    merged.set(k, prev ? mergeTimeslices(prev, r.slice) : { ...r.slice });
  }
}

const row = (m: Map<string, Timeslice>, name: string) => m.get(`${name}@${CAPTURE_MINUTE}`);
const newStore = (startedAtNs: bigint, maxSeries = 1000) => new SeriesStateStore({ maxSeries, idleSeconds: 3600, startedAtNs });

describe('cumulative → per-minute deltas over the real cumulative captures', () => {
  it('counts every series from its start when the receiver was up before the SDK started', () => {
    const { merged, outcomes } = run(newStore(EARLY), ['json-cumulative-export1.json', 'json-cumulative-export2.json', 'json-cumulative-export3.json']);
    expect(outcomes.map((o) => [o.written, o.baseline, o.duplicate])).toEqual([[10, 0, 0], [10, 0, 0], [10, 0, 0]]);
    // Counters: the deltas add up to the final cumulative values; call_count = reports.
    expect(row(merged, 'OTLP/http.server.requests/http.route=/a,http.status_code=500')).toMatchObject({ callCount: 3, totalTime: 5, minTime: 1, maxTime: 2 });
    expect(row(merged, 'OTLP/http.server.requests/http.route=/b,http.status_code=200')).toMatchObject({ callCount: 3, totalTime: 20 });
    expect(row(merged, 'OTLP/http.server.requests')).toMatchObject({ callCount: 12, totalTime: 50 });
    expect(row(merged, 'OTLP/jobs.done/ok=true')).toMatchObject({ callCount: 3, totalTime: 100, minTime: 22, maxTime: 40 });
    // Histogram /a: count 25, sum 1515 ms; min 3 ms (first interval, exact); max 121 ms (moved in export 2, exact).
    const a = row(merged, 'OTLP/http.server.duration/http.route=/a')!;
    expect(a.callCount).toBe(25);
    expect(a.totalTime).toBeCloseTo(1.515, 12);
    expect(a.exclusiveTime).toBeCloseTo(1.515, 12);
    expect([a.minTime, a.maxTime]).toEqual([0.003, 0.121]);
    const all = row(merged, 'OTLP/http.server.duration')!;
    expect([all.callCount, all.minTime, all.maxTime]).toEqual([50, 0.003, 0.122]);
    expect(all.totalTime).toBeCloseTo(3.085, 12);
    // Gauges: 3 samples; exclusive_time = the minute's last sample.
    expect(row(merged, 'OTLP/process.heap.used/kind=heap')).toEqual({
      callCount: 3, totalTime: 11697840 + 8169816 + 8339504, exclusiveTime: 8339504, minTime: 8169816, maxTime: 11697840,
      sumOfSquares: 11697840 ** 2 + 8169816 ** 2 + 8339504 ** 2,
    });
    expect(row(merged, 'OTLP/http.server.active_requests')).toMatchObject({ callCount: 3, totalTime: -34, exclusiveTime: -16, minTime: -16, maxTime: -5 });
  });

  it('keeps the first point after a receiver (re)start as the baseline', () => {
    const { merged, outcomes } = run(newStore(LATE), ['json-cumulative-export1.json', 'json-cumulative-export2.json', 'json-cumulative-export3.json']);
    // 8 cumulative series baselined; the 2 gauge series are written.
    expect(outcomes.map((o) => [o.written, o.baseline])).toEqual([[2, 8], [10, 0], [10, 0]]);
    expect(row(merged, 'OTLP/http.server.requests/http.route=/a,http.status_code=500')).toMatchObject({ callCount: 2, totalTime: 3 });
    expect(row(merged, 'OTLP/http.server.requests')).toMatchObject({ callCount: 8, totalTime: 50 - 19 });
    expect(row(merged, 'OTLP/jobs.done')).toMatchObject({ callCount: 2, totalTime: 62 });
    const a = row(merged, 'OTLP/http.server.duration/http.route=/a')!;
    expect(a.callCount).toBe(15);
    expect(a.totalTime).toBeCloseTo(0.975, 12);
    // Export 2's max moved (115 → 121 ms): exact. Export 3's did not: estimated from its delta buckets
    // (highest non-empty (50, 100] ms) → 0.1. The cumulative min never moved: estimated from the lowest
    // non-empty delta bucket, (10, 25] ms in export 2 → 0.01.
    expect([a.minTime, a.maxTime]).toEqual([0.01, 0.121]);
  });

  it('ignores a resent export (points not newer than the remembered ones)', () => {
    const store = newStore(EARLY);
    const { merged, outcomes } = run(store, ['json-cumulative-export1.json', 'json-cumulative-export2.json', 'json-cumulative-export2.json', 'json-cumulative-export1.json']);
    expect(outcomes.map((o) => [o.written, o.duplicate])).toEqual([[10, 0], [10, 0], [0, 10], [0, 10]]);
    expect(row(merged, 'OTLP/jobs.done')).toMatchObject({ callCount: 2, totalTime: 78 });
  });

  it('treats a new start time as a reset: the new series counts from its start', () => {
    const store = newStore(EARLY);
    const body = capture('json-cumulative-export2.json').body as any;
    run(store, ['json-cumulative-export1.json']);
    const jobs = body.resourceMetrics[0].scopeMetrics[0].metrics.find((m: any) => m.name === 'jobs.done');
    jobs.sum.dataPoints[0].startTimeUnixNano = '1795393651000000000'; // the SDK restarted
    jobs.sum.dataPoints[0].asInt = 4;
    const txn = store.begin();
    const plan = planExport(normalizeExport(body, CAPTURE_WINDOW), ACCOUNT, txn);
    const rows = plan.rows.filter((r) => r.names[0] === 'OTLP/jobs.done');
    expect(rows.map((r) => r.slice.totalTime)).toEqual([4]);
  });

  it('refuses a cumulative value that went down without a new start time, and re-baselines', () => {
    const store = newStore(EARLY);
    run(store, ['json-cumulative-export2.json']);
    const { outcomes } = run(store, ['json-cumulative-export3.json']);
    expect(outcomes[0]!.rejected).toEqual([]);
    const body = capture('json-cumulative-export1.json').body as any;
    for (const p of body.resourceMetrics[0].scopeMetrics[0].metrics[4].sum.dataPoints) p.timeUnixNano = '1795393655000000000';
    const txn = store.begin();
    const plan = planExport(normalizeExport(body, CAPTURE_WINDOW), ACCOUNT, txn);
    // Export 1's gauge samples are older than export 3's and were never seen: out of order, reported too (#18 part 7).
    expect(plan.rejected).toEqual([
      { metric: 'http.server.active_requests', reason: 'gauge sample is older than the newest sample of its series (out of order)', code: 'out_of_order' },
      { metric: 'jobs.done', reason: 'cumulative value went down without a new start time', code: 'went_down' },
      { metric: 'process.heap.used', reason: 'gauge sample is older than the newest sample of its series (out of order)', code: 'out_of_order' },
    ]);
  });

  it('forgets the least recently updated series past the bound, and baselines them when they come back', () => {
    const store = newStore(EARLY, 3);
    const { outcomes } = run(store, ['json-cumulative-export1.json', 'json-cumulative-export2.json']);
    expect(store.size).toBe(3);
    // Each export updates 10 series; 7 are evicted each time (the 4 request counters, 2 duration and
    // the payload histograms: updated first, so least recently). In export 2 those 7 come back and,
    // having started no later than the latest evicted start, are baselined; the other 3 are written.
    // The bound holds at every step (lru-cache): export 2's first 3 updates are evicted again by its
    // later ones, so 7 + 10 evictions are counted (the kept series are the same).
    expect(store.evicted).toBe(17);
    expect(outcomes.map((o) => [o.written, o.baseline])).toEqual([[10, 0], [3, 7]]);
  });
});

describe('delta temporality over the real delta captures', () => {
  it('takes delta points as they are and merges the exports of one minute exactly', () => {
    const { merged, outcomes } = run(newStore(LATE), ['json-delta-export1.json', 'json-delta-export2.json', 'json-delta-export3.json']);
    expect(outcomes.map((o) => o.written)).toEqual([10, 10, 10]);
    expect(row(merged, 'OTLP/http.server.requests/http.route=/a,http.status_code=500')).toMatchObject({ callCount: 3, totalTime: 5 });
    expect(row(merged, 'OTLP/http.server.requests/http.route=/b,http.status_code=200')).toMatchObject({ callCount: 3, totalTime: 19 });
    expect(row(merged, 'OTLP/jobs.done')).toMatchObject({ callCount: 3, totalTime: 98 });
    const a = row(merged, 'OTLP/http.server.duration/http.route=/a')!;
    expect([a.callCount, a.minTime, a.maxTime]).toEqual([25, 0.003, 0.121]);
    expect(a.totalTime).toBeCloseTo(1.515, 12);
    const size = row(merged, 'OTLP/payload.size')!;
    expect([size.callCount, size.totalTime, size.minTime, size.maxTime]).toEqual([49, 60600, 0, 2900]);
    // The up-down counter stays cumulative in delta mode: a level (gauge), last = -15.
    expect(row(merged, 'OTLP/http.server.active_requests')).toMatchObject({ callCount: 3, totalTime: -32, exclusiveTime: -15 });
  });
});

describe('gauge last value', () => {
  const gaugeBody = (points: Array<[string, number]>) => ({
    resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'g', gauge: { dataPoints: points.map(([t, v]) => ({ timeUnixNano: t, asDouble: v })) } }] }] }],
  });
  const step = (store: SeriesStateStore, points: Array<[string, number]>) => {
    const txn = store.begin();
    const plan = planExport(normalizeExport(gaugeBody(points), CAPTURE_WINDOW), ACCOUNT, txn);
    txn.commit(CAPTURE_WINDOW.nowSeconds);
    return plan;
  };

  it('keeps exclusive_time summing to the newest sample of the minute; older samples are resends', () => {
    const store = newStore(EARLY);
    const merged = new Map<string, Timeslice>();
    for (const pts of [[['1795393625000000000', 5]], [['1795393640000000000', 9], ['1795393630000000000', 7]], [['1795393635000000000', 1]], [['1795393640000000000', 9]]] as Array<Array<[string, number]>>) {
      for (const r of step(store, pts).rows) addRow(merged, r);
    }
    // Samples 5, 7, 9 (sorted within an export); 1 at t=35 and 9 again at t=40 are not newer than t=40: skipped.
    expect(row(merged, 'OTLP/g')).toEqual({ callCount: 3, totalTime: 21, exclusiveTime: 9, minTime: 5, maxTime: 9, sumOfSquares: 25 + 49 + 81 });
  });

  it('starts a new minute with the sample itself', () => {
    const store = newStore(EARLY);
    step(store, [['1795393640000000000', 9]]);
    const plan = step(store, [['1795393685000000000', 4]]);
    expect(plan.rows.map((r) => [r.minute, r.slice.exclusiveTime])).toEqual([[CAPTURE_MINUTE + 60, 4]]);
  });
});
