import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAppConfig } from '../../bin/app-variables.js';
import { startDashboard, type DashboardHandle } from '../../dashboard/dashboard.js';
import { createPool, JOB_STATEMENT_TIMEOUT_MS, REQUEST_STATEMENT_TIMEOUT_MS, type DbPool } from '../../lib/db/connect.js';
import { lineLog } from '../../lib/log/log.js';
import type { ShardDatabase } from '../../lib/shard/shard-database.js';
import { openStorage } from '../../lib/storage.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { Registry } from 'prom-client';
import { silentLog } from '../../lib/log/log.js';
import { RollupMetrics } from '../../rollup/rollup-metrics.js';
import { RollupRunner } from '../../rollup/rollup-runner.js';
import { startRollup } from '../../rollup/rollup.js';
import { random, RollupFixture } from './rollup-fixture.js';

// Issue #20: every database wait is bounded by the pool a statement runs on (no async-context scope):
// request pools 5 s, the jobs view APM_JOB_STATEMENT_TIMEOUT_MS. Two real servers: the directory and
// shard 1 on the first, shard 2 on the second, which some tests freeze with SIGSTOP (resumed after).
let c: TestCluster;
const pools: Array<DbPool<ShardDatabase>> = [];

beforeAll(async () => {
  c = await startTestCluster({ shards: 2 });
  await c.registry.all(); // the shard databases exist
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await c?.stop();
});

/** A pool on shard server `index` (0 or 1) with the given bounds; ended after the file. */
function poolOn(index: number, bounds: { statementTimeoutMs?: number; jobStatementTimeoutMs?: number }): DbPool<ShardDatabase> {
  const pool = createPool<ShardDatabase>(c.servers[index]!.address, { user: 'root', password: '', database: c.config.str('APM_SHARD_DATABASE'), connectionLimit: 1, ...bounds });
  pools.push(pool);
  return pool;
}

const connectionId = async (pool: DbPool<ShardDatabase>) => Number((await pool.promise.query<Array<RowDataPacket & { id: number }>>('SELECT CONNECTION_ID() AS id'))[0][0]!.id);

/** How long `p` took to settle, and its error code ('ok' when it answered). */
async function timed(p: Promise<unknown>): Promise<{ ms: number; code: string }> {
  const t0 = Date.now();
  const code = await p.then(
    () => 'ok',
    (e: { code?: string }) => e.code ?? String(e),
  );
  return { ms: Date.now() - t0, code };
}

async function freeze<T>(index: number, fn: () => Promise<T>): Promise<T> {
  const pid = Number(fs.readFileSync(path.join(c.dataDir, 'mariadb', `shard-${index + 1}`, 'mariadb.pid'), 'utf8').trim());
  process.kill(pid, 'SIGSTOP');
  try {
    // A stop reaches every thread of the server, but not at once (a thread inside a disk write stops
    // when it returns): wait until all of them are stopped, or a statement may still be answered.
    await allStopped(pid);
    return await fn();
  } finally {
    process.kill(pid, 'SIGCONT');
  }
}

/** Resolves once every thread of `pid` is in the stopped state (T), checking /proc every 2 ms for up to 5 s. */
async function allStopped(pid: number): Promise<void> {
  const stopped = () =>
    fs.readdirSync(`/proc/${pid}/task`).every((tid) => {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      return /^[Tt]$/.test(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!);
    });
  for (let i = 0; i < 2500 && !stopped(); i++) await new Promise((r) => setTimeout(r, 2));
  if (!stopped()) throw new Error(`server ${pid} did not stop within 5 s of SIGSTOP`);
}

