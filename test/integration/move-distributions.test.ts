import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percentilesOf, readDistribution, type Percentiles } from '../../dashboard/percentiles.js';
import { SeriesReader } from '../../dashboard/series-reader.js';
import { writeDistributions, type DistRow } from '../../lib/distribution/dist-writer.js';
import { addValue, type BucketCounts } from '../../lib/distribution/log-buckets.js';
import { RetryableError } from '../../lib/errors.js';
import { silentLog } from '../../lib/log/log.js';
import { AccountMover } from '../../lib/ops/account-mover.js';
import { distTablesOn } from '../../lib/ops/move-dist.js';
import { RollupMetrics } from '../../rollup/rollup-metrics.js';
import { RollupRunner } from '../../rollup/rollup-runner.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';

/**
 * Account moves carry the distribution (percentile) tables: an account with minute, hour and day
 * distribution tables (written by the distribution writer, rolled by the real rollup) moves between two
 * real MariaDB shards and the dashboard's percentile reader answers exactly the same afterwards; the
 * source's dm_/dh_/dd_ tables and dist_tables rows are gone; a rollback leaves the target as it was.
 */
const HOUR = 3600;
const DAY = 86400;
let c: TestCluster;
let shard1 = 0;
let shard2 = 0;
const reader = new SeriesReader({ maxPoints: 500, maxStitchTables: 12 });
/** Three hours of data starting at midnight UTC three days ago (the day is over: the rollup rolls it). */
const D = Math.floor(Date.now() / 1000 / DAY) * DAY - 3 * DAY;

beforeAll(async () => {
  c = await startTestCluster({ shards: 2 });
  [shard1, shard2] = (await c.directory.listShards()).map((s) => s.id) as [number, number];
});

afterAll(async () => c?.stop());

function mover(extra: Partial<ConstructorParameters<typeof AccountMover>[0]> = {}): AccountMover {
  return new AccountMover({ directory: c.directory, shards: c.registry, cleanupDelayMs: 100, chunkRows: 50, ...extra });
}

async function accountOn(shardId: number, name: string): Promise<number> {
  for (;;) {
    const made = await c.directory.createAccount({ name });
    if (made.account.shardId === shardId) return made.account.id;
  }
}

/** Three hours of per-minute response times of the application (a slow tail), rolled to hours and the day. */
async function seed(accountId: number): Promise<{ appId: number; metricId: number }> {
  const { account, store } = await c.registry.storeForAccount(accountId);
  const app = await c.directory.ensureApplication(accountId, 'app');
  const agentId = await store.applicationAgentId(accountId, app.id);
  const [metricId] = (await store.metricIds(accountId, [{ name: 'WebTransaction', scope: '' }], { applicationId: app.id })) as [number];
  for (let h = 0; h < 3; h++) {
    const rows: DistRow[] = [];
    const slices = [];
    for (let m = 0; m < 60; m++) {
      const t = D + h * HOUR + m * 60;
      const d: BucketCounts = new Map();
      for (let k = 0; k < 20; k++) addValue(d, k === 19 ? 2 + m / 10 : 0.05 + (k * (m + h * 60)) / 10_000);
      for (const [bucket, count] of d) rows.push({ metricId, agentId, period: t, bucket, count });
      slices.push({ kind: 'minute' as const, t, row: { metricId, agentId, period: t, callCount: 20, totalTime: 3, exclusiveTime: 3, minTime: 0.05, maxTime: 8, sumOfSquares: 9 } });
    }
    await c.writer.write({ accountId, shardId: account.shardId, rows: slices });
    expect(await writeDistributions(store, accountId, rows, `seed:${accountId}:${h}`)).toBe('committed');
  }
  const runner = new RollupRunner({ directory: c.directory, shards: c.registry, metrics: new RollupMetrics(new Registry()), log: silentLog, graceSeconds: 300, maxPeriodsPerRun: 10_000, lockWaitSeconds: 0 });
  const reports = await runner.run({ now: Date.now() / 1000, purge: false });
  expect(reports.reduce((n, r) => n + r.failures, 0)).toBe(0);
  return { appId: app.id, metricId };
}

/** The dashboard's percentiles of WebTransaction at minute resolution (3 h) and day resolution (30 days). */
async function percentiles(accountId: number, { appId, metricId }: { appId: number; metricId: number }): Promise<{ minute: Percentiles; day: Percentiles }> {
  const { account, store } = await c.registry.storeForAccount(accountId);
  const now = Date.now() / 1000;
  const one = async (window: { from: number; to: number }, kind: string) => {
    const r = await reader.read(store, account, appId, [{ name: 'WebTransaction', scope: '' }], window, now);
    expect(r.resolution.kind).toBe(kind);
    return percentilesOf('WebTransaction', r.buckets, await readDistribution(store, r, metricId))!;
  };
  return { minute: await one({ from: D, to: D + 3 * HOUR }, 'minute'), day: await one({ from: D - 27 * DAY, to: D + 3 * DAY }, 'day') };
}

async function distRegistry(shardId: number, accountId: number): Promise<string[]> {
  const [rows] = await (await c.registry.storeFor(shardId)).pool.query<any[]>('SELECT name FROM dist_tables WHERE account_id = ? ORDER BY name', [accountId]);
  return rows.map((r) => String(r.name));
}

