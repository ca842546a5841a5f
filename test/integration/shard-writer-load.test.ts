import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { lineLog } from '../../lib/log/log.js';
import { ShardWriter } from '../../lib/shard/shard-writer.js';
import { UnwritableDataError } from '../../lib/shard/shard-writer-errors.js';
import type { Timeslice } from '../../lib/timeslice/timeslice.js';
import { agentFleet, callStats } from '../harness/agent-fleet.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';

let c: TestCluster;
beforeAll(async () => {
  c = await startTestCluster({ shards: 1 });
});
afterAll(async () => c?.stop());

const H = Date.UTC(2026, 10, 23, 10) / 1000;
const clock = H + 30 * 60;

function writer(o: { loadData?: boolean; registry?: Registry; log?: ReturnType<typeof lineLog> } = {}) {
  // The statement-by-statement path, where LOAD DATA runs (the one-trip path upserts: shard-writer-one-trip.test.ts).
  const oneTrip = false;
  return new ShardWriter(c.registry, { batchRows: 100_000, flushMs: 20, maxPendingRows: 1_000_000, connections: 1, timeoutMs: 30_000, now: () => clock, oneTrip, ...o });
}

const fleet = (name: string, agents = 2) => agentFleet(c, name, agents, H);

const s = callStats;

async function stored(f: Awaited<ReturnType<typeof fleet>>) {
  const [rows] = await f.store.pool.query<any[]>(`SELECT * FROM ${f.table} ORDER BY agent_id, metric_id, period`);
  return rows.map((r) => [r.agent_id, r.metric_id, r.period, Number(r.call_count), r.total_time, r.exclusive_time, r.min_time, r.max_time, r.sum_of_squares]);
}

async function byPath(registry: Registry) {
  const m = await registry.getSingleMetric('apm_writer_rows_total')!.get();
  const fb = await registry.getSingleMetric('apm_writer_load_fallbacks_total')!.get();
  const of = (p: string) => m.values.find((v) => v.labels.path === p)?.value ?? 0;
  return { load: of('load'), upsert: of('upsert'), fallbacks: fb.values[0]?.value ?? 0 };
}

