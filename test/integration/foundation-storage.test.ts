import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';
import { ledgerTableName, tableName } from '../../lib/shard/table-naming.js';

let c: TestCluster;
beforeAll(async () => {
  c = await startTestCluster({ shards: 3 });
});
afterAll(async () => c?.stop());

describe('directory round-robin', () => {
  it('assigns accounts in shard order, skipping a closed shard', async () => {
    const shards = await c.directory.listShards();
    expect(shards.map((s) => s.state)).toEqual(['open', 'open', 'open']);
    await c.directory.setShardState(shards[1]!.id, 'closed');
    const got: number[] = [];
    for (let i = 0; i < 5; i++) got.push((await c.directory.createAccount({ name: `rr-${i}` })).account.shardId);
    expect(got).toEqual([shards[0]!.id, shards[2]!.id, shards[0]!.id, shards[2]!.id, shards[0]!.id]);
    await c.directory.setShardState(shards[1]!.id, 'open');
    const next = await c.directory.createAccount({ name: 'rr-after-open' });
    expect(next.account.shardId).toBe(shards[1]!.id);
  });
});

describe('shard writer', () => {
  it('merges rows of concurrent requests exactly and dedupes a resent key', async () => {
    const { account } = await c.directory.createAccount({ name: 'writer' });
    const { store } = await c.registry.storeForAccount(account.id);
    const app = await c.directory.ensureApplication(account.id, 'app');
    const [m] = await store.metricIds(account.id, [{ name: 'WebTransaction', scope: '' }]);
    const agent = await store.applicationAgentId(account.id, app.id);
    const t = Date.UTC(2026, 10, 23, 10, 5) / 1000;
    const row = (v: number) => ({ kind: 'minute' as const, t, row: { metricId: m!, agentId: agent, period: t, callCount: 1, totalTime: v, exclusiveTime: v, minTime: v, maxTime: v, sumOfSquares: v * v } });
    const outcomes = await Promise.all([
      c.writer.write({ accountId: account.id, shardId: account.shardId, rows: [row(0.5)], dedupeKey: 'a' }),
      c.writer.write({ accountId: account.id, shardId: account.shardId, rows: [row(0.25)], dedupeKey: 'b' }),
      c.writer.write({ accountId: account.id, shardId: account.shardId, rows: [row(0.5)], dedupeKey: 'a' }),
    ]);
    expect(outcomes.sort()).toEqual(['committed', 'committed', 'duplicate']);
    expect(await c.writer.write({ accountId: account.id, shardId: account.shardId, rows: [row(0.5)], dedupeKey: 'a' })).toBe('duplicate');
    const [rows] = await store.pool.query<any[]>(`SELECT * FROM ${tableName('minute', account.id, t)}`);
    expect(rows).toHaveLength(1);
    expect(Number(rows[0].call_count)).toBe(2);
    expect(rows[0].total_time).toBe(0.75);
    expect(rows[0].min_time).toBe(0.25);
    expect(rows[0].max_time).toBe(0.5);
    expect(rows[0].sum_of_squares).toBe(0.3125);
  });
});

describe('template versions', () => {
  it('a v1 and a v2 hour table are read together, each by its own columns', async () => {
    const { ShardStore } = await import('../../lib/shard/shard-store.js');
    const { createPool, ensureDatabase } = await import('../../lib/db/connect.js');
    const { compileSeriesQuery } = await import('../../dashboard/series-sql.js');
    const address = c.servers[0]!.address;
    await ensureDatabase(address, { user: 'root', password: '' }, 'apm_versions');
    const store = new ShardStore(99, createPool(address, { user: 'root', password: '', database: 'apm_versions' }), { maxMetricsPerApplication: 100 });
    try {
      await store.migrate({ until: '0001' });
      const oct = Date.UTC(2026, 9, 15, 6) / 1000;
      const nov = Date.UTC(2026, 10, 15, 6) / 1000;
      const v1 = await store.ensureTable(7, 'hour', oct);
      expect([v1.name, v1.version, v1.columns.includes('periods')]).toEqual(['th_7_202610', 1, false]);
      await store.pool.query(`INSERT INTO ${v1.name} VALUES (1, 1, ${oct}, 10, 2.5, 2.0, 0.1, 0.9, 1.25)`);

      expect((await store.migrate({ until: '0006' }))[0]).toBe('0002-templates-v2-periods.sql');
      const v2 = await store.ensureTable(7, 'hour', nov);
      expect([v2.name, v2.version, v2.columns.includes('periods')]).toEqual(['th_7_202611', 2, true]);
      await store.pool.query(`INSERT INTO ${v2.name} VALUES (1, 1, ${nov}, 4, 1.0, 0.5, 0.2, 0.4, 0.3, 60)`);
      // The old table keeps its definition.
      expect((await store.tableInfo('th_7_202610'))!.version).toBe(1);

      const tables = await store.listTables({ accountId: 7, kind: 'hour', from: oct, to: nov + 3600 });
      expect(tables.map((t) => [t.name, t.version])).toEqual([['th_7_202610', 1], ['th_7_202611', 2]]);
      // The dashboard's reader: one UNION ALL over both versions, each read by the columns they share.
      const q = compileSeriesQuery({
        segments: tables.map((t) => ({ table: t.name, kind: t.kind, version: t.version, columns: t.columns, from: t.start, to: t.end })),
        agentId: 1,
        metricIds: [1],
        bucket: 3600,
      })!;
      const [rows] = await store.pool.query<any[]>(q.sql, q.parameters);
      expect(rows.map((r) => [Number(r.bucket), Number(r.call_count), r.total_time, r.exclusive_time, r.min_time, r.max_time, r.sum_of_squares])).toEqual([
        [oct, 10, 2.5, 2, 0.1, 0.9, 1.25],
        [nov, 4, 1, 0.5, 0.2, 0.4, 0.3],
      ]);
    } finally {
      await store.pool.query('DROP DATABASE apm_versions');
      await store.close();
    }
  });
});

