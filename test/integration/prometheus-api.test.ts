import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type DashboardHandle } from '../../dashboard/dashboard.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { ensurePromtool, promtool } from '../harness/promtool.js';
import { Seeder, ts, web } from './dashboard-fixture.js';

/**
 * The Prometheus-compatible API against real MariaDB, checked two ways: its numbers equal the read
 * API's (the dashboard's) on the same data, and Debian's promtool (a Prometheus API client no one
 * here wrote) reads them back unchanged.
 */
const M = 60;
const H = 3600;
const T = Date.UTC(2026, 10, 23) / 1000; // Monday 2026-11-23 00:00 UTC
const NOW = T + 10 * H + 30 * M + 20; // 10:30:20
const TXN = 'WebTransaction/Expressjs/GET//users';

let cluster: TestCluster;
let dashboard: DashboardHandle;
let keyA = '';
let keyB = '';
let shop = 0;
let bin = '';

async function api(path: string, key = keyA): Promise<any> {
  const res = await fetch(`${dashboard.url}${path}`, { headers: { 'X-Api-Key': key } });
  expect(res.status).toBe(200);
  return res.json();
}

async function prom(path: string, params: Record<string, string | number>, init: { key?: string; auth?: string; post?: boolean } = {}): Promise<{ status: number; body: any }> {
  const q = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
  const headers: Record<string, string> = { Authorization: init.auth ?? `Bearer ${init.key ?? keyA}` };
  const url = `${dashboard.url}/prometheus/api/v1${path}`;
  const res = init.post
    ? await fetch(url, { method: 'POST', headers: { ...headers, 'Content-Type': 'application/x-www-form-urlencoded' }, body: q.toString() })
    : await fetch(`${url}?${q}`, { headers });
  return { status: res.status, body: await res.json() };
}

/** Points of a read-API series as Prometheus points: each bucket's value at the bucket's end. */
function expectedPoints(timestamps: number[], values: Array<number | null>, step: number, until: number): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  timestamps.forEach((b, i) => {
    if (values[i] !== null && b + step <= until) out.push([b + step, String(values[i])]);
  });
  return out;
}

beforeAll(async () => {
  bin = ensurePromtool();
  cluster = await startTestCluster({ shards: 1 });
  const a = await cluster.directory.createAccount({ name: 'acme' });
  const b = await cluster.directory.createAccount({ name: 'globex' });
  keyA = a.readKey;
  keyB = b.readKey;
  shop = (await cluster.directory.ensureApplication(a.account.id, 'shop')).id;
  const store = await cluster.registry.storeFor(a.account.shardId);
  const A = new Seeder(store, cluster.writer, a.account.id, shop);
  const B = new Seeder(store, cluster.writer, b.account.id, (await cluster.directory.ensureApplication(b.account.id, 'shop')).id);
  const admin = new Seeder(store, cluster.writer, a.account.id, (await cluster.directory.ensureApplication(a.account.id, 'admin')).id);

  // 10:00 is the current hour (open), 09:00 got a late row after its rollup (dirty: read from minutes),
  // 08:00 is rolled (its minute row is superseded by the hour row at hour resolution).
  await A.minute(T + 10 * H + 10 * M, [
    ...web(64, 32, 8, 4, 2, [48, 8, 8]),
    { name: TXN, t: ts(48, 24, 24, 0.25, 1) },
    { name: 'Datastore/statement/MySQL/users/select', scope: TXN, t: ts(96, 12, 12, 0.0625, 0.5) },
  ]);
  await A.minute(T + 10 * H + 29 * M, [...web(32, 8, 2, 0, 0, [32, 0, 0]), { name: TXN, t: ts(16, 4, 4, 0.125, 2) }]);
  await A.minute(T + 9 * H + 15 * M, web(128, 64, 16, 8, 4, [112, 8, 8]));
  await A.minute(T + 9 * H + 59 * M, web(64, 16, 4, 2, 0, [64, 0, 0]));
  await A.minute(T + 8 * H + 30 * M, web(8, 4, 1, 1, 1, [8, 0, 0]));
  await A.rolled('hour', T + 8 * H, web(512, 128, 32, 16, 8, [448, 32, 32]));
  await A.rolled('hour', T + 9 * H, web(128, 64, 16, 8, 4, [112, 8, 8])); // stale
  await A.rolled('hour', T, web(256, 128, 32, 16, 4, [224, 16, 16]));
  await A.day(T, 'pending');
  await A.state('minute', T + 8 * H, 'done');
  await A.state('minute', T + 9 * H, 'dirty');
  await admin.minute(T + 10 * H + 10 * M, [{ name: 'WebTransaction/Custom/admin-only', t: ts(2, 1) }]);
  await B.minute(T + 10 * H + 10 * M, web(1000, 1000, 100, 100, 500, [0, 0, 1000]));

  dashboard = await startDashboard(cluster.deps({ now: () => NOW, config: cluster.config.with({ APM_DASHBOARD_PORT: '0', APM_DASHBOARD_METRICS_PORT: '0' }) }));
});

