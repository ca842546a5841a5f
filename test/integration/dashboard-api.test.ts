import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type DashboardHandle } from '../../dashboard/dashboard.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { D, H, M, NOW, seedDashboardApi, T, TXN, utc } from './dashboard-api-data.js';


let cluster: TestCluster;
let dashboard: DashboardHandle;
let keyA = '';
let keyB = '';
let appA = 0;
let appB = 0;

async function get(path: string, key: string | null = keyA, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${dashboard.url}${path}`, { headers: { ...(key ? { 'X-Api-Key': key } : {}), ...headers } });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

beforeAll(async () => {
  cluster = await startTestCluster({ shards: 1 });
  const a = await cluster.directory.createAccount({ name: 'acme' });
  const b = await cluster.directory.createAccount({ name: 'globex' });
  keyA = a.readKey;
  keyB = b.readKey;
  appA = (await cluster.directory.ensureApplication(a.account.id, 'shop')).id;
  appB = (await cluster.directory.ensureApplication(b.account.id, 'shop')).id;
  await seedDashboardApi(cluster, a, b, appA, appB);

  dashboard = await startDashboard(
    cluster.deps({ now: () => NOW, config: cluster.config.with({ APM_DASHBOARD_PORT: '0', APM_DASHBOARD_METRICS_PORT: '0' }) }),
  );
});

afterAll(async () => {
  await dashboard?.stop();
  await cluster?.stop();
});

describe('time series at minute resolution', () => {
  it('last 30 minutes: 31 minute points with throughput, the response-time split, error rate and Apdex', async () => {
    const { status, body } = await get(`/api/applications/${appA}/overview?last=30m`);
    expect(status).toBe(200);
    expect(body.window).toEqual({ from: T + 10 * H, to: T + 10 * H + 31 * M, resolution: 'minute', step: 60, points: 31 });
    expect(body.timestamps[10]).toBe(T + 10 * H + 10 * M);
    const s = body.series;
    const only = (i10: unknown, i29: unknown) => Array.from({ length: 31 }, (_, i) => (i === 10 ? i10 : i === 29 ? i29 : null));
    expect(s.throughput).toEqual(only(64, 32));
    expect(s.responseTime).toEqual(only(0.5, 0.25));
    expect(s.database).toEqual(only(0.125, 0.0625));
    expect(s.external).toEqual(only(0.0625, 0));
    expect(s.code).toEqual(only(0.3125, 0.1875));
    expect(s.errorRate).toEqual(only(0.03125, 0));
    expect(s.apdex).toEqual(only(0.8125, 1));
    // The window's 1,820 elapsed seconds hold 96 calls and 40 s of web time.
    expect(body.summary).toEqual({
      throughput: 96 / (1820 / 60), responseTime: 40 / 96, database: 10 / 96, external: 4 / 96, code: 40 / 96 - 10 / 96 - 4 / 96,
      errorRate: 2 / 96, apdex: (80 + 4) / 96, apdexT: 0.5,
    });
    expect(body.freshness).toEqual({ stitchedHours: [], unrolledHours: [], tablesRead: { minute: 1, hour: 0, day: 0 } });
  });
});

describe('time series at hour resolution, stitched at the right edge', () => {
  it('last 24 hours: rolled hours from the hour table, the dirty and the current hour from minute data', async () => {
    const { body } = await get(`/api/applications/${appA}/overview?last=24h`);
    expect(body.window).toEqual({ from: T - 14 * H, to: T + 11 * H, resolution: 'hour', step: 3600, points: 25 });
    const at = (v: Record<number, unknown>) => Array.from({ length: 25 }, (_, i) => (i in v ? v[i] : null));
    expect(body.series.throughput).toEqual(at({ 2: 1024 / 60, 14: 256 / 60, 22: 512 / 60, 23: 192 / 60, 24: 96 / (1820 / 60) }));
    expect(body.series.responseTime).toEqual(at({ 2: 0.25, 14: 0.5, 22: 0.25, 23: 80 / 192, 24: 40 / 96 }));
    expect(body.series.errorRate).toEqual(at({ 2: 16 / 1024, 14: 4 / 256, 22: 8 / 512, 23: 4 / 192, 24: 2 / 96 }));
    expect(body.series.apdex[23]).toBe((176 + 4) / 192);
    expect(body.series.apdex[24]).toBe((80 + 4) / 96);
    expect(body.series.code[23]).toBe(80 / 192 - 20 / 192 - 10 / 192);
    // The newest point is there (no gap at the right edge), read from the minute tables not rolled up.
    expect(body.freshness).toEqual({ stitchedHours: [T + 9 * H, T + 10 * H], unrolledHours: [], tablesRead: { minute: 2, hour: 1, day: 0 } });
  });

  it('last 7 days: 169 hourly points, still only the two unrolled minute tables', async () => {
    const { body } = await get(`/api/applications/${appA}/overview?last=7d`);
    expect(body.window).toMatchObject({ from: T - 7 * D + 10 * H, resolution: 'hour', points: 169 });
    expect(body.series.responseTime[2]).toBe(0.5);
    expect(body.series.throughput[2]).toBe(128 / 60);
    expect(body.series.throughput[168]).toBe(96 / (1820 / 60));
    expect(body.freshness.tablesRead).toEqual({ minute: 2, hour: 1, day: 0 });
  });

  it('reads hour tables of template v1 and v2 in one window (a month boundary)', async () => {
    const { body } = await get(`/api/applications/${appA}/overview?from=${utc(2026, 9, 31, 18)}&to=${utc(2026, 10, 1, 4)}`);
    expect(body.window).toEqual({ from: utc(2026, 9, 31, 18), to: utc(2026, 10, 1, 4), resolution: 'hour', step: 3600, points: 10 });
    const at = (v: Record<number, unknown>) => Array.from({ length: 10 }, (_, i) => (i in v ? v[i] : null));
    expect(body.series.throughput).toEqual(at({ 4: 64 / 60, 7: 128 / 60 }));
    expect(body.series.responseTime).toEqual(at({ 4: 0.25, 7: 0.25 }));
    expect(body.series.errorRate).toEqual(at({ 4: 0, 7: 4 / 128 }));
    expect(body.freshness.tablesRead).toEqual({ minute: 0, hour: 2, day: 0 });
  });

  it('with the stitch bound at 1, an older unrolled hour is answered from its hour table and flagged', async () => {
    const bounded = await startDashboard(
      cluster.deps({ now: () => NOW, config: cluster.config.with({ APM_DASHBOARD_PORT: '0', APM_DASHBOARD_METRICS_PORT: '0', APM_DASHBOARD_MAX_STITCH_TABLES: '1' }) }),
    );
    try {
      const res = await fetch(`${bounded.url}/api/applications/${appA}/overview?last=24h`, { headers: { 'X-Api-Key': keyA } });
      const body = await res.json();
      expect(body.freshness).toEqual({ stitchedHours: [T + 10 * H], unrolledHours: [T + 9 * H], tablesRead: { minute: 1, hour: 1, day: 0 } });
      expect(body.series.throughput[23]).toBe(128 / 60); // the stale hourly row
      expect(body.series.throughput[24]).toBe(96 / (1820 / 60));
    } finally {
      await bounded.stop();
    }
  });
});

describe('time series at day resolution', () => {
  it('last 30 days: daily rows, a dirty day and today composed from hours and minutes', async () => {
    const { body } = await get(`/api/applications/${appA}/overview?last=30d`);
    expect(body.window).toEqual({ from: utc(2026, 9, 24), to: T + D, resolution: 'day', step: 86400, points: 31 });
    const at = (v: Record<number, unknown>) => Array.from({ length: 31 }, (_, i) => (i in v ? v[i] : null));
    // Today: hours 00 and 08 (hour table) + 09 and 10 (minute tables) = 1,056 calls, 376 s, in 37,820 elapsed s.
    expect(body.series.throughput).toEqual(at({ 6: 256 / 1440, 7: 64 / 1440, 8: 128 / 1440, 23: 128 / 1440, 29: 32768 / 1440, 30: 1056 / (37820 / 60) }));
    expect(body.series.responseTime).toEqual(at({ 6: 0.25, 7: 0.25, 8: 0.25, 23: 0.5, 29: 0.25, 30: 376 / 1056 }));
    expect(body.series.errorRate[30]).toBe((4 + 8 + 4 + 2) / 1056);
    expect(body.series.apdex[6]).toBe((224 + 8) / 256);
    expect(body.freshness).toEqual({ stitchedHours: [T + 9 * H, T + 10 * H], unrolledHours: [], tablesRead: { minute: 2, hour: 2, day: 1 } });
  });

  it('last year: 366 daily points from the day table, never dozens of minute tables', async () => {
    const { body } = await get(`/api/applications/${appA}/overview?last=1y`);
    expect(body.window).toMatchObject({ from: T - 365 * D, to: T + D, resolution: 'day', points: 366 });
    expect(body.series.throughput[364]).toBe(32768 / 1440);
    expect(body.series.throughput[365]).toBe(1056 / (37820 / 60));
    expect(body.series.throughput[341]).toBe(256 / 1440); // 30 October, composed from October's (v1) hour table
    expect(body.freshness.tablesRead).toEqual({ minute: 2, hour: 2, day: 1 });
  });
});

describe('transactions, browser and metrics by name', () => {
  it('ranks the top transactions and breaks one down by segment', async () => {
    const { body } = await get(`/api/applications/${appA}/transactions?last=30m`);
    const minutes = 1820 / 60;
    expect(body.transactions).toEqual([
      { name: TXN, calls: 48, throughput: 48 / minutes, meanTime: 0.5, minTime: 0.25, maxTime: 1, totalTime: 24, share: 0.75, apdex: 0.875 },
      { name: 'WebTransaction/Expressjs/POST//orders', calls: 16, throughput: 16 / minutes, meanTime: 0.5, minTime: 0.25, maxTime: 0.75, totalTime: 8, share: 0.25, apdex: null },
    ]);
    const detail = (await get(`/api/applications/${appA}/transaction?last=30m&name=${encodeURIComponent(TXN)}`)).body;
    expect(detail.series.responseTime[10]).toBe(0.5);
    expect(detail.series.throughput[10]).toBe(48);
    expect(detail.series.apdex[10]).toBe(0.875);
    expect(detail.breakdown).toEqual([
      { name: 'Datastore/statement/MySQL/users/select', calls: 96, exclusiveTime: 12, totalTime: 12, perTransaction: 0.25, share: 0.5 },
      { name: 'External/api.example.com/http', calls: 48, exclusiveTime: 6, totalTime: 6, perTransaction: 0.125, share: 0.25 },
    ]);
  });

  it('gives page-load time split into network, back end, DOM processing and rendering, with breakdowns', async () => {
    const { body } = await get(`/api/applications/${appA}/browser?last=30m`);
    const s = body.series;
    expect([s.pageViews[10], s.pageLoad[10], s.network[10], s.backend[10], s.domProcessing[10], s.rendering[10]]).toEqual([8, 2, 0.25, 0.5, 0.75, 0.5]);
    expect([s.lcp[10], s.cls[10], s.apdex[10], s.fcp[10], s.pageLoad[11]]).toEqual([1.5, 0.125, 0.875, null, null]);
    expect(body.byBrowser).toEqual([{ name: 'Chrome', views: 6, meanLoad: 2 }, { name: 'Firefox', views: 2, meanLoad: 2 }]);
    expect(body.byCountry).toEqual([{ name: 'DE', views: 8, meanLoad: 2 }]);
    expect(body.byPage).toEqual([{ name: '/products/{id}', views: 5, meanLoad: 2 }, { name: '/', views: 3, meanLoad: 2 }]);
  });

  it('reads any metric by name, and lists names by prefix', async () => {
    const { body } = await get(`/api/applications/${appA}/metric?last=30m&name=${encodeURIComponent('Custom/Custom/Research/Value')}`);
    expect(body.metric).toEqual({ name: 'Custom/Custom/Research/Value', scope: '', agent: null });
    const at10 = (k: string) => body.series[k][10];
    expect(['callCount', 'callsPerMinute', 'mean', 'min', 'max', 'total', 'stdDev'].map(at10)).toEqual([4, 4, 2.5, 1, 4, 10, Math.sqrt(1.25)]);
    expect(body.series.mean[9]).toBeNull();
    const scoped = (await get(`/api/applications/${appA}/metric?last=30m&name=${encodeURIComponent('External/api.example.com/http')}&scope=${encodeURIComponent(TXN)}`)).body;
    expect(scoped.series.total[10]).toBe(6);
    const names = (await get(`/api/applications/${appA}/metrics?prefix=Browser/ByBrowser/`)).body;
    expect(names.metrics).toEqual([{ name: 'Browser/ByBrowser/Chrome', scope: '' }, { name: 'Browser/ByBrowser/Firefox', scope: '' }]);
    const txns = (await get(`/api/applications/${appA}/metrics?prefix=WebTransaction/`)).body.metrics.map((m: any) => m.name);
    expect(txns).toEqual([TXN, 'WebTransaction/Expressjs/POST//orders']);
  });
});

describe('key scoping and bad requests', () => {
  it('lists only the key\'s own applications', async () => {
    expect((await get('/api/applications')).body.applications.map((a: any) => a.name)).toEqual(['admin', 'shop']);
    expect((await get('/api/applications', keyB)).body.applications.map((a: any) => a.id)).toEqual([appB]);
  });

  it('answers another account\'s application as not found, and gives its own data only', async () => {
    const res = await get(`/api/applications/${appA}/overview?last=30m`, keyB);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: `cannot read application ${appA}: no such application in this account` });
    expect((await get(`/api/applications/${appB}/transactions?last=30m`, keyA)).status).toBe(404);
    const own = (await get(`/api/applications/${appB}/overview?last=30m`, keyB)).body;
    expect(own.series.throughput[10]).toBe(1000);
    expect(own.series.errorRate[10]).toBe(0.5);
    expect(own.series.throughput.filter((v: unknown) => v !== null)).toEqual([1000]);
  });

  it('refuses requests without a valid key', async () => {
    expect(await get('/api/applications', null)).toMatchObject({ status: 401, body: { error: 'cannot authenticate: sign in with your read API key (or send it in the X-Api-Key header)' } });
    expect(await get('/api/applications', 'not-a-key')).toMatchObject({ status: 401, body: { error: 'cannot authenticate: unknown read API key' } });
    const bearer = await get('/api/applications', null, { Authorization: `Bearer ${keyA}` });
    expect(bearer.status).toBe(200);
    expect(bearer.headers.get('cache-control')).toBe('no-store');
  });

  it.each([
    ['overview?last=2h', 400, 'cannot read time window: last="2h" is not one of 30m, 3h, 24h, 7d, 30d, 1y'],
    ['overview?from=5&to=3', 400, 'cannot read time window: to (3) must be after from (5)'],
    ['transactions?limit=1000', 400, 'cannot read limit: must be a whole number from 1 to 100'],
    ['transaction?name=Custom/x', 400, 'cannot read transaction: name must be a metric name starting with WebTransaction/'],
    ['metric', 400, 'cannot read metric: name (1 to 255 characters) is required; scope is optional'],
  ])('%s → %i', async (path, status, error) => {
    expect(await get(`/api/applications/${appA}/${path}`)).toMatchObject({ status, body: { error } });
  });

  it('rejects malformed application ids and unknown endpoints', async () => {
    expect(await get('/api/applications/abc/overview')).toMatchObject({ status: 400, body: { error: 'cannot read application: id "abc" is not a positive integer' } });
    expect(await get('/api/applications/999999/overview')).toMatchObject({ status: 404 });
    expect(await get('/api/nothing')).toMatchObject({ status: 404, body: { error: 'cannot find API endpoint: see docs/api.md for the read API' } });
  });
});

describe('sessions', () => {
  const post = (body: string, contentType = 'application/json') =>
    fetch(`${dashboard.url}/api/session`, { method: 'POST', headers: { 'Content-Type': contentType }, body });

  it('signs in with the read key into an HttpOnly cookie, reads with it, and signs out', async () => {
    const res = await post(JSON.stringify({ key: keyA }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ account: { id: expect.any(Number), name: 'acme' } });
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^apm_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(setCookie).not.toContain(keyA);
    const cookie = setCookie.split(';')[0]!;
    expect((await get('/api/applications', null, { Cookie: cookie })).body.applications.map((a: any) => a.name)).toEqual(['admin', 'shop']);
    expect((await get(`/api/applications/${appB}/overview`, null, { Cookie: cookie })).status).toBe(404);
    const out = await fetch(`${dashboard.url}/api/session`, { method: 'DELETE', headers: { Cookie: cookie } });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
    expect((await get('/api/applications', null, { Cookie: cookie })).status).toBe(401);
  });

  it('refuses bad sign-ins with a clear message', async () => {
    expect(await post(JSON.stringify({ key: 'wrong' })).then(async (r) => [r.status, await r.json()])).toEqual([401, { error: 'cannot authenticate: unknown read API key' }]);
    expect(await post(`key=${keyA}`, 'application/x-www-form-urlencoded').then(async (r) => [r.status, await r.json()])).toEqual([
      400, { error: 'cannot sign in: send Content-Type: application/json' },
    ]);
    expect(await post('{"key":').then(async (r) => [r.status, await r.json()])).toEqual([400, { error: 'cannot sign in: the body is not valid JSON' }]);
    expect(await post(JSON.stringify({ key: 'x'.repeat(5000) })).then((r) => r.status)).toBe(413);
    const metrics = await (await fetch(dashboard.metricsUrl)).text();
    expect(metrics).toMatch(/apm_dashboard_sign_ins_total\{outcome="rejected",service="dashboard"\} 1\b/);
  });

  it('serves the web UI with uPlot from the service itself', async () => {
    const page = await fetch(`${dashboard.url}/`);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('<script src="/assets/uPlot.iife.min.js"></script>');
    const uplot = await fetch(`${dashboard.url}/assets/uPlot.iife.min.js`);
    expect(uplot.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await uplot.text()).toContain('uPlot');
  });
});