/** A shard store of its own database `name` on the first server (dropped by the caller). */
async function scratchStore(id: number, name: string) {
  const { ShardStore } = await import('../../lib/shard/shard-store.js');
  const { createPool, ensureDatabase } = await import('../../lib/db/connect.js');
  const address = c.servers[0]!.address;
  await ensureDatabase(address, { user: 'root', password: '' }, name);
  return new ShardStore(id, createPool(address, { user: 'root', password: '', database: name }), { maxMetricsPerApplication: 100 });
}

describe('migrations', () => {
  it('adopts the records of a release before kysely\'s Migrator and applies only what is missing', async () => {
    const store = await scratchStore(98, 'apm_legacy');
    try {
      expect(await store.migrate({ until: '0001' })).toEqual(['0001-shard-v1.sql']);
      // What the old runner left: its own table naming the applied file, no kysely table.
      await store.pool.query('CREATE TABLE schema_migrations (name VARCHAR(128) NOT NULL PRIMARY KEY, applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)');
      await store.pool.query("INSERT INTO schema_migrations (name) VALUES ('0001-shard-v1.sql')");
      await store.pool.query('DROP TABLE kysely_migration');
      const applied = await store.migrate();
      expect(applied[0]).toBe('0002-templates-v2-periods.sql');
      expect(applied).not.toContain('0001-shard-v1.sql');
      const [legacy] = await store.pool.query<any[]>("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'apm_legacy' AND TABLE_NAME = 'schema_migrations'");
      expect(Number(legacy[0].n)).toBe(0);
      expect(await store.migrate()).toEqual([]);
    } finally {
      await store.pool.query('DROP DATABASE apm_legacy');
      await store.close();
    }
  });
});

describe('migrations on a shard of many tables', () => {
  it('look for the Migrator\'s own tables by name: a migration with nothing to apply opens none of the shard\'s tables (kysely\'s introspector opened all)', async () => {
    const { typedDb } = await import('../../lib/db/connect.js');
    const store = await scratchStore(97, 'apm_many');
    const opened = async () => Number((await store.pool.query<any[]>("SHOW GLOBAL STATUS LIKE 'Opened_table_definitions'"))[0][0].Value);
    // Table definitions a migration with nothing to apply opens, and kysely's own introspector.
    const measure = async () => {
      await store.pool.query('FLUSH TABLES');
      const before = await opened();
      expect(await store.migrate()).toEqual([]);
      const ours = (await opened()) - before;
      await store.pool.query('FLUSH TABLES');
      const beforeKysely = await opened();
      await typedDb(store.pool).introspection.getTables();
      return { ours, kysely: (await opened()) - beforeKysely };
    };
    const addTables = (from: number) => Promise.all(Array.from({ length: 300 }, (_, i) => store.pool.query(`CREATE TABLE many_${from + i} (k INT PRIMARY KEY)`)));
    try {
      await store.migrate();
      await addTables(0);
      const first = await measure();
      await addTables(300);
      const second = await measure();
      // 300 more tables: the migration opens as many definitions as before, kysely's introspector 300 more.
      expect({ ours: second.ours - first.ours, kysely: second.kysely - first.kysely }).toEqual({ ours: 0, kysely: 300 });
    } finally {
      await store.pool.query('DROP DATABASE apm_many');
      await store.close();
    }
  });
});

