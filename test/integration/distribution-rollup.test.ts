import { silentLog } from '../../lib/log/log.js';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeriesReader } from '../../dashboard/series-reader.js';
import { percentilesOf, readDistribution } from '../../dashboard/percentiles.js';
import { MAX_DIST_ROWS_PER_WRITE, writeDistributions, type DistRow } from '../../lib/distribution/dist-writer.js';
import { addValue, PERCENTILES, quantiles, RELATIVE_ERROR, type BucketCounts } from '../../lib/distribution/log-buckets.js';
import type { Account } from '../../lib/directory/directory.js';
import type { ShardStore } from '../../lib/shard/shard-store.js';
import { RollupMetrics } from '../../rollup/rollup-metrics.js';
import { RollupRunner } from '../../rollup/rollup-runner.js';
import { ShardRollup, tableStateOf } from '../../rollup/shard-rollup.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { random } from './rollup-fixture.js';

/**
 * Percentiles through both rollup tiers on real MariaDB: a day of random per-minute distributions of
 * two agents and the application pseudo-agent, written with the distribution writer (exactly once per
 * key), rolled by the real RollupRunner into hour and day tables, read back by the dashboard's reader
 * at day resolution: the day's p50/p75/p95/p99 are within 1 % of the exact percentiles of every raw
 * value, and the hour and day rows hold exactly the per-bucket sums of the minutes.
 */
const DAY = 86400;
const GRACE = 300;
const D = Date.UTC(2024, 2, 5) / 1000;
let clock = D;
let c: TestCluster;
let store: ShardStore;
let account: Account;
let metricId = 0;
let agents: number[] = [];
const raw = new Map<number, number[]>(); // agent → values of the day

function runner() {
  const r = new RollupRunner({ directory: c.directory, shards: c.registry, metrics: new RollupMetrics(new Registry()), log: silentLog, graceSeconds: GRACE, maxPeriodsPerRun: 10_000, lockWaitSeconds: 0 });
  return async () => (await r.run({ now: clock, purge: false }))[0]!;
}

/** Bucket → count of a distribution table's rows of one agent in [from, to). */
async function stored(table: string, agentId: number, from: number, to: number): Promise<BucketCounts> {
  const [rows] = await store.pool.query<any[]>(`SELECT bucket, SUM(count) AS n FROM \`${table}\` WHERE metric_id = ? AND agent_id = ? AND period >= ? AND period < ? GROUP BY bucket`, [metricId, agentId, from, to]);
  return new Map(rows.map((r) => [Number(r.bucket), Number(r.n)]));
}

const sorted = (m: BucketCounts) => [...m.entries()].sort((x, y) => x[0] - y[0]);

beforeAll(async () => {
  c = await startTestCluster({ shards: 1, now: () => clock });
  account = (await c.directory.createAccount({ name: 'dist', plan: 'paid' })).account;
  store = await c.registry.storeFor(account.shardId);
  [metricId] = await store.metricIds(account.id, [{ name: 'Browser/LCP', scope: '' }]) as [number];
  agents = [
    await store.applicationAgentId(account.id, 1),
    await store.agentId(account.id, { applicationId: 1, host: 'web-1', pid: 1, language: 'nodejs' }),
  ];
  const rand = random(11);
  for (let h = 0; h < 24; h++) {
    const rows: DistRow[] = [];
    for (let m = 0; m < 60; m++) {
      const minute = D + h * 3600 + m * 60;
      for (const agentId of agents) {
        const d: BucketCounts = new Map();
        const n = Math.floor(rand() * 12);
        for (let k = 0; k < n; k++) {
          const u = rand();
          const v = u < 0.85 ? 0.4 + rand() * rand() * 3 : 3 + rand() * 20; // seconds, with a slow tail
          addValue(d, v);
          raw.set(agentId, [...(raw.get(agentId) ?? []), v]);
        }
        for (const [bucket, count] of d) rows.push({ metricId, agentId, period: minute, bucket, count });
      }
    }
    // The timeslice rows the beacon writes beside (the rollup is driven by the timeslice tables).
    await c.writer.write({ accountId: account.id, shardId: account.shardId, rows: [{ kind: 'minute', t: D + h * 3600, row: { metricId, agentId: agents[0]!, period: D + h * 3600, callCount: 1, totalTime: 1, exclusiveTime: 1, minTime: 1, maxTime: 1, sumOfSquares: 1 } }] });
    expect(await writeDistributions(store, account.id, rows, `test:${h}`)).toBe('committed');
  }
}, 120_000);

afterAll(async () => c?.stop());

