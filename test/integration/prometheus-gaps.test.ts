import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type DashboardHandle } from '../../dashboard/dashboard.js';
import { bucketOf, GAMMA, type BucketCounts } from '../../lib/distribution/log-buckets.js';
import { writeDistributions, type DistRow } from '../../lib/distribution/dist-writer.js';
import { bucketBounds } from '../../dashboard/prometheus/histogram-series.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { Seeder, ts } from './dashboard-fixture.js';

/**
 * The #15 gaps on real MariaDB: `apm_distribution_bucket{le}` series whose histogram_quantile agrees
 * with the read API's percentiles of the same distribution rows (within the bucket scheme's error),
 * and the `host` label (per-agent rows, agents of one host merged) beside the application-wide rows.
 */
const M = 60;
const H = 3600;
const T = Date.UTC(2026, 10, 23) / 1000;
const NOW = T + 10 * H + 30 * M;
const M10 = T + 10 * H + 10 * M;
const M11 = M10 + M;
const LATENCY = 'Custom/latency';

let cluster: TestCluster;
let dashboard: DashboardHandle;
let key = '';
let shop = 0;
const agents: Record<string, number> = {};
/** The raw values written, per minute. */
const values = new Map<number, number[]>();

async function prom(path: string, params: Record<string, string | number>): Promise<any> {
  const q = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
  const res = await fetch(`${dashboard.url}/prometheus/api/v1${path}?${q}`, { headers: { Authorization: `Bearer ${key}` } });
  const body = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.data;
}

async function api(path: string): Promise<any> {
  const res = await fetch(`${dashboard.url}${path}`, { headers: { 'X-Api-Key': key } });
  expect(res.status).toBe(200);
  return res.json();
}

const vector = (d: any) => d.result.map((s: any) => [s.metric, Number(s.value[1])]);

beforeAll(async () => {
  cluster = await startTestCluster({ shards: 1 });
  const a = await cluster.directory.createAccount({ name: 'acme' });
  key = a.readKey;
  const accountId = a.account.id;
  shop = (await cluster.directory.ensureApplication(accountId, 'shop')).id;
  const store = await cluster.registry.storeFor(a.account.shardId);
  const seeder = new Seeder(store, cluster.writer, accountId, shop);
  // 300 values in 10:10, 200 in 10:11, spread over 0.05 s … 1 s (deterministic).
  values.set(M10, Array.from({ length: 300 }, (_, i) => 0.05 * Math.exp(3 * (((i * 7919) % 1000) / 1000))));
  values.set(M11, Array.from({ length: 200 }, (_, i) => 0.05 * Math.exp(3 * (((i * 104_729) % 997) / 997))));
  for (const [minute, vs] of values) {
    const total = vs.reduce((x, y) => x + y, 0);
    // HttpDispatcher of 10:10 comes from three agents below (the minute seal derives the application's row).
    const http = minute === M10 ? [] : [{ name: 'HttpDispatcher', t: ts(16, 4) }];
    await seeder.minute(minute, [{ name: LATENCY, t: ts(vs.length, total) }, { name: 'WebTransaction', t: ts(vs.length, total) }, ...http]);
  }
  const agentId = await store.applicationAgentId(accountId, shop);
  const [metricId, webId] = await store.metricIds(accountId, [{ name: LATENCY, scope: '' }, { name: 'WebTransaction', scope: '' }], { applicationId: shop });
  const rows: DistRow[] = [];
  for (const [minute, vs] of values) {
    const counts: BucketCounts = new Map();
    for (const v of vs) counts.set(bucketOf(v), (counts.get(bucketOf(v)) ?? 0) + 1);
    // The same values as the latency metric's and as the web transactions' (the overview's response-time percentiles).
    for (const id of [metricId!, webId!]) for (const [bucket, count] of counts) rows.push({ metricId: id, agentId, period: minute, bucket, count });
  }
  expect(await writeDistributions(store, accountId, rows, 'gaps:1')).toBe('committed');

  // Per-agent rows: web-1 ran two agents (pid 11, then 12), web-2 one; the application-wide row is their sum.
  const [http] = await store.metricIds(accountId, [{ name: 'HttpDispatcher', scope: '' }], { applicationId: shop });
  const perAgent: Array<[string, number, ReturnType<typeof ts>]> = [
    ['web-1', 11, ts(5, 1, 1, 0.1, 0.5)],
    ['web-1', 12, ts(7, 2, 2, 0.05, 0.9)],
    ['web-2', 13, ts(4, 1, 1, 0.2, 0.3)],
  ];
  for (const [host, pid, t] of perAgent) {
    const id = await store.agentId(accountId, { applicationId: shop, host, pid, language: 'nodejs' });
    agents[`${host}:${pid}`] = id;
    await cluster.writer.write({ accountId, shardId: store.shardId, rows: [{ kind: 'minute', t: M10, row: { metricId: http!, agentId: id, period: M10, ...t }, applicationAgentId: agentId }] });
  }
  // web-2's own distribution rows of the latency metric: 3 values of 0.5 s and 1 of 2 s in 10:10.
  const web2 = agents['web-2:13']!;
  expect(await writeDistributions(store, accountId, [
    { metricId: metricId!, agentId: web2, period: M10, bucket: bucketOf(0.5), count: 3 },
    { metricId: metricId!, agentId: web2, period: M10, bucket: bucketOf(2), count: 1 },
  ], 'gaps:web-2')).toBe('committed');
  dashboard = await startDashboard(cluster.deps({ now: () => NOW, config: cluster.config.with({ APM_DASHBOARD_PORT: '0', APM_DASHBOARD_METRICS_PORT: '0' }) }));
});

