import { silentLog } from '../../lib/log/log.js';
import mysql from 'mysql2/promise';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountRowTables } from '../../lib/ops/account-rows.js';
import { boundedQuery, QueryTimeoutError } from '../../lib/ops/bounded-query.js';
import { ShardStatsCollector } from '../../lib/ops/shard-stats.js';
import { createPool } from '../../lib/db/connect.js';
import type { ShardDatabase } from '../../lib/shard/shard-database.js';
import { ShardStore } from '../../lib/shard/shard-store.js';
import { tableName } from '../../lib/shard/table-naming.js';
import { precreateNextHour } from '../../rollup/precreate.js';
import { RollupMetrics } from '../../rollup/rollup-metrics.js';
import { RollupRunner } from '../../rollup/rollup-runner.js';
import { readShardState } from '../../rollup/rollup-state.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';

const H = 3600;
const HOUR0 = Math.floor(Date.now() / 1000 / H) * H - 48 * H;
const ACCOUNTS = 20;
const HOURS = 15;

let cluster: TestCluster;
let store: ShardStore;
let accounts: number[];

async function status(name: string): Promise<number> {
  const [rows] = await store.pool.query<any[]>('SHOW GLOBAL STATUS LIKE ?', [name]);
  return Number(rows[0].Value);
}

/** Statements of other connections still running or waiting (the test's own excluded). */
async function running(pattern: string): Promise<number> {
  const [rows] = await store.pool.query<any[]>("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND ID <> CONNECTION_ID() AND INFO NOT LIKE '%PROCESSLIST%'", [`%${pattern}%`]);
  return Number(rows[0].n);
}

/**
 * Statements matching `pattern` still on the server after waiting up to 5 s for them to go: a cancelled
 * statement leaves at once, but its KILL QUERY may need a new connection first, slower on a busy machine
 * (1 s once fell short with two test files at once); an uncancelled one stays far longer (20 s, a lock).
 */
async function stillRunning(pattern: string): Promise<number> {
  const until = Date.now() + 5000;
  while (Date.now() < until && (await running(pattern)) > 0) await new Promise((r) => setTimeout(r, 20));
  return running(pattern);
}