afterAll(async () => {
  await dashboard?.stop();
  await cluster?.stop();
});

describe('the numbers equal the dashboard\'s', () => {
  it('minute resolution: rate(apm_calls_total[1m]) * 60 is the overview throughput, point for point', async () => {
    const o = await api(`/api/applications/${shop}/overview?from=${T + 10 * H}&to=${T + 10 * H + 30 * M}`);
    expect(o.window.resolution).toBe('minute');
    const r = await prom('/query_range', { query: 'sum by (app) (rate(apm_calls_total{metric="HttpDispatcher"}[1m])) * 60', start: T + 10 * H + M, end: T + 10 * H + 30 * M, step: 60 });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('success');
    expect(r.body.data.resultType).toBe('matrix');
    const expected = expectedPoints(o.timestamps, o.series.throughput, 60, NOW);
    expect(expected).toEqual([[T + 10 * H + 11 * M, '64'], [T + 10 * H + 30 * M, '32']]);
    expect(r.body.data.result).toEqual([{ metric: { app: 'shop' }, values: expected }]);
  });

  it('hour resolution (with the dirty hour stitched from minutes): throughput, response time and Apdex', async () => {
    const o = await api(`/api/applications/${shop}/overview?last=24h`);
    expect(o.window.resolution).toBe('hour');
    const range = { start: o.window.from + H, end: T + 10 * H, step: 3600 };
    const inc = (family: string, metric: string) => `sum by (app) (increase(${family}{app="shop",metric="${metric}"}[1h]))`;
    const cases: Array<[string, string]> = [
      [`${inc('apm_calls_total', 'HttpDispatcher')} / 60`, 'throughput'],
      [`${inc('apm_time_seconds_total', 'WebTransaction')} / ${inc('apm_calls_total', 'WebTransaction')}`, 'responseTime'],
      [
        `(${inc('apm_apdex_satisfied_total', 'Apdex')} + ${inc('apm_apdex_tolerating_total', 'Apdex')} / 2) / (${inc('apm_apdex_satisfied_total', 'Apdex')} + ${inc('apm_apdex_tolerating_total', 'Apdex')} + ${inc('apm_apdex_frustrating_total', 'Apdex')})`,
        'apdex',
      ],
    ];
    for (const [query, field] of cases) {
      const r = await prom('/query_range', { query, ...range });
      expect(r.status).toBe(200);
      const expected = expectedPoints(o.timestamps, o.series[field], 3600, NOW);
      expect(expected.length).toBe(3);
      expect(r.body.data.result).toEqual([{ metric: { app: 'shop' }, values: expected }]);
    }
    // By hand: 00:00 256 calls, 08:00 512 (the hour row), 09:00 128 + 64 from minutes (not the stale 128).
    const r = await prom('/query_range', { query: cases[0]![0], ...range });
    expect(r.body.data.result[0].values).toEqual([[T + H, String(256 / 60)], [T + 9 * H, String(512 / 60)], [T + 10 * H, String(192 / 60)]]);
  });
});