describe('the pool bound (lib/db/connect.ts)', () => {
  it('a slow statement (SELECT SLEEP) fails within the pool bound on every API, and its connection is destroyed', async () => {
    const pool = poolOn(0, { statementTimeoutMs: 300 });
    expect(pool.statementTimeoutMs).toBe(300);
    const runs: Record<string, () => Promise<unknown>> = {
      'pool.query': () => pool.promise.query('SELECT SLEEP(3)'),
      'pool.execute': () => pool.promise.execute('SELECT SLEEP(3)'),
      kysely: () => sql`SELECT SLEEP(3)`.execute(pool.kysely),
      'held connection': async () => {
        const conn = await pool.promise.getConnection();
        try {
          await conn.query('SELECT SLEEP(3)');
        } finally {
          conn.release();
        }
      },
    };
    for (const [api, run] of Object.entries(runs)) {
      const before = await connectionId(pool);
      const r = await timed(run());
      expect([api, r.code]).toEqual([api, 'PROTOCOL_SEQUENCE_TIMEOUT']);
      expect(r.ms).toBeGreaterThanOrEqual(290);
      expect(r.ms).toBeLessThan(2000);
      // The pool's only connection was destroyed: the next statement runs on a new one, at once.
      const after = await timed(connectionId(pool).then((id) => expect(id).not.toBe(before)));
      expect(after.code).toBe('ok');
    }
  });

  it('a statement with a timeout of its own keeps it; the jobs view runs a statement longer than the request bound', async () => {
    const pool = poolOn(0, { statementTimeoutMs: 300, jobStatementTimeoutMs: 5000 });
    const [own] = await pool.promise.query<Array<RowDataPacket & { s: number }>>({ sql: 'SELECT SLEEP(0.6) AS s', timeout: 3000 });
    expect(own).toEqual([{ s: 0 }]);
    const jobs = pool.jobs;
    pools.push(jobs);
    expect([jobs === pool, jobs.statementTimeoutMs, jobs.jobs === jobs, pool.jobs === jobs]).toEqual([false, 5000, true, true]);
    const r = await timed(jobs.promise.query('SELECT SLEEP(1) AS s'));
    expect(r.code).toBe('ok');
    expect(r.ms).toBeGreaterThanOrEqual(990);
    expect(await timed(sql`SELECT SLEEP(1)`.execute(jobs.kysely)).then((t) => t.code)).toBe('ok');
    // The request view still cuts the same statement.
    expect((await timed(pool.promise.query('SELECT SLEEP(1)'))).code).toBe('PROTOCOL_SEQUENCE_TIMEOUT');
  });

  it('a frozen server (SIGSTOP): a request statement fails within the bound, a job statement within the job bound; both connections destroyed', async () => {
    const pool = poolOn(1, { statementTimeoutMs: 500, jobStatementTimeoutMs: 1500 });
    pools.push(pool.jobs);
    // Connections opened before the freeze, so the statement (not the connect timeout) is what waits.
    const requestId = await connectionId(pool);
    const jobId = Number((await pool.jobs.promise.query<Array<RowDataPacket & { id: number }>>('SELECT CONNECTION_ID() AS id'))[0][0]!.id);
    const [request, job] = await freeze(1, () => Promise.all([timed(pool.promise.query('SELECT 1')), timed(pool.jobs.promise.query('SELECT 1'))]));
    console.log(`frozen server: request statement failed after ${request.ms} ms, job statement after ${job.ms} ms`);
    expect([request.code, job.code]).toEqual(['PROTOCOL_SEQUENCE_TIMEOUT', 'PROTOCOL_SEQUENCE_TIMEOUT']);
    expect(request.ms).toBeGreaterThanOrEqual(490);
    expect(request.ms).toBeLessThan(1400);
    expect(job.ms).toBeGreaterThanOrEqual(1490);
    expect(job.ms).toBeLessThan(3000);
    // Resumed: both pools answer on new connections (the waiting ones were destroyed, not reused).
    expect(await connectionId(pool)).not.toBe(requestId);
    expect(Number((await pool.jobs.promise.query<Array<RowDataPacket & { id: number }>>('SELECT CONNECTION_ID() AS id'))[0][0]!.id)).not.toBe(jobId);
  }, 30_000);

  it('a frozen server: an execute whose statement is not prepared yet (mysql2 prepares it first, with no timeout) fails within the bound too', async () => {
    const pool = poolOn(1, { statementTimeoutMs: 500 });
    const conn = await pool.promise.getConnection();
    try {
      const before = Number((await conn.query<Array<RowDataPacket & { id: number }>>('SELECT CONNECTION_ID() AS id'))[0][0]!.id);
      const r = await freeze(1, () => timed(conn.execute('SELECT ? + 1 AS two', [1])));
      console.log(`frozen server: an unprepared execute failed after ${r.ms} ms`);
      expect(r.code).toBe('PROTOCOL_SEQUENCE_TIMEOUT');
      expect(r.ms).toBeGreaterThanOrEqual(490);
      expect(r.ms).toBeLessThan(1400);
      expect(before).toBeGreaterThan(0);
    } finally {
      conn.release();
    }
    // The waiting connection was destroyed: the pool answers on a new one.
    const [rows] = await pool.promise.execute<Array<RowDataPacket & { two: number }>>('SELECT ? + 1 AS two', [1]);
    expect(Number(rows[0]!.two)).toBe(2);
  }, 30_000);
});