beforeAll(async () => {
  cluster = await startTestCluster();
  store = await cluster.registry.storeFor(1);
  accounts = [];
  for (let i = 0; i < ACCOUNTS; i++) accounts.push((await cluster.directory.createAccount({ name: `tenant-${i}`, plan: 'free' })).account.id);
  // 20 accounts × 15 hours of minute tables = 300 period tables, the older 14 hours rolled ('done').
  await Promise.all(accounts.map(async (a) => {
    for (let h = 0; h < HOURS; h++) await store.ensureTable(a, 'minute', HOUR0 + h * H);
  }));
  await store.pool.query("UPDATE table_registry SET rollup_state = 'done' WHERE kind = 'minute' AND period_start < ?", [HOUR0 + (HOURS - 1) * H]);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('shard statistics at many tables', () => {
  it('count the tables and size the shard without opening a period table', async () => {
    const stats = new ShardStatsCollector({ directory: cluster.directory, shards: cluster.registry, credentials: { user: 'root', password: '' } });
    await store.pool.query('FLUSH TABLES');
    const before = await status('Opened_tables');
    const [s] = await stats.collect({ sampleMs: 0 });
    const opened = (await status('Opened_tables')) - before;
    expect(s!.health.reachable).toBe(true);
    expect(s!.statsError).toBeUndefined();
    expect(s!.tables).toEqual({ minute: ACCOUNTS * HOURS, hour: 0, day: 0 });
    // 300 empty tables: one 16 KiB page each at least, as InnoDB's statistics count them.
    expect(s!.dataBytes).toBeGreaterThanOrEqual(ACCOUNTS * HOURS * 16384);
    // A constant handful (directory, registry, fences, InnoDB's statistics table), not one per period table.
    expect(opened).toBeLessThan((ACCOUNTS * HOURS) / 10);
    // The query it replaced opens every one of them: the measure above can tell.
    await store.pool.query('FLUSH TABLES');
    const before2 = await status('Opened_tables');
    await store.pool.query('SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()');
    expect((await status('Opened_tables')) - before2).toBeGreaterThanOrEqual(ACCOUNTS * HOURS);
  });

  it('finds the per-account row tables for moves without opening a period table', async () => {
    await store.pool.query('FLUSH TABLES');
    const before = await status('Opened_tables');
    const tables = (await accountRowTables(store.pool)).map((t) => t.name);
    expect(tables).toContain('metric_names');
    expect(tables).toContain('account_counters');
    expect(tables.some((t) => /^t[smhd]_/.test(t))).toBe(false);
    expect((await status('Opened_tables')) - before).toBeLessThan(ACCOUNTS * HOURS / 10);
  });

  it('cancels a statement on the server at its deadline, on MariaDB and by KILL QUERY', async () => {
    for (const mariadb of [true, false]) {
      const t0 = Date.now();
      const err = await boundedQuery(store.pool, `SELECT SLEEP(20) AS s, ${mariadb ? 1 : 2} AS which`, [], 300, { mariadb, what: 'sleep' }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(QueryTimeoutError);
      expect((err as Error).message).toBe('cannot sleep: no answer within 300 ms (statement cancelled)');
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(await stillRunning('SLEEP(20)')).toBe(0);
    }
  });

  it('reports a shard whose statistics are stuck as up, and cancels them', async () => {
    const blocker = await mysql.createConnection({ ...cluster.servers[0]!.address, user: 'root', password: '', database: 'apm_shard' });
    try {
      await blocker.query('LOCK TABLES table_registry WRITE');
      const stats = new ShardStatsCollector({ directory: cluster.directory, shards: cluster.registry, credentials: { user: 'root', password: '' }, timeoutMs: 500 });
      const t0 = Date.now();
      const [s] = await stats.collect({ sampleMs: 0 });
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(s!.health.reachable).toBe(true);
      expect(s!.tables).toBeNull();
      expect(s!.statsError).toContain('cannot count the tables of shard 1: no answer within 500 ms');
      expect(await stillRunning('FROM table_registry GROUP BY kind')).toBe(0);
    } finally {
      await blocker.query('UNLOCK TABLES');
      await blocker.end();
    }
  });
});

describe('rollup at many tables', () => {
  it('reads only the unfinished tables of the registry', async () => {
    const state = await readShardState(store);
    expect(state.tables.length).toBe(ACCOUNTS);
    expect(new Set(state.tables.map((t) => t.start))).toEqual(new Set([HOUR0 + (HOURS - 1) * H]));
  });

  it('creates the next hour\'s tables of active accounts before the hour, spread over its last minutes', async () => {
    const current = HOUR0 + (HOURS - 1) * H;
    const next = current + H;
    const nextTables = async () => (await store.listTables({ kind: 'minute', from: next, to: next + 1 })).map((t) => t.accountId).sort((a, b) => a - b);
    // Before the window, nothing; at minute 52 (3rd minute of 10): ceil(20 × 3 / 10) = 6 accounts.
    expect(await precreateNextHour(store, current + 49 * 60, { windowMinutes: 10 })).toBe(0);
    expect(await precreateNextHour(store, current + 52 * 60 + 30, { windowMinutes: 10 })).toBe(6);
    expect(await nextTables()).toEqual(accounts.slice(0, 6));
    // The scheduled run does the rest at minute 59, and every table really exists.
    const runner = new RollupRunner({ directory: cluster.directory, shards: cluster.registry, metrics: new RollupMetrics(new Registry()), log: silentLog, graceSeconds: 300, maxPeriodsPerRun: 100, lockWaitSeconds: 0 });
    const [report] = await runner.run({ now: current + 59 * 60, purge: true, precreate: (s, now) => precreateNextHour(s, now, { windowMinutes: 10 }) });
    expect(report!.precreated).toBe(14);
    expect(report!.hours).toBe(0);
    expect(await nextTables()).toEqual(accounts);
    const [exist] = await store.pool.query<any[]>('SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE ?', [`ts\\_%\\_${new Date(next * 1000).toISOString().slice(0, 13).replace(/[-T]/g, '')}`]);
    expect(Number(exist[0].n)).toBe(ACCOUNTS);
    // A writer's first harvest of the hour finds the table made. In this process: no statement at all.
    const creates = await status('Com_create_table');
    const inserts = await status('Com_insert');
    expect((await store.ensureTable(accounts[0]!, 'minute', next + 60)).name).toBe(tableName('minute', accounts[0]!, next));
    expect(await status('Com_create_table')).toBe(creates);
    // A writer in another process: one read of the registry (the table is there), no insert, no CREATE,
    // no table opened.
    const other = new ShardStore(1, createPool<ShardDatabase>(cluster.servers[0]!.address, { user: 'root', password: '', database: 'apm_shard', connectionLimit: 2 }), { maxMetricsPerApplication: 1000 });
    try {
      await other.loadTemplates();
      await store.pool.query('FLUSH TABLES');
      const opened = await status('Opened_tables');
      const info = await other.ensureTable(accounts[1]!, 'minute', next + 120);
      expect(info).toMatchObject({ name: tableName('minute', accounts[1]!, next), rollupState: 'open' });
      expect(await status('Com_create_table')).toBe(creates);
      expect(await status('Com_insert')).toBe(inserts);
      expect((await status('Opened_tables')) - opened).toBeLessThan(5);
      // A registry row whose table a crash never made is healed by the next call.
      await store.pool.query(`DROP TABLE ${tableName('minute', accounts[2]!, next)}`);
      other.forgetTables();
      expect((await other.ensureTable(accounts[2]!, 'minute', next)).name).toBe(tableName('minute', accounts[2]!, next));
      expect(await status('Com_create_table')).toBe(creates + 1);
      const [back] = await store.pool.query<any[]>('SHOW TABLES LIKE ?', [tableName('minute', accounts[2]!, next)]);
      expect(back.length).toBe(1);
    } finally {
      await other.close();
    }
  });
});