describe('docs/grafana-overview.json', () => {
  const grafana = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../docs/grafana-overview.json'), 'utf8'));
  const fill = (expr: string, vars: Record<string, string>) => expr.replace(/\$(__interval|__range|app)\b/g, (_, v: string) => vars[v]!);
  const FIELD: Record<string, string> = { 'requests/min': 'throughput', database: 'database', external: 'external', code: 'code', 'errors / transactions': 'errorRate', Apdex: 'apdex' };

  it('every time-series panel draws the overview\'s numbers (1 min steps over the last 30 minutes)', async () => {
    const o = await api(`/api/applications/${shop}/overview?from=${T + 10 * H}&to=${T + 10 * H + 30 * M}`);
    // The p95 panel reads distributions (none here): test/integration/prometheus-gaps.test.ts checks it.
    const targets = grafana.panels.filter((p: any) => p.type === 'timeseries').flatMap((p: any) => p.targets).filter((t: any) => t.legendFormat !== 'p95');
    expect(targets.map((t: any) => FIELD[t.legendFormat])).toEqual(['throughput', 'database', 'external', 'code', 'errorRate', 'apdex']);
    for (const t of targets) {
      const r = await prom('/query_range', { query: fill(t.expr, { app: 'shop', __interval: '60s' }), start: T + 10 * H + M, end: T + 10 * H + 30 * M, step: 60 });
      expect(r.status).toBe(200);
      const want = expectedPoints(o.timestamps, o.series[FIELD[t.legendFormat]!], 60, NOW);
      expect(want.length).toBe(2);
      const got = r.body.data.result as Array<{ metric: object; values: Array<[number, string]> }>;
      expect(got.length).toBe(1);
      expect(got[0]!.values.map(([x]) => x)).toEqual(want.map(([x]) => x));
      got[0]!.values.forEach(([, v], i) => expect(Math.abs(Number(v) - Number(want[i]![1]))).toBeLessThanOrEqual(1e-12 * Math.abs(Number(want[i]![1]))));
    }
  });

  it('the slowest-transactions table and the application variable', async () => {
    const table = grafana.panels.find((p: any) => p.type === 'table').targets[0];
    const r = await prom('/query', { query: fill(table.expr, { app: 'shop', __range: '1800s' }), time: T + 10 * H + 30 * M });
    expect(r.body.data.result).toEqual([{ metric: { metric: TXN }, value: [T + 10 * H + 30 * M, '28'] }]);
    const variable = grafana.templating.list[0];
    expect(variable.query.query).toBe('label_values(apm_calls_total, app)');
    expect((await prom('/label/app/values', { 'match[]': 'apm_calls_total' })).body.data).toEqual(['admin', 'shop']);
  });
});

describe('sums pushed down into SQL', () => {
  it('sum by (app) (rate(…)) summed in SQL equals the sum of the per-series rates', async () => {
    for (const [range, step, at] of [['1m', 60, T + 10 * H + 30 * M], ['1h', 3600, T + 10 * H]] as const) {
      const q = (expr: string) => prom('/query_range', { query: expr, start: T + 8 * H, end: at, step });
      const pushed = await q(`sum by (app) (rate(apm_calls_total{app="shop"}[${range}]))`);
      const inMemory = await q(`sum by (app) (rate(apm_calls_total{app="shop"}[${range}]) * 1)`);
      expect(pushed.body.data.result.length).toBe(1);
      // Same points; values equal up to the last bit (the SQL sum divides once: Σcalls / range, which is
      // the correctly rounded one; the per-series path rounds each rate before adding).
      const points = (r: any) => r.body.data.result[0].values as Array<[number, string]>;
      expect(points(pushed).map(([t]) => t)).toEqual(points(inMemory).map(([t]) => t));
      points(pushed).forEach(([, v], i) => expect(Math.abs(Number(v) - Number(points(inMemory)[i]![1]))).toBeLessThanOrEqual(1e-12 * Number(v)));
      expect(points(pushed).length).toBeGreaterThanOrEqual(2);
    }
    // All web metrics of 10:10 and 10:29 (HttpDispatcher, WebTransaction, Datastore/all ×2, External/all, Errors/all, the transaction, the segment).
    const r = await prom('/query', { query: 'sum(increase(apm_calls_total{app="shop"}[30m]))', time: T + 10 * H + 30 * M });
    expect(r.body.data.result).toEqual([{ metric: {}, value: [T + 10 * H + 30 * M, String(64 + 64 + 128 + 64 + 2 + 48 + 96 + (32 + 32 + 64 + 32 + 0 + 16))] }]);
  });
});