describe('LOAD DATA LOCAL INFILE for append-only rows (issue #20)', () => {
  it('new agents\' rows of an open minute land exactly by LOAD; the same rows written again merge exactly by upsert', async () => {
    const f = await fleet('load-new');
    const registry = new Registry();
    const w = writer({ registry });
    const p = H + 10 * 60;
    try {
      expect(await w.write({ accountId: f.account.id, shardId: f.account.shardId, dedupeKey: 'a', rows: [f.row(0, 0, p, s(3, 0.5)), f.row(0, 1, p, s(1, 2)), f.row(1, 0, p, s(2, 0.25))] })).toBe('committed');
      expect(await byPath(registry)).toEqual({ load: 3, upsert: 0, fallbacks: 0 });
      const [a0, a1] = f.agentIds;
      const [m0, m1] = await f.store.metricIds(f.account.id, [{ name: 'WebTransaction', scope: '' }, { name: 'Datastore/all', scope: '' }]);
      expect(await stored(f)).toEqual([
        [a0, m0, p, 3, 1.5, 0.5, 0.25, 1, 0.25],
        [a0, m1, p, 1, 2, 2, 1, 4, 4],
        [a1, m0, p, 2, 0.5, 0.25, 0.125, 0.5, 0.0625],
      ].sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!));
      // Key (a0, m0, p) is stored: the load is rolled back to the savepoint and the batch upserted.
      expect(await w.write({ accountId: f.account.id, shardId: f.account.shardId, dedupeKey: 'b', rows: [f.row(0, 0, p, s(4, 0.125)), f.row(1, 1, p, s(1, 8))] })).toBe('committed');
      expect(await byPath(registry)).toEqual({ load: 3, upsert: 2, fallbacks: 1 });
      expect(await stored(f)).toEqual([
        [a0, m0, p, 7, 2, 0.625, 0.0625, 1, 0.265625],
        [a0, m1, p, 1, 2, 2, 1, 4, 4],
        [a1, m0, p, 2, 0.5, 0.25, 0.125, 0.5, 0.0625],
        [a1, m1, p, 1, 8, 8, 4, 16, 64],
      ].sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!));
    } finally {
      await w.stop();
    }
  });

  it('a load rolled back to the savepoint rewrites the tables loaded before it in the same transaction, once', async () => {
    const fresh = await fleet('load-fresh');
    const old = await fleet('load-old');
    const p = H + 11 * 60;
    const registry = new Registry();
    const w = writer({ registry });
    try {
      expect(await w.write({ accountId: old.account.id, shardId: old.account.shardId, dedupeKey: 'o1', rows: [old.row(0, 0, p, s(1, 1))] })).toBe('committed');
      // One batch (one transaction): `fresh` loads first, then `old` finds its key stored.
      const both = await Promise.all([
        w.write({ accountId: fresh.account.id, shardId: fresh.account.shardId, dedupeKey: 'f1', rows: [fresh.row(0, 0, p, s(5, 1)), fresh.row(1, 0, p, s(1, 4))] }),
        w.write({ accountId: old.account.id, shardId: old.account.shardId, dedupeKey: 'o2', rows: [old.row(0, 0, p, s(2, 4))] }),
      ]);
      expect(both).toEqual(['committed', 'committed']);
      expect(await byPath(registry)).toEqual({ load: 1, upsert: 3, fallbacks: 1 });
      expect((await stored(fresh)).map((r) => r.slice(3))).toEqual([[5, 5, 1, 0.5, 2, 1], [1, 4, 4, 2, 8, 16]]);
      expect((await stored(old)).map((r) => r.slice(3))).toEqual([[3, 9, 5, 0.5, 8, 17]]);
    } finally {
      await w.stop();
    }
  });

  it('stores awkward doubles bit for bit as the upsert does', async () => {
    const awkward = [0.1 + 0.2, 1e-300, 5e-324, 1.7976931348623157e308, 2 ** -1074 * 3, 123456.789e-7, 1 / 3, -2.5e-310];
    const loaded = await fleet('awkward-load', 1);
    const upserted = await fleet('awkward-upsert', 1);
    const p = H + 12 * 60;
    const rowsOf = (f: typeof loaded) =>
      awkward.map((v, i) => ({ ...f.row(0, i % 2, p + 60 * Math.floor(i / 2), { callCount: 2 ** 53 - 1, totalTime: v, exclusiveTime: -v, minTime: v, maxTime: v, sumOfSquares: v }) }));
    const rl = new Registry();
    const ru = new Registry();
    const wl = writer({ registry: rl });
    const wu = writer({ registry: ru, loadData: false });
    try {
      expect(await wl.write({ accountId: loaded.account.id, shardId: loaded.account.shardId, rows: rowsOf(loaded) })).toBe('committed');
      expect(await wu.write({ accountId: upserted.account.id, shardId: upserted.account.shardId, rows: rowsOf(upserted) })).toBe('committed');
      expect(await byPath(rl)).toEqual({ load: awkward.length, upsert: 0, fallbacks: 0 });
      expect(await byPath(ru)).toEqual({ load: 0, upsert: awkward.length, fallbacks: 0 });
      const l = await stored(loaded);
      const u = await stored(upserted);
      const expected = awkward.map((v, i) => [i % 2, p + 60 * Math.floor(i / 2), 2 ** 53 - 1, v, -v, v, v, v]);
      const seen = (rows: unknown[][]) => rows.map((r) => [r[1] === rows[0]![1] ? 0 : 1, ...r.slice(2)]).sort((a, b) => (a[1] as number) - (b[1] as number) || (a[0] as number) - (b[0] as number));
      // Every bit of every double is the JavaScript value's.
      const bits = (rows: unknown[][]) => seen(rows).map((r) => r.map((x) => (typeof x === 'number' ? Buffer.from(new Float64Array([x]).buffer).toString('hex') : x)));
      expect(bits(l)).toEqual(bits(expected.map((r) => [0, ...r])));
      expect(bits(u)).toEqual(bits(l));
      // And in the server, value by value (exact equality of the stored doubles).
      const [eq] = await loaded.store.pool.query<any[]>(
        `SELECT COUNT(*) AS n FROM ${loaded.table} a JOIN ${upserted.table} b ON a.period = b.period AND (a.metric_id - (SELECT MIN(metric_id) FROM ${loaded.table})) = (b.metric_id - (SELECT MIN(metric_id) FROM ${upserted.table})) ` +
          'WHERE a.total_time = b.total_time AND a.exclusive_time = b.exclusive_time AND a.min_time = b.min_time AND a.max_time = b.max_time AND a.sum_of_squares = b.sum_of_squares AND a.call_count = b.call_count',
      );
      expect(Number(eq[0].n)).toBe(awkward.length);
    } finally {
      await wl.stop();
      await wu.stop();
    }
  });

  it('a value that overflows once merged with a stored row falls back to the upsert and is refused alone (400)', async () => {
    const f = await fleet('load-overflow', 1);
    const p = H + 13 * 60;
    const big: Timeslice = { callCount: 1, totalTime: 1e308, exclusiveTime: 1, minTime: 1, maxTime: 1, sumOfSquares: 1 };
    const w = writer();
    try {
      expect(await w.write({ accountId: f.account.id, shardId: f.account.shardId, dedupeKey: 'x1', rows: [f.row(0, 0, p, big)] })).toBe('committed');
      await expect(w.write({ accountId: f.account.id, shardId: f.account.shardId, dedupeKey: 'x2', rows: [f.row(0, 0, p, big)] })).rejects.toBeInstanceOf(UnwritableDataError);
      expect((await stored(f)).map((r) => r.slice(3, 5))).toEqual([[1, 1e308]]);
    } finally {
      await w.stop();
    }
  });

  // Last in the file: the pool is marked as refusing for the rest of its life.
  it('a server with local_infile off: the writer upserts (no request fails) and says so once', async () => {
    const f = await fleet('load-refused');
    const registry = new Registry();
    const lines: string[] = [];
    const w = writer({ registry, log: lineLog((l) => lines.push(l), 'warn') });
    const p = H + 14 * 60;
    await f.store.pool.query('SET GLOBAL local_infile = 0');
    try {
      expect(await w.write({ accountId: f.account.id, shardId: f.account.shardId, dedupeKey: 'r1', rows: [f.row(0, 0, p, s(1, 1))] })).toBe('committed');
      expect(await w.write({ accountId: f.account.id, shardId: f.account.shardId, dedupeKey: 'r2', rows: [f.row(1, 0, p, s(2, 1))] })).toBe('committed');
      expect(await byPath(registry)).toEqual({ load: 0, upsert: 2, fallbacks: 0 });
      expect((await stored(f)).map((r) => r.slice(3, 5))).toEqual([[1, 1], [2, 2]]);
      expect(lines.filter((l) => l.includes('refuses LOAD DATA LOCAL INFILE'))).toHaveLength(1);
    } finally {
      await f.store.pool.query('SET GLOBAL local_infile = 1');
      await w.stop();
    }
  });
});
