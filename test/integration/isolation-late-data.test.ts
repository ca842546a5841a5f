import { silentLog } from '../../lib/log/log.js';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector } from '../../collector/collector.js';
import type { ShardStore } from '../../lib/shard/shard-store.js';
import { tableName } from '../../lib/shard/table-naming.js';
import { RollupMetrics } from '../../rollup/rollup-metrics.js';
import { RollupRunner } from '../../rollup/rollup-runner.js';
import { freePort } from '../harness/ports.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';

/** Issue #18 part 5: late data after a purge never overwrites retained rollups. */
const H = 3600;
const DAY = 86400;
const HOUR0 = Date.UTC(2024, 2, 4, 10) / 1000;

let clock = HOUR0 + 2 * H;
let c: TestCluster;
let store: ShardStore;
let accountId: number;
let appId: number;
const registry = new Registry();
const metrics = new RollupMetrics(registry);

beforeAll(async () => {
  c = await startTestCluster({ shards: 1, now: () => clock });
  const made = await c.directory.createAccount({ name: 'late', plan: 'free' }); // minutes kept 8 days
  accountId = made.account.id;
  appId = (await c.directory.ensureApplication(accountId, 'app')).id;
  store = await c.registry.storeFor(made.account.shardId);
});
afterAll(async () => c?.stop());

async function writeCalls(minute: number, calls: number): Promise<void> {
  const [metricId] = await store.metricIds(accountId, [{ name: 'HttpDispatcher', scope: '' }], { applicationId: appId });
  const agentId = await store.applicationAgentId(accountId, appId);
  const row = { metricId: metricId!, agentId, period: minute, callCount: calls, totalTime: calls, exclusiveTime: calls, minTime: 1, maxTime: 1, sumOfSquares: calls };
  await c.writer.write({ accountId, shardId: store.shardId, rows: [{ kind: 'minute', t: minute, row }] });
}

async function hourCalls(): Promise<number> {
  const [rows] = await store.pool.query<any[]>(`SELECT SUM(call_count) AS n FROM ${tableName('hour', accountId, HOUR0)} WHERE period = ?`, [HOUR0]);
  return Number(rows[0].n);
}

const run = (purge: boolean) =>
  new RollupRunner({ directory: c.directory, shards: c.registry, metrics, log: silentLog, graceSeconds: 300, maxPeriodsPerRun: 1000, lockWaitSeconds: 0 }).run({ now: clock, purge });

describe('late data after purge', () => {
  it('the rollup never replaces a retained hour with a late part written after its minute table was purged', async () => {
    await writeCalls(HOUR0 + 60, 100);
    await writeCalls(HOUR0 + 120, 34);
    await run(false);
    expect(await hourCalls()).toBe(134);
    clock = HOUR0 + H + 8 * DAY + 10; // the minute table is past its 8 days: purged
    await run(true);
    expect(await store.tableInfo(tableName('minute', accountId, HOUR0))).toBeUndefined();
    await writeCalls(HOUR0 + 180, 78); // late data slipping past the edges re-creates the minute table
    await run(false);
    expect(await hourCalls()).toBe(134);
    const text = await registry.metrics();
    expect(text).toContain('apm_rollup_periods_total{kind="hour",outcome="past_retention"} 1');
  });

  it('a collector refuses to start with a max age at or beyond the shortest minute retention', async () => {
    const config = c.config.with({ APM_COLLECTOR_PORT: String(await freePort()), APM_COLLECTOR_METRICS_PORT: String(await freePort()), APM_COLLECTOR_MAX_AGE_SECONDS: String(8 * DAY) });
    await expect(startCollector(c.deps({ config }))).rejects.toThrow(/APM_COLLECTOR_MAX_AGE_SECONDS \(691200\) must be below the shortest minute retention of any plan \(8 days/);
  });
});