describe('promtool (Debian prometheus package) reads what the read API reads', () => {
  const server = () => `${dashboard.url.replace('http://', 'http://grafana:' + keyA + '@')}/prometheus`;

  it('query instant: the stitched hour 09:00 sums to the read API\'s callCount', async () => {
    const m = await api(`/api/applications/${shop}/metric?name=HttpDispatcher&from=${T + 9 * H}&to=${T + 10 * H}`);
    expect(m.summary.callCount).toBe(192);
    const out = JSON.parse(await promtool(bin, ['query', 'instant', '-o', 'json', `--time=${T + 10 * H}`, server(), 'sum by (app) (increase(apm_calls_total{metric="HttpDispatcher"}[1h]))']));
    expect(out).toEqual([{ metric: { app: 'shop' }, value: [T + 10 * H, String(m.summary.callCount)] }]);
  });

  it('query range: per-minute calls of a transaction equal the read API\'s callCount series', async () => {
    const m = await api(`/api/applications/${shop}/metric?name=${encodeURIComponent(TXN)}&from=${T + 10 * H}&to=${T + 10 * H + 30 * M}`);
    const out = JSON.parse(
      await promtool(bin, ['query', 'range', '-o', 'json', `--start=${T + 10 * H}`, `--end=${T + 10 * H + 30 * M}`, '--step=1m', server(), `apm_calls_total{app="shop",metric="${TXN}"}`]),
    );
    const expected = expectedPoints(m.timestamps, m.series.callCount, 60, NOW);
    expect(expected).toEqual([[T + 10 * H + 11 * M, '48'], [T + 10 * H + 30 * M, '16']]);
    expect(out).toEqual([{ metric: { __name__: 'apm_calls_total', app: 'shop', metric: TXN }, values: expected }]);
    const max = JSON.parse(await promtool(bin, ['query', 'instant', '-o', 'json', `--time=${T + 10 * H + 30 * M}`, server(), `max_over_time(apm_max_time_seconds{metric="${TXN}"}[30m])`]));
    expect(max).toEqual([{ metric: { app: 'shop', metric: TXN }, value: [T + 10 * H + 30 * M, String(Math.max(...m.series.max.filter((x: number | null) => x !== null)))] }]);
  });

  it('query series and labels: the names the read API lists', async () => {
    const names = await api(`/api/applications/${shop}/metrics?prefix=WebTransaction`);
    const series = JSON.parse(await promtool(bin, ['query', 'series', '-o', 'json', '--match=apm_calls_total{app="shop",metric=~"WebTransaction.*"}', server()]));
    expect(series).toEqual(names.metrics.map((n: { name: string }) => ({ __name__: 'apm_calls_total', app: 'shop', metric: n.name })));
    expect(JSON.parse(await promtool(bin, ['query', 'labels', '-o', 'json', server(), 'app']))).toEqual(['admin', 'shop']);
    expect(JSON.parse(await promtool(bin, ['query', 'labels', '-o', 'json', server(), 'scope']))).toEqual([TXN]);
    // Every metric name of every application of the account, Apdex ones included.
    const apps = (await api('/api/applications')).applications as Array<{ id: number }>;
    const all = new Set<string>();
    for (const a of apps) for (const m of (await api(`/api/applications/${a.id}/metrics`)).metrics) all.add(m.name);
    expect(all.has('Apdex')).toBe(true);
    expect(JSON.parse(await promtool(bin, ['query', 'labels', '-o', 'json', server(), 'metric']))).toEqual([...all].sort());
  });
});

describe('scoped to the key\'s account', () => {
  it('another account sees only its own data, under the same application name', async () => {
    const q = { query: 'sum by (app) (increase(apm_calls_total{metric="HttpDispatcher"}[30m]))', time: T + 10 * H + 30 * M };
    expect((await prom('/query', q)).body.data.result).toEqual([{ metric: { app: 'shop' }, value: [T + 10 * H + 30 * M, '96'] }]);
    expect((await prom('/query', q, { key: keyB })).body.data.result).toEqual([{ metric: { app: 'shop' }, value: [T + 10 * H + 30 * M, '1000'] }]);
    expect((await prom('/label/app/values', {}, { key: keyB })).body).toEqual({ status: 'success', data: ['shop'] });
  });

  it('basic auth (key as password) and form POST work; no key is 401 in the Prometheus envelope', async () => {
    const basic = `Basic ${Buffer.from(`x:${keyB}`).toString('base64')}`;
    const r = await prom('/query', { query: 'count(apm_calls_total{app="admin"})', time: NOW }, { auth: basic, post: true });
    expect(r).toEqual({ status: 200, body: { status: 'success', data: { resultType: 'vector', result: [] } } });
    const none = await prom('/query', { query: '1' }, { auth: '' });
    expect(none.status).toBe(401);
    expect(none.body.status).toBe('error');
    expect(none.body.errorType).toBe('unauthorized');
  });
});

