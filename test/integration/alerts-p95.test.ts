import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAlerts, type AlertsHandle } from '../../alerts/alerts.js';
import { writeDistributions, type DistRow } from '../../lib/distribution/dist-writer.js';
import { addValue, bucketOf, bucketValue, type BucketCounts } from '../../lib/distribution/log-buckets.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';

/**
 * Response time p95 policies on real MariaDB: minutes whose mean is far above the threshold because
 * of a few slow calls, but whose p95 (read through the dashboard's percentile reader from the
 * WebTransaction distribution) stays at the fast calls, open an incident on the mean policy only;
 * minutes where enough calls are slow open one on the p95 policy, with the p95 values recorded.
 */
const T0 = Math.floor(Date.now() / 60_000) * 60 - 3600;
let clock = T0;
let c: TestCluster;
let a: AlertsHandle;

beforeAll(async () => {
  c = await startTestCluster({ shards: 1, now: () => clock });
  const config = c.config.with({ APM_ALERTS_METRICS_PORT: '0', APM_ALERTS_SETTLE_SECONDS: '30' });
  a = await startAlerts(c.deps({ config, now: () => clock }), { schedule: false });
});
afterAll(async () => {
  await a?.stop();
  await c?.stop();
});

/** One minute of `fast` calls of 100 ms and `slow` calls of 10 s: timeslices and the distribution. */
async function writeMinute(accountId: number, applicationId: number, minute: number, fast: number, slow: number): Promise<void> {
  const { account, store } = await c.registry.storeForAccount(accountId);
  const ids = await store.metricIds(accountId, [{ name: 'HttpDispatcher', scope: '' }, { name: 'WebTransaction', scope: '' }], { applicationId });
  const agentId = await store.applicationAgentId(accountId, applicationId);
  const n = fast + slow;
  const total = fast * 0.1 + slow * 10;
  const slice = { callCount: n, totalTime: total, exclusiveTime: total, minTime: 0.1, maxTime: 10, sumOfSquares: fast * 0.01 + slow * 100 };
  await c.writer.write({ accountId, shardId: account.shardId, rows: ids.map((metricId) => ({ kind: 'minute' as const, t: minute, row: { ...slice, metricId, agentId, period: minute } })) });
  const d: BucketCounts = new Map();
  addValue(d, 0.1, fast);
  addValue(d, 10, slow);
  const rows: DistRow[] = [...d].map(([bucket, count]) => ({ metricId: ids[1]!, agentId, period: minute, bucket, count }));
  expect(await writeDistributions(store, accountId, rows, `p95:${accountId}:${minute}`)).toBe('committed');
}

describe('response time p95 policies', () => {
  it('open an incident when the p95 breaches, and not when a few slow calls push only the mean above the threshold', async () => {
    const acc = (await c.directory.createAccount({ name: 'p95' })).account.id;
    const app = await c.directory.ensureApplication(acc, 'shop');
    const m = T0 + 60;
    clock = m + 30; // the policies start after the minute before m
    const p95 = await a.store.createPolicy(acc, app.id, { name: 'p95 slow', metric: 'response_time_p95', critical: '500ms', duration: 2 });
    const mean = await a.store.createPolicy(acc, app.id, { name: 'mean slow', metric: 'response_time', critical: '500ms', duration: 2 });
    expect((await a.runNow())!.evaluation.transitions).toBe(0);
    // Two minutes of 95 fast + 5 slow calls: mean 595 ms, p95 at the fast calls (rank 94 of 100).
    await writeMinute(acc, app.id, m, 95, 5);
    await writeMinute(acc, app.id, m + 60, 95, 5);
    clock = m + 120 + 30;
    const first = await a.runNow();
    expect(first!.evaluation.transitions).toBe(1);
    let open = (await a.incidents.openIncidentsByApplication(acc)).get(app.id)!;
    expect(open.map((i) => [i.sourceId, i.level])).toEqual([[mean.id, 'critical']]);
    const fastMs = bucketValue(bucketOf(0.1)) * 1000;
    expect((await a.incidents.list(acc)).find((i) => i.sourceId === mean.id)!.detail).toMatchObject({ values: [[m, 595], [m + 60, 595]] });
    // The p95 policy saw both minutes (no data would leave it waiting) and stayed quiet.
    const [state] = await c.directory.db.promise.query<any[]>('SELECT last_minute, state FROM alert_policy_state WHERE policy_id = ?', [p95.id]);
    expect(Number(state[0].last_minute)).toBe(m + 60);
    expect(JSON.parse(state[0].state).recent).toEqual([[m, fastMs], [m + 60, fastMs]]);
    // Two minutes of 90 fast + 10 slow calls: p95 is a slow call.
    await writeMinute(acc, app.id, m + 120, 90, 10);
    await writeMinute(acc, app.id, m + 180, 90, 10);
    clock = m + 240 + 30;
    expect((await a.runNow())!.evaluation.transitions).toBe(1);
    open = (await a.incidents.openIncidentsByApplication(acc)).get(app.id)!;
    expect(open.map((i) => [i.sourceId, i.level]).sort()).toEqual([[mean.id, 'critical'], [p95.id, 'critical']].sort());
    const slowMs = bucketValue(bucketOf(10)) * 1000;
    const inc = (await a.incidents.list(acc)).find((i) => i.sourceId === p95.id)!;
    expect(inc.title).toBe('p95 slow: response time (p95) above 500 ms for 2 min');
    expect(inc.detail).toMatchObject({ metric: 'response_time_p95', unit: 'ms', threshold: 500, values: [[m + 120, slowMs], [m + 180, slowMs]] });
  }, 120_000);
});