afterAll(async () => {
  await dashboard?.stop();
  await cluster?.stop();
});

describe('apm_distribution_bucket{le}: histogram_quantile against the read API', () => {
  const p95 = 'histogram_quantile(0.95, sum by (le) (increase(apm_distribution_bucket{app="shop",metric="Custom/latency"}[1m])))';

  it('+Inf is the count; le bounds are the scheme\'s bucket edges', async () => {
    const inf = await prom('/query', { query: 'sum(increase(apm_distribution_bucket{metric="Custom/latency",le="+Inf"}[5m]))', time: M11 + M });
    expect(vector(inf)).toEqual([[{}, 500]]);
    const all = await prom('/query', { query: 'apm_distribution_bucket{metric="Custom/latency"}', time: M11 });
    const les = all.result.map((s: any) => Number(s.metric.le)).filter((x: number) => Number.isFinite(x));
    // Every finite bound is γ^i for an integer i (the zero bucket's 1e-6 does not occur here).
    for (const le of les) expect(Math.abs(Math.log(le) / Math.log(GAMMA) - Math.round(Math.log(le) / Math.log(GAMMA)))).toBeLessThan(1e-9);
    const top = all.result.find((s: any) => s.metric.le === '+Inf');
    expect(top.metric).toEqual({ __name__: 'apm_distribution_bucket', app: 'shop', metric: LATENCY, le: '+Inf' });
    expect(top.value[1]).toBe('300');
  });

  it('per minute: p95 equals the read API\'s p95 within the scheme\'s error (same bucket)', async () => {
    const r = await prom('/query_range', { query: p95, start: M10 + M, end: M11 + M, step: 60 });
    const o = await api(`/api/applications/${shop}/metric?name=${encodeURIComponent(LATENCY)}&from=${T + 10 * H}&to=${NOW}`);
    expect(o.window.resolution).toBe('minute');
    expect(r.result).toHaveLength(1);
    const points: Array<[number, string]> = r.result[0].values;
    expect(points.map((p) => p[0])).toEqual([M10 + M, M11 + M]);
    for (const [end, v] of points) {
      const minute = end - M;
      const fromApi: number = o.percentiles.p95[o.timestamps.indexOf(minute)];
      const sorted = [...values.get(minute)!].sort((x, y) => x - y);
      const exact = sorted[Math.floor(0.95 * (sorted.length - 1))]!;
      const [lo, hi] = bucketBounds(bucketOf(exact));
      const got = Number(v);
      expect(got).toBeGreaterThan(lo);
      expect(got).toBeLessThanOrEqual(hi);
      // The read API's representative is within α/(1 − α) of every value of its bucket, histogram_quantile within γ − 1 of the exact value.
      expect(Math.abs(got - fromApi) / fromApi).toBeLessThanOrEqual((GAMMA + 1) / 2 - 1 + 1e-12);
      expect(Math.abs(got - exact) / exact).toBeLessThanOrEqual(GAMMA - 1);
    }
  });

  it('over the window: p95 of both minutes equals the read API\'s summary p95 within the error', async () => {
    const r = await prom('/query', { query: 'histogram_quantile(0.95, sum by (le) (rate(apm_distribution_bucket{app="shop",metric="Custom/latency"}[5m])))', time: M11 + M });
    const o = await api(`/api/applications/${shop}/metric?name=${encodeURIComponent(LATENCY)}&from=${T + 10 * H}&to=${NOW}`);
    const got = Number(r.result[0].value[1]);
    const api95: number = o.percentiles.summary.p95;
    const sorted = [...values.get(M10)!, ...values.get(M11)!].sort((x, y) => x - y);
    const exact = sorted[Math.floor(0.95 * 499)]!;
    expect(bucketOf(api95)).toBe(bucketOf(exact));
    expect(Math.abs(got - api95) / api95).toBeLessThanOrEqual((GAMMA + 1) / 2 - 1 + 1e-12);
    expect(Math.abs(got - exact) / exact).toBeLessThanOrEqual(GAMMA - 1);
  });
});