describe('shard writer edges', () => {
  it('marks a rolled-up table dirty when late rows arrive, in the same transaction', async () => {
    const { account } = await c.directory.createAccount({ name: 'late' });
    const { store } = await c.registry.storeForAccount(account.id);
    const t = Date.UTC(2026, 0, 5, 3, 10) / 1000; // long closed
    const row = { kind: 'minute' as const, t, row: { metricId: 1, agentId: 1, period: t, callCount: 2, totalTime: 1, exclusiveTime: 1, minTime: 0.5, maxTime: 0.5, sumOfSquares: 0.5 } };
    await c.writer.write({ accountId: account.id, shardId: account.shardId, rows: [row] });
    const name = tableName('minute', account.id, t);
    expect((await store.tableInfo(name))!.rollupState).toBe('open');
    await store.setRollupState(name, 'done');
    await c.writer.write({ accountId: account.id, shardId: account.shardId, rows: [row] });
    expect((await store.tableInfo(name))!.rollupState).toBe('dirty');
    const [rows] = await store.pool.query<any[]>(`SELECT call_count FROM ${name}`);
    expect(rows.map((r) => Number(r.call_count))).toEqual([4]);
  });

  it('writes again after another process dropped a table this process had cached', async () => {
    const { account } = await c.directory.createAccount({ name: 'dropped' });
    const { store } = await c.registry.storeForAccount(account.id);
    const t = Math.floor(Date.now() / 60000) * 60;
    const row = { kind: 'minute' as const, t, row: { metricId: 3, agentId: 1, period: t, callCount: 1, totalTime: 0.5, exclusiveTime: 0.5, minTime: 0.5, maxTime: 0.5, sumOfSquares: 0.25 } };
    await c.writer.write({ accountId: account.id, shardId: account.shardId, rows: [row] });
    const name = tableName('minute', account.id, t);
    // As a purge or a move in another process would: the table and its registry row go.
    await store.pool.query(`DROP TABLE ${name}`);
    await store.pool.query('DELETE FROM table_registry WHERE name = ?', [name]);
    expect(await c.writer.write({ accountId: account.id, shardId: account.shardId, rows: [row] })).toBe('committed');
    const [rows] = await store.pool.query<any[]>(`SELECT call_count FROM ${name}`);
    expect(rows.map((r) => Number(r.call_count))).toEqual([1]);
  });

  it('drops ledger tables whole once they are a few days old', async () => {
    const { account } = await c.directory.createAccount({ name: 'ledger' });
    const { store } = await c.registry.storeForAccount(account.id);
    const old = Date.UTC(2026, 0, 5, 3, 10) / 1000;
    const now = Date.now() / 1000;
    const recent = Math.floor((now + 2 * 86400) / 60) * 60; // a later data day
    for (const t of [old, recent]) {
      const row = { kind: 'minute' as const, t, row: { metricId: 1, agentId: 1, period: t, callCount: 1, totalTime: 0, exclusiveTime: 0, minTime: 0, maxTime: 0, sumOfSquares: 0 } };
      expect(await c.writer.write({ accountId: account.id, shardId: account.shardId, rows: [row], dedupeKey: `k${t}` })).toBe('committed');
    }
    // Just committed: an old data day alone does not make the ledger go.
    expect(await store.dropOldLedgers(now)).toEqual([]);
    // Four days later the old day's ledger goes; the later day's stays while its day is recent.
    expect(await store.dropOldLedgers(now + 4 * 86400)).toContain('wl_20260105');
    expect(await store.dropOldLedgers(now + 4 * 86400)).toEqual([]);
    const [rows] = await store.pool.query<any[]>("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'wl\\_%'");
    expect(rows.map((r) => r.t)).toContain(ledgerTableName(recent));
    expect(rows.map((r) => r.t)).not.toContain('wl_20260105');
  });

  it('answers 503 quickly when a shard is down, and refuses past the pending bound', async () => {
    const { RetryableError } = await import('../../lib/errors.js');
    const shard = await c.directory.addShard('127.0.0.1:1');
    const { ShardWriter } = await import('../../lib/shard/shard-writer.js');
    const w = new ShardWriter(c.registry, { batchRows: 10, flushMs: 1, maxPendingRows: 1000, connections: 1, timeoutMs: 5000, now: () => Date.now() / 1000 });
    const req = (n: number) => ({ accountId: 1, shardId: shard.id, rows: Array.from({ length: n }, (_, i) => ({ kind: 'minute' as const, t: 0, row: { metricId: i + 1, agentId: 1, period: 0, callCount: 1, totalTime: 0, exclusiveTime: 0, minTime: 0, maxTime: 0, sumOfSquares: 0 } })) });
    const started = Date.now();
    const first = w.write(req(1));
    const overflow = w.write(req(1000));
    await expect(overflow).rejects.toThrow(`cannot write to shard ${shard.id}: 1 rows are already waiting`);
    await expect(first).rejects.toBeInstanceOf(RetryableError);
    expect(Date.now() - started).toBeLessThan(4000);
    await w.stop();
    await c.directory.setShardState(shard.id, 'closed');
  });
});

describe('self-metrics plumbing', () => {
  it('serves a service registry on /metrics and counts writer rows per shard', async () => {
    const { createServiceRegistry, startMetricsServer } = await import('../../lib/metrics/registry.js');
    const reg = createServiceRegistry('test', { defaultMetrics: false });
    const server = await startMetricsServer([reg, c.metrics], { host: '127.0.0.1', port: 0 });
    try {
      const body = await (await fetch(server.url)).text();
      const shardId = (await c.directory.listShards())[0]!.id;
      expect(body).toMatch(new RegExp(`apm_writer_rows_written_total\\{shard="${shardId}"\\} [1-9]`));
      expect((await fetch(server.url.replace('/metrics', '/other'))).status).toBe(404);
    } finally {
      await server.stop();
    }
  });
});
