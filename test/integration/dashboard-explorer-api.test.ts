import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type DashboardHandle } from '../../dashboard/dashboard.js';
import { writeDistributions } from '../../lib/distribution/dist-writer.js';
import { bucketOf, bucketValue } from '../../lib/distribution/log-buckets.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { Seeder, ts, web } from './dashboard-fixture.js';

/**
 * The explorer's and application list's read API on real MariaDB with a fixed clock: agents of an
 * application, one metric read per agent (and refused for agents not of the application), per-point
 * percentiles from distribution rows, and the health of every application over the last 30 minutes.
 */
const T = Date.UTC(2026, 10, 23, 10) / 1000; // 10:00 UTC
const NOW = T + 20 * 60 + 30; // 10:20:30
let c: TestCluster;
let dashboard: DashboardHandle;
let key = '';
let otherKey = '';
let shop = 0;
let admin = 0;
let agents: number[] = [];
let adminAgent = 0;

async function get(path: string, k = key): Promise<{ status: number; body: any }> {
  const res = await fetch(`${dashboard.url}/api/${path}`, { headers: { 'X-Api-Key': k } });
  return { status: res.status, body: await res.json() };
}

beforeAll(async () => {
  c = await startTestCluster({ shards: 1, now: () => NOW });
  const a = await c.directory.createAccount({ name: 'acme' });
  key = a.readKey;
  otherKey = (await c.directory.createAccount({ name: 'globex' })).readKey;
  const accountId = a.account.id;
  shop = (await c.directory.ensureApplication(accountId, 'shop')).id;
  admin = (await c.directory.ensureApplication(accountId, 'admin')).id;
  const store = await c.registry.storeFor(a.account.shardId);
  const seed = new Seeder(store, c.writer, accountId, shop);
  // Application-wide: 30 requests at 10:05 and 30 at 10:15, 6 errors, Apdex 48/6/6 → 0.85.
  await seed.minute(T + 5 * 60, web(30, 6, 1, 1, 2, [24, 3, 3]));
  await seed.minute(T + 15 * 60, web(30, 12, 1, 1, 4, [24, 3, 3]));
  agents = [
    await store.agentId(accountId, { applicationId: shop, host: 'web-1', pid: 11, language: 'nodejs' }),
    await store.agentId(accountId, { applicationId: shop, host: 'web-2', pid: 22, language: 'nodejs' }),
  ];
  adminAgent = await store.agentId(accountId, { applicationId: admin, host: 'adm', pid: 1, language: 'nodejs' });
  const [metricId] = await store.metricIds(accountId, [{ name: 'OTLP/job.duration', scope: '' }], { applicationId: shop }) as [number];
  const period = T + 5 * 60;
  await c.writer.write({
    accountId, shardId: a.account.shardId,
    rows: agents.map((agentId, k) => ({ kind: 'minute' as const, t: period, row: { metricId, agentId, period, ...ts(10 * (k + 1), 5 * (k + 1), 5 * (k + 1), 0.25, 1) } })),
  });
  // web-1: 7 values of 0.1 s and 3 of 2 s at 10:05.
  await writeDistributions(store, accountId, [
    { metricId, agentId: agents[0]!, period, bucket: bucketOf(0.1), count: 7 },
    { metricId, agentId: agents[0]!, period, bucket: bucketOf(2), count: 3 },
  ], 'explorer-test');
  dashboard = await startDashboard(c.deps({ config: c.config.with({ APM_DASHBOARD_PORT: '0', APM_DASHBOARD_METRICS_PORT: '0' }) }));
}, 120_000);

afterAll(async () => {
  await dashboard?.stop();
  await c?.stop();
});

describe('explorer and application health API', () => {
  it("lists an application's agents, without the application-wide pseudo-agent", async () => {
    expect((await get(`applications/${shop}/agents`)).body).toEqual({
      agents: [{ id: agents[0], host: 'web-1', pid: 11, language: 'nodejs' }, { id: agents[1], host: 'web-2', pid: 22, language: 'nodejs' }],
    });
    expect((await get(`applications/${shop}/agents`, otherKey)).status).toBe(404);
  });

  it("reads one agent's rows and percentiles; refuses an agent that is not the application's", async () => {
    const name = encodeURIComponent('OTLP/job.duration');
    const one = (await get(`applications/${shop}/metric?last=30m&name=${name}&agent=${agents[0]}`)).body;
    const two = (await get(`applications/${shop}/metric?last=30m&name=${name}&agent=${agents[1]}`)).body;
    expect([one.metric.agent, one.summary.callCount, two.summary.callCount]).toEqual([agents[0], 10, 20]);
    const at = one.timestamps.indexOf(T + 5 * 60);
    // Ranks ⌊q·9⌋: p50 → 4th value (0.1 s), p75 → 6th (0.1 s), p95, p99 → 8th (2 s).
    expect([one.percentiles.p50[at], one.percentiles.p75[at], one.percentiles.p95[at], one.percentiles.p99[at]]).toEqual([
      bucketValue(bucketOf(0.1)), bucketValue(bucketOf(0.1)), bucketValue(bucketOf(2)), bucketValue(bucketOf(2)),
    ]);
    expect(one.percentiles.p50.filter((v: number | null) => v !== null)).toHaveLength(1);
    expect([one.percentiles.count, one.percentiles.estimate, two.percentiles]).toEqual([10, false, null]);
    // Application-wide: the agents' rows summed (minutes not sealed yet, rollup/minute-seal.ts); the
    // application's distribution rows were never written: no percentiles.
    const app = (await get(`applications/${shop}/metric?last=30m&name=${name}`)).body;
    expect([app.summary.callCount, app.percentiles]).toEqual([one.summary.callCount + two.summary.callCount, null]);
    expect(app.summary.callCount).toBe(30);
    const bad = await get(`applications/${shop}/metric?last=30m&name=${name}&agent=x1`);
    expect([bad.status, bad.body.error]).toEqual([400, 'cannot read metric: agent="x1" is not an agent id']);
    const foreign = await get(`applications/${shop}/metric?last=30m&name=${name}&agent=${adminAgent}`);
    expect([foreign.status, foreign.body.error]).toEqual([404, `cannot read metric: agent ${adminAgent} is not an agent of this application`]);
  });

  it('gives every application its health of the last 30 minutes, with a per-minute throughput sparkline', async () => {
    const { body } = await get('applications/health');
    // The alerts service's incidents are wired in (none open here).
    expect(body.openIncidents).toBe(true);
    expect(body.window).toEqual({ from: NOW - 1800, to: NOW });
    const [a, s] = body.applications;
    expect(a).toMatchObject({ id: admin, name: 'admin', source: 'none', apdex: null, throughput: null, openIncidents: 0 });
    expect(s).toMatchObject({ id: shop, name: 'shop', source: 'newrelic', apdex: 0.85, apdexT: 0.5, responseTime: 0.3, errorRate: 0.1, openIncidents: 0 });
    expect(s.throughput).toBe(60 / 30.5); // 60 requests over the window widened to whole minutes: 09:50:00 to now (10:20:30)
    expect(s.spark).toHaveLength(31);
    expect(s.spark.filter((v: number | null) => v !== null)).toEqual([30, 30]);
  });
});
