import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, ensureDatabase } from '../../lib/db/connect.js';
import { ShardStore } from '../../lib/shard/shard-store.js';
import { ShardWriter, type WriteRow } from '../../lib/shard/shard-writer.js';
import { upsertSql } from '../../lib/shard/shard-writer-sql.js';
import type { Timeslice } from '../../lib/timeslice/timeslice.js';
import { SeriesReader } from '../../dashboard/series-reader.js';
import { compileSeriesQuery, type SeriesRow } from '../../dashboard/series-sql.js';
import { sealMinuteTable } from '../../rollup/minute-seal.js';
import { agentFleet } from '../harness/agent-fleet.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';

let c: TestCluster;
beforeAll(async () => {
  c = await startTestCluster({ shards: 1 });
});
afterAll(async () => c?.stop());

const H10 = Date.UTC(2026, 10, 23, 10) / 1000;
const H11 = H10 + 3600;

const row = (metricId: number, agentId: number, period: number, n: number) => ({
  metricId, agentId, period, callCount: n, totalTime: n / 4, exclusiveTime: n / 8, minTime: 0.125, maxTime: 0.5, sumOfSquares: n / 16,
});

const segmentOf = (t: { name: string; kind: 'minute' | 'hour' | 'day'; version: number; columns: readonly string[]; start: number; end: number; listsPeriods: boolean; sealedThrough?: number }) => ({
  table: t.name, kind: t.kind, version: t.version, columns: t.columns, from: t.start, to: t.end, listsPeriods: t.listsPeriods, ...(t.sealedThrough === undefined ? {} : { sealedThrough: t.sealedThrough }),
});