describe('distributions through minute → hour → day on real MariaDB', () => {
  it('writes each delivery exactly once', async () => {
    const before = await stored(`dm_${account.id}_2024030500`, agents[0]!, D, D + 3600);
    expect(await writeDistributions(store, account.id, [{ metricId, agentId: agents[0]!, period: D, bucket: 10, count: 5 }], 'test:0')).toBe('duplicate');
    expect(sorted(await stored(`dm_${account.id}_2024030500`, agents[0]!, D, D + 3600))).toEqual(sorted(before));
  });

  it('writes a delivery larger than one transaction in chunks, each exactly once', async () => {
    const big = Array.from({ length: MAX_DIST_ROWS_PER_WRITE + 10 }, (_, k) => ({ metricId: metricId + 1000, agentId: agents[1]!, period: D + 60 * (k % 60), bucket: (k % 1400) - 690, count: 1 }));
    const merged = new Map<string, (typeof big)[number]>();
    for (const r of big) merged.set(`${r.period}:${r.bucket}`, r); // distinct keys: bucket and minute repeat together every 4200 rows
    const rows = [...merged.values()];
    expect(rows.length).toBe(4200);
    const many = Array.from({ length: 13 }, () => rows).flat().slice(0, MAX_DIST_ROWS_PER_WRITE + 10);
    expect(await writeDistributions(store, account.id, many, 'big')).toBe('committed');
    expect(await writeDistributions(store, account.id, many, 'big')).toBe('duplicate');
    const [n] = await store.pool.query<any[]>(`SELECT SUM(count) AS n FROM dm_${account.id}_2024030500 WHERE metric_id = ?`, [metricId + 1000]);
    expect(Number(n[0].n)).toBe(MAX_DIST_ROWS_PER_WRITE + 10);
    await store.pool.query(`DELETE FROM dm_${account.id}_2024030500 WHERE metric_id = ?`, [metricId + 1000]);
  });

  it('rolls hours and the day as exact per-bucket sums; the day percentiles are within 1 % of the raw values', async () => {
    clock = D + DAY + GRACE;
    const report = await runner()();
    expect([report.hours, report.days, report.failures]).toEqual([24, 1, 0]);
    for (const agentId of agents) {
      const minutes = await Promise.all(Array.from({ length: 24 }, (_, h) => stored(`dm_${account.id}_20240305${String(h).padStart(2, '0')}`, agentId, D, D + DAY)));
      const day: BucketCounts = new Map();
      for (const [h, m] of minutes.entries()) {
        expect(sorted(await stored(`dh_${account.id}_202403`, agentId, D + h * 3600, D + (h + 1) * 3600))).toEqual(sorted(m));
        for (const [b, n] of m) day.set(b, (day.get(b) ?? 0) + n);
      }
      const [rows] = await store.pool.query<any[]>(`SELECT DISTINCT period FROM dd_${account.id}_2024 WHERE agent_id = ?`, [agentId]);
      expect(rows.map((r) => Number(r.period))).toEqual([D]);
      expect(sorted(await stored(`dd_${account.id}_2024`, agentId, D, D + DAY))).toEqual(sorted(day));
      const values = Float64Array.from(raw.get(agentId)!).sort();
      const got = quantiles(await stored(`dd_${account.id}_2024`, agentId, D, D + DAY), PERCENTILES);
      PERCENTILES.forEach((q, k) => {
        const want = values[Math.floor(q * (values.length - 1))]!;
        expect(Math.abs(got[k]! - want)).toBeLessThanOrEqual(RELATIVE_ERROR * want);
      });
    }
  });

  it('the dashboard reads them from the day table at day resolution, and late rows re-roll exactly', async () => {
    const reader = new SeriesReader({ maxPoints: 500, maxStitchTables: 12 });
    const fresh = await c.directory.getAccount(account.id);
    const window = { from: D - 28 * DAY, to: D + 2 * DAY }; // 30 days: day resolution
    const read = async () => {
      const r = await reader.read(store, fresh, 1, [{ name: 'Browser/LCP', scope: '' }], window, clock);
      expect([r.resolution.kind, r.tablesRead.day]).toEqual(['day', 1]);
      return percentilesOf('Browser/LCP', r.buckets, await readDistribution(store, r, metricId))!;
    };
    const p = await read();
    const values = Float64Array.from(raw.get(agents[0]!)!).sort();
    const exact = (q: number) => values[Math.floor(q * (values.length - 1))]!;
    expect(p.estimate).toBe(false);
    expect(Math.abs(p.summary.p75! - exact(0.75))).toBeLessThanOrEqual(RELATIVE_ERROR * exact(0.75));
    expect(p.p99.filter((v) => v !== null)).toEqual([p.summary.p99]);
    // Late data: 10,000 values of 60 s in the day's noon minute make it the new p99 after the re-roll.
    expect(await writeDistributions(store, account.id, [{ metricId, agentId: agents[0]!, period: D + 12 * 3600, bucket: 207, count: 10_000 }], 'late:1')).toBe('committed');
    const [state] = await store.pool.query<any[]>('SELECT rollup_state FROM table_registry WHERE name = ?', [`ts_${account.id}_2024030512`]);
    expect(state[0].rollup_state).toBe('dirty');
    clock += 3600;
    const again = await runner()();
    expect([again.hours, again.rerolledHours, again.days, again.rerolledDays]).toEqual([0, 1, 0, 1]); // re-rolls only
    const q = await read();
    expect(q.summary.p99).toBeCloseTo(2 * (1.01 / 0.99) ** 207 / (1.01 / 0.99 + 1), 9);
    const [n] = await store.pool.query<any[]>(`SELECT SUM(count) AS n FROM dd_${account.id}_2024 WHERE agent_id = ?`, [agents[0]]);
    expect(Number(n[0].n)).toBe(values.length + 10_000);
  });

  it('purge drops the distribution table with the timeslice table of the same kind and span', async () => {
    const ts = `ts_${account.id}_2024030503`;
    const dm = `dm_${account.id}_2024030503`;
    const conn = await store.pool.getConnection();
    try {
      expect(await new ShardRollup(store, conn).drop(tableStateOf((await store.tableInfo(ts))!))).toBe(true);
    } finally {
      conn.release();
    }
    const [left] = await store.pool.query<any[]>("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?, ?)", [ts, dm]);
    const [registered] = await store.pool.query<any[]>('SELECT name FROM dist_tables WHERE name = ?', [dm]);
    expect([left, registered]).toEqual([[], []]);
    // The hour and day rows stay: the percentiles of the day are still read from the rolled tables.
    expect((await stored(`dd_${account.id}_2024`, agents[1]!, D, D + DAY)).size).toBeGreaterThan(0);
  });
});
