import { describe, expect, it } from 'vitest';
import { decodeBeacon } from '../../beacon/beacon-payload.js';
import { parseConnectRequest } from '../../collector/newrelic/connect-request.js';
import { parseMetricData } from '../../collector/newrelic/metric-data.js';
import { benchCalls, benchMetrics, benchStats, expectedCallCount, MIN_METRICS, seedOf } from '../../bench/bench-metrics.js';
import { minuteRows } from '../../bench/ceiling-writer.js';
import { agentPath, beaconBody, BENCH_APP, connectBody, HarvestBodies, harvestWindow } from '../../bench/load-bodies.js';

const HOUR = Date.UTC(2026, 10, 23, 10) / 1000;

describe('bench metrics and values', () => {
  it('starts with the application totals and grows by route, unique by (name, scope)', () => {
    expect(benchMetrics(MIN_METRICS).map((m) => m.name)).toEqual(['HttpDispatcher', 'WebTransaction', 'WebTransactionTotalTime', 'Datastore/all', 'External/all', 'Errors/all', 'Apdex']);
    const twelve = benchMetrics(12);
    expect(twelve.slice(7)).toEqual([
      { name: 'WebTransaction/Expressjs/GET//api/r0', scope: '', apdex: false },
      { name: 'Apdex/Expressjs/GET//api/r0', scope: '', apdex: true },
      { name: 'Datastore/statement/MySQL/t0/select', scope: 'WebTransaction/Expressjs/GET//api/r0', apdex: false },
      { name: 'External/svc0.example/http', scope: 'WebTransaction/Expressjs/GET//api/r0', apdex: false },
      { name: 'Custom/bench/v0', scope: '', apdex: false },
    ]);
    const hundred = benchMetrics(100);
    expect(new Set(hundred.map((m) => `${m.name}\u0000${m.scope}`)).size).toBe(100);
    expect(() => benchMetrics(6)).toThrow('BUG: a harvest needs at least 7 metrics, got 6');
  });

  it('derives every value from (account, agent, metric, minute)', () => {
    expect(seedOf(1, 2, 3, 4)).toBe(219_922);
    expect(benchStats(219_922, false)).toEqual({ callCount: 3, totalTime: 0.07200000000000001, exclusiveTime: 0.054000000000000006, minTime: 0.012, maxTime: 0.048, sumOfSquares: 0.002592 });
    expect(benchStats(219_922, true)).toEqual({ callCount: 3, totalTime: 1, exclusiveTime: 0, minTime: 0.5, maxTime: 0.5, sumOfSquares: 0 });
    expect(benchCalls(219_922)).toBe(3);
  });

  it('expects agent rows plus the same again for the application rows', () => {
    // Account 0, agents 0 and 1, metrics 0..6, minute 0: calls 1,12,3,14,5,16,7 and 10,1,12,3,14,5,16.
    expect(expectedCallCount([0], 2, 7, 0)).toBe(2 * (58 + 61));
    expect([0, 1, 2].map((k) => expectedCallCount([0, 1], 3, 12, k))).toEqual([1560, 1472, 1504]);
  });

  it('builds the ceiling rows the writer would store: one per (agent, metric); the application rows come from the seal', () => {
    const metrics = benchMetrics(7);
    const ids = { account: { index: 0 } as never, metricIds: [11, 12, 13, 14, 15, 16, 17], agentIds: [101, 102], applicationAgentId: 100 };
    const rows = minuteRows(ids, metrics, HOUR, 0);
    expect(rows).toHaveLength(2 * 7);
    expect(rows.filter((r) => r.agentId === 100)).toEqual([]);
    // The agents' call counts are half the stored total: the seal adds as much again (the application rows).
    expect(2 * rows.reduce((a, r) => a + r.callCount, 0)).toBe(expectedCallCount([0], 2, 7, 0));
    const a0 = benchStats(seedOf(0, 0, 0, 0), false);
    expect(rows[0]).toEqual({ metricId: 11, agentId: 101, period: HOUR, ...a0 });
    expect(rows[7]).toEqual({ metricId: 11, agentId: 102, period: HOUR, ...benchStats(seedOf(0, 1, 0, 0), false) });
    expect(rows.every((r) => r.period === HOUR)).toBe(true);
  });
});

describe('bench payloads are what the real services accept', () => {
  it('windows follow each other and end inside their minute', () => {
    expect(harvestWindow(HOUR, 0)).toEqual({ start: HOUR - 29.5, end: HOUR + 30.5 });
    expect(harvestWindow(HOUR, 1).start).toBe(harvestWindow(HOUR, 0).end);
    expect(Math.floor(harvestWindow(HOUR, 59).end / 60) * 60).toBe(HOUR + 59 * 60);
  });

  it('metric_data passes the collector\'s validation with every metric and value intact', () => {
    const metrics = benchMetrics(12);
    const text = new HarvestBodies(metrics).body('run-1', 3, 4, HOUR, 5);
    const h = parseMetricData(JSON.parse(text), 'run-1', { now: HOUR + 3599, maxFutureSeconds: 300, maxAgeSeconds: 86400 });
    expect(h.start).toBe(HOUR + 270.5);
    expect(h.end).toBe(HOUR + 330.5);
    expect(h.metrics).toHaveLength(12);
    expect(h.metrics.map((m) => [m.name, m.scope])).toEqual(metrics.map((m) => [m.name, m.scope]));
    metrics.forEach((m, i) => expect(h.metrics[i]!.stats).toEqual(benchStats(seedOf(3, 4, i, 5), m.apdex)));
  });

  it('connect passes the collector\'s validation', () => {
    expect(parseConnectRequest(JSON.parse(connectBody(7)))).toEqual({ appNames: [BENCH_APP], host: 'bench-host-7', pid: 1007, language: 'nodejs', agentVersion: '13.20.0' });
    expect(agentPath('metric_data', 'k+y', 'r/1')).toBe('/agent_listener/invoke_raw_method?method=metric_data&license_key=k%2By&protocol_version=17&marshal_format=json&run_id=r%2F1');
    expect(agentPath('connect', 'key')).toBe('/agent_listener/invoke_raw_method?method=connect&license_key=key&protocol_version=17&marshal_format=json');
  });

  it('beacons pass the beacon\'s validation', () => {
    for (const i of [0, 1, 2, 50, 96, 97, 1234]) {
      const v = decodeBeacon(beaconBody('bk', i));
      expect(v.browserKey).toBe('bk');
      expect(v.application).toBe(BENCH_APP);
      expect(v.path).toBe(`/products/${1000 + (i % 500)}`);
    }
    expect(decodeBeacon(beaconBody('bk', 0)).marks).toEqual({ activationStart: 0, requestStart: 5, responseStart: 35, responseEnd: 45, domContentLoadedEventEnd: 145, loadEventEnd: 195 });
  });
});