describe('minute template v4 (the primary key alone)', () => {
  it('new minute tables are v4 without by_series; a v3 and a v4 table are read together; a v4 read looks up (minute, agent, metric) in the primary key', async () => {
    const address = c.servers[0]!.address;
    await ensureDatabase(address, { user: 'root', password: '' }, 'apm_v4');
    const store = new ShardStore(97, createPool(address, { user: 'root', password: '', database: 'apm_v4' }), { maxMetricsPerApplication: 100 });
    try {
      await store.migrate({ until: '0011' });
      const v3 = await store.ensureTable(7, 'minute', H10);
      expect(v3.version).toBe(3);
      expect(await store.migrate({ until: '0012' })).toEqual(['0012-templates-v4-primary-key-only.sql']);
      const v4 = await store.ensureTable(7, 'minute', H11);
      expect([v4.version, v4.columns]).toEqual([4, v3.columns]);
      expect((await store.ensureTable(7, 'hour', H11)).version).toBe(4);
      const [keys] = await store.pool.query<any[]>(
        "SELECT INDEX_NAME AS i, COLUMN_NAME AS c FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'apm_v4' AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX",
        [v4.name],
      );
      expect(keys.map((k) => `${k.i}.${k.c}`)).toEqual(['PRIMARY.period', 'PRIMARY.agent_id', 'PRIMARY.metric_id']);
      // The keys an account move pages through, read from the templates.
      expect([store.primaryKeyOf('minute', 4), store.primaryKeyOf('minute', 3), store.primaryKeyOf('minute', 2), store.primaryKeyOf('hour', 4)]).toEqual([
        ['period', 'agent_id', 'metric_id'],
        ['period', 'agent_id', 'metric_id'],
        ['metric_id', 'agent_id', 'period'],
        ['metric_id', 'agent_id', 'period'],
      ]);
      // Whether chart reads list the periods, read from the same keys: v3's by_series serves a range, v4 has nothing but the primary key.
      expect([v4.listsPeriods, v3.listsPeriods, store.templates.listsPeriods('minute', 2), store.templates.listsPeriods('hour', 4)]).toEqual([true, false, false, false]);

      // 20 agents × 30 metrics in every minute of both hours; agent 5's metrics 1 and 2 are read.
      for (const t of [v3, v4]) {
        const rows = [];
        for (let p = t.start; p < t.end; p += 60) for (let a = 1; a <= 20; a++) for (let m = 1; m <= 30; m++) rows.push(row(m, a, p, a === 5 ? m * 2 : 1));
        for (let i = 0; i < rows.length; i += 6000) await store.pool.query(upsertSql(t.name, rows.slice(i, i + 6000)));
        await store.pool.query(`ANALYZE TABLE ${t.name}`);
      }
      await store.pool.query(upsertSql(v4.name, [row(1, 5, H11 + 60, 2)])); // merged into a v4 row as into any other
      const tables = await store.listTables({ accountId: 7, kind: 'minute', from: H10, to: H11 + 3600 });
      expect(tables.map((t) => [t.name, t.version])).toEqual([[v3.name, 3], [v4.name, 4]]);
      const q = compileSeriesQuery({ segments: tables.map(segmentOf), agentId: 5, metricIds: [1, 2], bucket: 3600 })!;
      const minutesV4 = Array.from({ length: 60 }, (_, k) => H11 + 60 * k);
      expect(q.sql.split('\nUNION ALL\n')[1]).toContain(`FROM \`${v4.name}\` WHERE agent_id = ? AND metric_id IN (?, ?) AND period IN (${minutesV4.map(() => '?').join(', ')}) GROUP BY`);
      const [rows] = await store.pool.query<any[]>(q.sql, q.parameters);
      expect(rows.map((r) => [Number(r.metric_id), Number(r.bucket), Number(r.call_count), r.min_time])).toEqual([
        [1, H10, 120, 0.125],
        [2, H10, 240, 0.125],
        [1, H11, 122, 0.125],
        [2, H11, 240, 0.125],
      ]);
      // The v4 part: one range of the whole primary key (12 bytes: three INTs) per minute and metric.
      const [plan] = await store.pool.query<any[]>(`EXPLAIN ${q.sql}`, q.parameters);
      const v4Plan = plan.find((p) => p.table === v4.name);
      expect([v4Plan.type, v4Plan.key, v4Plan.key_len]).toEqual(['range', 'PRIMARY', '12']);
      expect(Number(v4Plan.rows)).toBeLessThanOrEqual(120);
    } finally {
      await store.pool.query('DROP DATABASE apm_v4');
      await store.close();
    }
  });

  it("an application-wide read lists only the minutes its listing saw unsealed; a hint ahead of the statement's registry makes the reader read again without hints, exactly", async () => {
    const f = await agentFleet(c, 'v4-hint', 2, H10);
    const w = new ShardWriter(c.registry, { batchRows: 100_000, flushMs: 5, maxPendingRows: 1_000_000, connections: 2, timeoutMs: 30_000, now: () => H10 + 30 * 60 });
    const slice = (n: number): Timeslice => ({ callCount: n, totalTime: n / 2, exclusiveTime: n / 4, minTime: 0.5, maxTime: 1, sumOfSquares: n / 8 });
    try {
      // Minutes 0..4, two agents, metric 0: agent g writes 1 + g + 10·k calls in minute k.
      const rows: WriteRow[] = [];
      for (let k = 0; k < 5; k++) for (let g = 0; g < 2; g++) rows.push(f.row(g, 0, H10 + 60 * k, slice(1 + g + 10 * k)));
      expect(await w.write({ accountId: f.account.id, shardId: f.account.shardId, rows, dedupeKey: 'v4' })).toBe('committed');
      const conn = await f.store.pool.getConnection();
      try {
        expect(await sealMinuteTable(conn, { name: f.table, accountId: f.account.id, start: H10, end: H10 + 3600 }, H10 + 180)).toEqual({ sealed: true, rows: 3 });
      } finally {
        conn.release();
      }
      const expected = [3, 23, 43, 63, 83].map((n, k) => [H10 + 60 * k, n]);
      const [listed] = await f.store.listTables({ accountId: f.account.id, kind: 'minute', from: H10, to: H10 + 3600 });
      expect([listed!.version, listed!.sealedThrough]).toEqual([4, H10 + 180]);
      const read = (sealedThrough: number) => {
        const q = compileSeriesQuery({
          segments: [segmentOf({ ...listed!, sealedThrough })],
          agentId: f.appAgent,
          application: { accountId: f.account.id, applicationId: f.app.id },
          metricIds: [f.metricIds[0]!],
          bucket: 60,
        })!;
        return { q, run: async () => (await f.store.pool.query<SeriesRow[]>(q.sql, q.parameters))[0].map((r) => [r.bucket === null ? null : Number(r.bucket), r.call_count === null ? null : Number(r.call_count)]) };
      };
      // The hint as listed: the agents' part lists minutes 3..59 only, then the marker's check (table, minute 3).
      const fresh = read(H10 + 180);
      expect(fresh.q.parameters.slice(-61)).toEqual([f.metricIds[0], ...Array.from({ length: 57 }, (_, k) => H10 + 180 + 60 * k), f.table, f.table, H10 + 180]);
      expect(await fresh.run()).toEqual(expected);
      // A hint ahead of the registry (minute 4): minute 3 is in neither part, so the statement adds its NULL row.
      expect(await read(H10 + 240).run()).toEqual([...expected.filter(([p]) => p !== H10 + 180), [null, null]]);

      // The reader given that listing reads again without hints: exact.
      const reader = new SeriesReader({ maxPoints: 500, maxStitchTables: 12 });
      const store = Object.create(f.store) as typeof f.store;
      let listings = 0;
      store.listTables = async (filter) => {
        listings++;
        return (await f.store.listTables(filter)).map((t) => ({ ...t, sealedThrough: H10 + 240 }));
      };
      const r = await reader.readAt(store, f.account, f.app.id, [{ name: 'WebTransaction', scope: '', id: f.metricIds[0]! }], { kind: 'minute', step: 60, from: H10, to: H10 + 3600, points: 60 });
      expect(listings).toBe(1);
      expect([...r.data.get('WebTransaction\u0000')!].map(([b, s]) => [b, s.callCount])).toEqual(expected);
    } finally {
      await w.stop();
    }
  });
});