describe('storage wiring', () => {
  it('request stores have the request bound; shards.jobs and every pool’s jobs view have APM_JOB_STATEMENT_TIMEOUT_MS', async () => {
    expect([c.registry.statementTimeoutMs, c.registry.jobs.statementTimeoutMs]).toEqual([REQUEST_STATEMENT_TIMEOUT_MS, JOB_STATEMENT_TIMEOUT_MS]);
    expect(JOB_STATEMENT_TIMEOUT_MS).toBe(300_000);
    expect(c.registry.jobs.jobs).toBe(c.registry.jobs);
    const store = await c.registry.storeFor(1);
    const jobStore = await c.registry.jobs.storeFor(1);
    expect([store.db.statementTimeoutMs, store.db.jobs.statementTimeoutMs, jobStore.db.statementTimeoutMs, c.directory.db.statementTimeoutMs]).toEqual([5000, 300_000, 300_000, 5000]);
    expect(jobStore).not.toBe(store);

    // A storage of its own with a small request bound and APM_JOB_STATEMENT_TIMEOUT_MS from the config.
    const config = loadAppConfig({ APM_DATA_DIR: c.dataDir, APM_JOB_STATEMENT_TIMEOUT_MS: '4000' });
    const storage = await openStorage(config, { shardAddresses: c.servers.map((s) => s.address), statementTimeoutMs: 300 });
    try {
      const [req, job] = [await storage.shards.storeFor(1), await storage.shards.jobs.storeFor(1)];
      expect([req.db.statementTimeoutMs, job.db.statementTimeoutMs]).toEqual([300, 4000]);
      expect((await timed(req.pool.query('SELECT SLEEP(1)'))).code).toBe('PROTOCOL_SEQUENCE_TIMEOUT');
      expect((await timed(job.pool.query('SELECT SLEEP(1)'))).code).toBe('ok');
      expect((await timed(sql`SELECT SLEEP(1)`.execute(job.kysely))).code).toBe('ok');
      // A dropped shard leaves both views: its jobs store's pool is ended with it.
      await storage.shards.drop(1);
      await expect(job.pool.query('SELECT 1')).rejects.toThrow('Pool is closed');
      expect(await storage.shards.jobs.storeFor(1)).not.toBe(job);
    } finally {
      await storage.close();
    }
  });
});