describe('docs/grafana-overview.json: the p95 panel', () => {
  it('draws the overview\'s p95 response time per minute, within the bucket scheme\'s error', async () => {
    const grafana = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../docs/grafana-overview.json'), 'utf8'));
    const [target] = grafana.panels.flatMap((p: any) => p.targets).filter((t: any) => t.legendFormat === 'p95');
    const expr = String(target.expr).replace('$app', 'shop').replace('$__interval', '60s');
    const r = await prom('/query_range', { query: expr, start: M10 + M, end: M11 + M, step: 60 });
    const o = await api(`/api/applications/${shop}/overview?from=${T + 10 * H}&to=${NOW}`);
    expect(o.source).toBe('newrelic');
    const points: Array<[number, string]> = r.result[0].values;
    expect(points.map((p) => p[0])).toEqual([M10 + M, M11 + M]);
    for (const [end, v] of points) {
      const fromOverview: number = o.percentiles.p95[o.timestamps.indexOf(end - M)];
      expect(Math.abs(Number(v) - fromOverview) / fromOverview).toBeLessThanOrEqual((GAMMA + 1) / 2 - 1 + 1e-12);
    }
  });
});

describe('host: per-agent series beside the application-wide rows', () => {
  const at = M10 + M;

  it('without a host matcher: the application-wide row only (no host label)', async () => {
    expect(vector(await prom('/query', { query: 'apm_calls_total{metric="HttpDispatcher"}', time: at }))).toEqual([[{ __name__: 'apm_calls_total', app: 'shop', metric: 'HttpDispatcher' }, 16]]);
    // 16 in 10:10 and 16 in 10:11 application-wide (the agents' 16 are not added again).
    expect(vector(await prom('/query', { query: 'sum(increase(apm_calls_total{metric="HttpDispatcher"}[5m]))', time: at + 4 * M }))).toEqual([[{}, 32]]);
  });

  it('by (host): per-agent rows, the agents of one host merged', async () => {
    const d = await prom('/query', { query: 'sum by (host) (increase(apm_calls_total{metric="HttpDispatcher"}[5m]))', time: at + 4 * M });
    expect(vector(d).sort((x: any, y: any) => x[0].host.localeCompare(y[0].host))).toEqual([[{ host: 'web-1' }, 12], [{ host: 'web-2' }, 4]]);
  });

  it('a host matcher selects that host\'s rows (min and max merged over its agents), equal to the read API per agent', async () => {
    const max = await prom('/query', { query: 'apm_max_time_seconds{metric="HttpDispatcher",host="web-1"}', time: at });
    expect(vector(max)).toEqual([[{ __name__: 'apm_max_time_seconds', app: 'shop', metric: 'HttpDispatcher', host: 'web-1' }, 0.9]]);
    expect(vector(await prom('/query', { query: 'apm_min_time_seconds{metric="HttpDispatcher",host="web-1"}', time: at }))[0][1]).toBe(0.05);
    const two = await prom('/query', { query: 'apm_calls_total{metric="HttpDispatcher",host=~"web-2|nowhere"}', time: at });
    const o = await api(`/api/applications/${shop}/metric?name=HttpDispatcher&agent=${agents['web-2:13']}&from=${T + 10 * H}&to=${NOW}`);
    const fromApi = o.series.callCount[o.timestamps.indexOf(M10)];
    expect(fromApi).toBe(4);
    expect(vector(two)).toEqual([[{ __name__: 'apm_calls_total', app: 'shop', metric: 'HttpDispatcher', host: 'web-2' }, fromApi]]);
    expect(vector(await prom('/query', { query: 'apm_calls_total{metric="HttpDispatcher",host="nowhere"}', time: at }))).toEqual([]);
  });

  it('histogram buckets per host come from that host\'s agents\' distribution rows', async () => {
    const d = await prom('/query', { query: 'sum by (host, le) (increase(apm_distribution_bucket{metric="Custom/latency",host="web-2"}[1m]))', time: at });
    const byLe = new Map(d.result.map((s: any) => [s.metric.le, Number(s.value[1])]));
    expect(d.result.every((s: any) => s.metric.host === 'web-2')).toBe(true);
    expect(byLe.get('+Inf')).toBe(4);
    const [lo05, hi05] = bucketBounds(bucketOf(0.5));
    expect(Number([...byLe.keys()].find((le) => Number(le) === hi05))).toBeCloseTo(hi05, 15);
    expect(byLe.get([...byLe.keys()].find((le) => Number(le) === lo05))).toBe(0);
    expect(byLe.get([...byLe.keys()].find((le) => Number(le) === hi05))).toBe(3);
    const [lo2] = bucketBounds(bucketOf(2));
    expect(byLe.get([...byLe.keys()].find((le) => Number(le) === lo2))).toBe(3);
    expect(byLe.size).toBe(5); // both edges of the two buckets, and +Inf
  });

  it('label values of host list the agents\' hosts; /series with a host matcher lists per-host series', async () => {
    expect(await prom('/label/host/values', {})).toEqual(['web-1', 'web-2']);
    expect(await prom('/series', { 'match[]': 'apm_calls_total{metric="HttpDispatcher",host=~"web-.*"}' })).toEqual([
      { __name__: 'apm_calls_total', app: 'shop', metric: 'HttpDispatcher', host: 'web-1' },
      { __name__: 'apm_calls_total', app: 'shop', metric: 'HttpDispatcher', host: 'web-2' },
    ]);
    expect(await prom('/series', { 'match[]': 'apm_calls_total{metric="HttpDispatcher"}' })).toEqual([{ __name__: 'apm_calls_total', app: 'shop', metric: 'HttpDispatcher' }]);
  });
});