describe('account moves carry the distribution tables', () => {
  it('an account with minute, hour and day distributions reads the same percentiles on its new shard; the old tables are dropped', async () => {
    const id = await accountOn(shard1, 'dist-move');
    const appId = await seed(id);
    expect((await percentiles(id, appId)).minute.count).toBe(3 * 60 * 20);
    const registered = await distRegistry(shard1, id);
    expect(registered).toEqual([`dd_${id}_${new Date(D * 1000).getUTCFullYear()}`, `dh_${id}_${new Date(D * 1000).toISOString().slice(0, 7).replace('-', '')}`, ...[0, 1, 2].map((h) => `dm_${id}_${new Date((D + h * HOUR) * 1000).toISOString().slice(0, 13).replace(/[-T]/g, '')}`)].sort());
    const before = await percentiles(id, appId);
    expect(before.minute.count).toBe(3 * 60 * 20);
    expect(before.day.count).toBe(3 * 60 * 20);
    expect(before.day.summary.p99).toBeGreaterThan(2);
    const m = await mover().move(id, shard2);
    expect(m.state).toBe('done');
    expect((await c.directory.getAccount(id)).shardId).toBe(shard2);
    expect(m.verified?.distTables).toBe(5);
    const [[rows]] = await (await c.registry.storeFor(shard2)).pool.query<any[]>(`SELECT ${registered.map((n) => `(SELECT COUNT(*) FROM \`${n}\`)`).join(' + ')} AS n`);
    expect(m.verified?.distRows).toBe(Number(rows.n));
    expect(await percentiles(id, appId)).toEqual(before);
    expect(await distRegistry(shard2, id)).toEqual(registered);
    expect(await distTablesOn((await c.registry.storeFor(shard2)).pool, id)).toEqual(registered);
    expect(await distRegistry(shard1, id)).toEqual([]);
    expect(await distTablesOn((await c.registry.storeFor(shard1)).pool, id)).toEqual([]);
  }, 180_000);

  it('the distribution writer obeys the move fence: the old shard refuses the account once it moved away', async () => {
    const id = await accountOn(shard1, 'dist-fence');
    const appId = await seed(id);
    const oldStore = await c.registry.storeFor(shard1);
    await mover().move(id, shard2);
    const row = { metricId: 1, agentId: 1, period: D, bucket: 10, count: 1 };
    await expect(writeDistributions(oldStore, id, [row], 'late')).rejects.toThrow(`cannot write distributions of account ${id} to shard ${shard1}: it has moved to another shard; retry`);
    expect(await distTablesOn(oldStore.pool, id)).toEqual([]);
    expect((await percentiles(id, appId)).minute.count).toBe(3 * 60 * 20);
  }, 180_000);

  it('while a writer keeps writing distributions, the moved account holds exactly the acknowledged counts', async () => {
    const id = await accountOn(shard1, 'dist-online');
    const { appId, metricId } = await seed(id);
    const agentId = await (await c.registry.storeForAccount(id)).store.applicationAgentId(id, appId);
    const base = Math.floor(Date.now() / 1000 / HOUR) * HOUR - HOUR; // the last hour: an open minute table
    let acked = 0;
    let refused = 0;
    let n = 0;
    let stop = false;
    const writer = (async () => {
      while (!stop || refused === 0) {
        const k = n++;
        const row = { metricId, agentId, period: base + (k % 60) * 60, bucket: 100 + (k % 7), count: 1 + (k % 3) };
        for (;;) {
          const { store } = await c.registry.storeForAccount(id);
          try {
            if ((await writeDistributions(store, id, [row], `online:${k}`)) === 'committed') acked += row.count;
            break;
          } catch (err) {
            if (!(err instanceof RetryableError)) throw err;
            refused++;
            c.registry.forgetAccount(id);
            await new Promise((r) => setTimeout(r, 20));
          }
        }
        if (stop && k > 5000) break;
      }
    })();
    const m = await mover().move(id, shard2);
    stop = true;
    await writer;
    expect(m.state).toBe('done');
    expect(refused).toBeGreaterThan(0);
    const dst = (await c.registry.storeFor(shard2)).pool;
    const names = (await distRegistry(shard2, id)).filter((name) => name.startsWith('dm_'));
    const [[sum]] = await dst.query<any[]>(`SELECT ${names.map((t) => `(SELECT COALESCE(SUM(count), 0) FROM \`${t}\` WHERE period >= ${base} AND period < ${base + HOUR})`).join(' + ')} AS n`);
    console.log(`distribution writes during the move: ${n} (${refused} refused and resent), writes fenced ${m.fencedMs} ms`);
    expect(Number(sum.n)).toBe(acked);
    expect(await distTablesOn((await c.registry.storeFor(shard1)).pool, id)).toEqual([]);
  }, 180_000);

  it('a rollback leaves the target without distribution tables or registry rows, and the source as it was', async () => {
    const id = await accountOn(shard1, 'dist-rollback');
    const appId = await seed(id);
    const registered = await distRegistry(shard1, id);
    const before = await percentiles(id, appId);
    await expect(mover({ crashAt: 'fenced' }).move(id, shard2)).rejects.toThrow('simulated crash');
    // The crash came after the sync pass: the target holds copies of every table now.
    expect(await distTablesOn((await c.registry.storeFor(shard2)).pool, id)).toEqual(registered);
    const m = await mover().rollback(id);
    expect(m.state).toBe('rolled_back');
    expect(await distTablesOn((await c.registry.storeFor(shard2)).pool, id)).toEqual([]);
    expect(await distRegistry(shard2, id)).toEqual([]);
    expect(await distRegistry(shard1, id)).toEqual(registered);
    expect(await percentiles(id, appId)).toEqual(before);
    // Moved again afterwards, it arrives whole.
    expect((await mover().move(id, shard2)).state).toBe('done');
    expect(await percentiles(id, appId)).toEqual(before);
  }, 180_000);
});