describe('a frozen shard server behind the dashboard', () => {
  let dashboard: DashboardHandle;
  const logs: string[] = [];
  beforeAll(async () => {
    dashboard = await startDashboard(c.deps({ log: lineLog((l) => logs.push(l)), config: c.config.with({ APM_DASHBOARD_PORT: '0', APM_DASHBOARD_METRICS_PORT: '0' }) }));
  });
  afterAll(async () => dashboard?.stop());

  it('answers 503 with Retry-After within 10 s, cut by the statement bound; the same read answers 200 once the server is back', async () => {
    const [, s2] = await c.directory.listShards();
    let made;
    do made = await c.directory.createAccount({ name: 'frozen-reads' });
    while (made.account.shardId !== s2!.id);
    const app = await c.directory.ensureApplication(made.account.id, 'web');
    const overview = () => fetch(`${dashboard.url}/api/applications/${app.id}/overview?last=30m`, { headers: { 'X-Api-Key': made.readKey } });
    expect((await overview()).status).toBe(200);
    const t0 = Date.now();
    const res = await freeze(1, overview);
    const elapsed = Date.now() - t0;
    console.log(`frozen shard: dashboard overview answered ${res.status} after ${elapsed} ms`);
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(elapsed).toBeLessThan(10_000);
    expect(logs.some((l) => l.startsWith('overview answered 503: ') && l.includes('Query inactivity timeout'))).toBe(true);
    let status = 0;
    for (let i = 0; i < 40 && status !== 200; i++) {
      status = (await overview()).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe(200);
  }, 30_000);
});

describe('jobs in the same process as the request paths (npm start: one storage)', () => {
  it('the rollup service rolls through the jobs view: a seal waiting 1.2 s on a row lock succeeds, where a runner on the request pools (bound 300 ms) fails', async () => {
    // Shard 1's account, two minutes of an hour that closed two hours ago, written by the cluster's writer.
    const [s1] = await c.directory.listShards();
    let made;
    do made = await c.directory.createAccount({ name: 'rolled' });
    while (made.account.shardId !== s1!.id);
    const store = await c.registry.storeFor(s1!.id);
    const f = new RollupFixture(store, c.writer, made.account.id, random(7));
    await f.setup();
    const hour = Math.floor(Date.now() / 1000 / 3600) * 3600 - 2 * 3600;
    expect((await f.writeMinute(hour + 60)) + (await f.writeMinute(hour + 120))).toBeGreaterThan(0);
    const [minuteTable] = (await store.listTables({ accountId: made.account.id, kind: 'minute' })).map((t) => t.name);
    expect(minuteTable).toBeDefined();

    // The process's one storage: request pools bounded at 300 ms, jobs at APM_JOB_STATEMENT_TIMEOUT_MS (300 s).
    const config = c.config.with({ APM_ROLLUP_SCHEDULE: '0 0 1 1 *', APM_ROLLUP_METRICS_PORT: '0' });
    const storage = await openStorage(config, { shardAddresses: c.servers.map((s) => s.address), statementTimeoutMs: 300 });
    /** Runs `fn` while another connection holds the minute table's registry row (FOR UPDATE) for 1.2 s. */
    const whileLocked = async <T>(fn: () => Promise<T>): Promise<T> => {
      const conn = await store.pool.getConnection();
      try {
        await conn.query('START TRANSACTION');
        await conn.query('SELECT name FROM table_registry WHERE name = ? FOR UPDATE', [minuteTable]);
        const held = new Promise((r) => setTimeout(r, 1200)).then(() => conn.query('COMMIT'));
        const [out] = await Promise.all([fn(), held]);
        return out;
      } finally {
        conn.release();
      }
    };
    try {
      const onRequestPools = new RollupRunner({ directory: storage.directory, shards: storage.shards, metrics: new RollupMetrics(new Registry()), log: silentLog, graceSeconds: 300, maxPeriodsPerRun: 100, lockWaitSeconds: 0 });
      const cut = await whileLocked(() => onRequestPools.runShard(s1!.id, { now: Date.now() / 1000, purge: false }));
      expect(cut.failures + (cut.skipped === 'failed' ? 1 : 0)).toBeGreaterThan(0);
      expect(`${cut.error ?? ''}`).not.toContain('lock wait');

      const rollup = await startRollup({ ...c.deps(), config, directory: storage.directory, shards: storage.shards, writer: storage.writer });
      try {
        const t0 = Date.now();
        const reports = await whileLocked(() => rollup.runNow());
        const mine = reports!.find((r) => r.shardId === s1!.id)!;
        expect([mine.skipped, mine.failures, mine.hours]).toEqual([undefined, 0, 1]);
        expect(Date.now() - t0).toBeGreaterThanOrEqual(1150);
      } finally {
        await rollup.stop();
      }
      expect((await store.tableInfo(minuteTable!))?.rollupState).toBe('done');
    } finally {
      await storage.close();
    }
  }, 60_000);
});