describe('errors as Prometheus answers them', () => {
  it('unsupported functions are 422 bad_data naming them; syntax errors 400', async () => {
    const r = await prom('/query', { query: 'predict_linear(apm_calls_total[5m], 60)' });
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({ status: 'error', errorType: 'bad_data' });
    expect(r.body.error).toContain('predict_linear');
    const s = await prom('/query', { query: 'sum(' });
    expect(s.status).toBe(400);
    expect(s.body.errorType).toBe('bad_data');
  });

  it('bounds: points per series, a range shorter than the rows, missing parameters', async () => {
    const p = await prom('/query_range', { query: '1', start: 0, end: 11_001, step: 1 });
    expect(p).toEqual({ status: 400, body: { status: 'error', errorType: 'bad_data', error: 'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)' } });
    const short = await prom('/query', { query: 'rate(apm_calls_total[30s])', time: NOW });
    expect(short.status).toBe(400);
    expect(short.body.error).toContain('[30s]');
    expect((await prom('/query_range', { query: '1', start: 'yesterday', end: NOW, step: 60 })).body.error).toContain('invalid parameter "start"');
  });

  it('bounds on series and query time answer execution and timeout errors', async () => {
    const start = async (env: Record<string, string>, now: () => number) =>
      startDashboard(cluster.deps({ now, config: cluster.config.with({ APM_DASHBOARD_PORT: '0', APM_DASHBOARD_METRICS_PORT: '0', ...env }) }));
    let ticks = NOW;
    const bounded = await start({ APM_PROMETHEUS_MAX_SERIES: '3' }, () => NOW);
    // A clock that moves 10 s each time it is read: the query's 5 s budget is spent by its first read.
    const slow = await start({ APM_PROMETHEUS_TIMEOUT_SECONDS: '5' }, () => (ticks += 10));
    try {
      const ask = async (d: DashboardHandle, query: string, extra: Record<string, string | number> = {}) => {
        const res = await fetch(`${d.url}/prometheus/api/v1/query_range?${new URLSearchParams({ query, start: String(T + 10 * H), end: String(T + 10 * H + 30 * M), step: '60', ...extra })}`, { headers: { Authorization: `Bearer ${keyA}` } });
        return { status: res.status, body: (await res.json()) as any };
      };
      const many = await ask(bounded, 'apm_calls_total');
      expect(many).toEqual({ status: 422, body: { status: 'error', errorType: 'execution', error: 'query would read more than 3 series: narrow its label matchers' } });
      const fine = await ask(bounded, 'apm_calls_total{metric="HttpDispatcher"}');
      expect(fine.status).toBe(200);
      const timedOut = await ask(slow, 'apm_calls_total{metric="HttpDispatcher"}');
      expect(timedOut).toEqual({ status: 503, body: { status: 'error', errorType: 'timeout', error: 'query timed out in query execution' } });
    } finally {
      await bounded.stop();
      await slow.stop();
    }
  });

  it('the dashboard\'s self-metrics count the Prometheus routes and the tables they read', async () => {
    const before = await (await fetch(dashboard.metricsUrl)).text();
    const count = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} ([0-9.]+)$`, 'm').exec(text)?.[1] ?? 0);
    await prom('/query', { query: 'increase(apm_calls_total{metric="HttpDispatcher"}[1h])', time: T + 10 * H });
    await prom('/query', { query: 'deriv(apm_max_time_seconds[5m])' });
    const after = await (await fetch(dashboard.metricsUrl)).text();
    expect(count(after, 'apm_dashboard_requests_total{route="prom_query",status="200",service="dashboard"}') - count(before, 'apm_dashboard_requests_total{route="prom_query",status="200",service="dashboard"}')).toBe(1);
    expect(count(after, 'apm_dashboard_requests_total{route="prom_query",status="422",service="dashboard"}') - count(before, 'apm_dashboard_requests_total{route="prom_query",status="422",service="dashboard"}')).toBe(1);
    // One hour-resolution read of "shop": the hour table of 09:00 is dirty, so read from its minute table.
    expect(count(after, 'apm_dashboard_stitched_hours_total{service="dashboard"}') - count(before, 'apm_dashboard_stitched_hours_total{service="dashboard"}')).toBe(1);
  });

  it('buildinfo and metadata', async () => {
    expect((await prom('/status/buildinfo', {})).body.data.version).toBe('2.53.0');
    expect((await prom('/metadata', { metric: 'apm_calls_total' })).body.data).toEqual({ apm_calls_total: [{ type: 'counter', help: 'Calls of the metric (transactions, segments, requests).', unit: '' }] });
  });
});
