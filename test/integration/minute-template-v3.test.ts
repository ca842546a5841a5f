import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, ensureDatabase } from '../../lib/db/connect.js';
import { ShardStore } from '../../lib/shard/shard-store.js';
import { compileSeriesQuery } from '../../dashboard/series-sql.js';
import { upsertSql } from '../../lib/shard/shard-writer-sql.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';

let c: TestCluster;
beforeAll(async () => {
  c = await startTestCluster({ shards: 1 });
});
afterAll(async () => c?.stop());

const row = (metricId: number, agentId: number, period: number, n: number) => ({
  metricId, agentId, period, callCount: n, totalTime: n / 4, exclusiveTime: n / 8, minTime: 0.125, maxTime: 0.5, sumOfSquares: n / 16,
});

describe('minute template v3 (primary key in arrival order)', () => {
  it('new minute tables are v3 keyed (period, agent_id, metric_id); a v2 and a v3 minute table are read together', async () => {
    const address = c.servers[0]!.address;
    await ensureDatabase(address, { user: 'root', password: '' }, 'apm_v3');
    const store = new ShardStore(98, createPool(address, { user: 'root', password: '', database: 'apm_v3' }), { maxMetricsPerApplication: 100 });
    try {
      await store.migrate({ until: '0006' });
      const h10 = Date.UTC(2026, 10, 23, 10) / 1000;
      const h11 = h10 + 3600;
      const v2 = await store.ensureTable(7, 'minute', h10);
      expect(v2.version).toBe(2);
      await store.pool.query(upsertSql(v2.name, [row(1, 5, h10 + 60, 4), row(2, 5, h10 + 60, 8)]));
      expect(await store.migrate({ until: '0007' })).toEqual(['0007-templates-v3-arrival-order.sql']);
      const v3 = await store.ensureTable(7, 'minute', h11);
      expect([v3.version, v3.columns]).toEqual([3, v2.columns]);
      const [keys] = await store.pool.query<any[]>(
        "SELECT INDEX_NAME AS i, COLUMN_NAME AS c FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'apm_v3' AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX",
        [v3.name],
      );
      expect(keys.map((k) => `${k.i}.${k.c}`)).toEqual(['by_series.agent_id', 'by_series.metric_id', 'PRIMARY.period', 'PRIMARY.agent_id', 'PRIMARY.metric_id']);
      // The writer's upsert merges into a v3 row exactly as into a v2 row.
      await store.pool.query(upsertSql(v3.name, [row(1, 5, h11, 2), row(2, 5, h11, 2)]));
      await store.pool.query(upsertSql(v3.name, [row(1, 5, h11, 6)]));
      expect((await store.tableInfo(v2.name))!.version).toBe(2);
      const tables = await store.listTables({ accountId: 7, kind: 'minute', from: h10, to: h11 + 3600 });
      expect(tables.map((t) => [t.name, t.version])).toEqual([[v2.name, 2], [v3.name, 3]]);
      // The dashboard's reader: one UNION ALL over both versions.
      const q = compileSeriesQuery({
        segments: tables.map((t) => ({ table: t.name, kind: t.kind, version: t.version, columns: t.columns, from: t.start, to: t.end })),
        agentId: 5,
        metricIds: [1],
        bucket: 60,
      })!;
      const [rows] = await store.pool.query<any[]>(q.sql, q.parameters);
      expect(rows.map((r) => [Number(r.bucket), Number(r.call_count), r.total_time, r.min_time])).toEqual([
        [h10 + 60, 4, 1, 0.125],
        [h11, 8, 2, 0.125],
      ]);
    } finally {
      await store.pool.query('DROP DATABASE apm_v3');
      await store.close();
    }
  });
});
