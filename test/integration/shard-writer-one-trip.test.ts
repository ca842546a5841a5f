import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { ShardWriter, type WriteRequest } from '../../lib/shard/shard-writer.js';
import { WriteLedger } from '../../lib/shard/shard-writer-ledger.js';
import { runTransaction } from '../../lib/shard/shard-writer-transaction.js';
import type { ShardStore } from '../../lib/shard/shard-store.js';
import { WriterFences } from '../../lib/shard/writer-fences.js';
import { MAX_TEXT_BYTES } from '../../lib/shard/shard-writer-one-trip.js';
import { tableName } from '../../lib/shard/table-naming.js';
import { agentFleet, pendingWrite, callStats } from '../harness/agent-fleet.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';

/**
 * The writer's one-round-trip transaction (lib/shard/shard-writer-one-trip.ts) against a real MariaDB:
 * the usual batch commits in one trip; every unusual answer (a stored key, a guard that changes no
 * row, a fenced account, a sealed minute) rolls it back and the stepwise transaction decides, with
 * nothing of the attempt left behind; late rows and over-long text go stepwise from the start.
 */
let c: TestCluster;
let shard: ShardStore;
beforeAll(async () => {
  c = await startTestCluster({ shards: 1 });
  shard = (await c.registry.storeForAccount((await c.directory.createAccount({ name: 'one-trip-guards' })).account.id)).store;
  await shard.pool.query('CREATE TABLE IF NOT EXISTS test_guards (id INT PRIMARY KEY, v INT NOT NULL)');
});
afterAll(async () => c?.stop());

const H = Date.UTC(2026, 10, 24, 10) / 1000;
let clock = H + 30 * 60;

/** Runs `run` with a writer of its own (one connection, a registry to read its paths from), stopped after. */
async function withWriter(bulk: boolean, run: (w: ShardWriter, registry: Registry) => Promise<void>): Promise<void> {
  const registry = new Registry();
  const w = new ShardWriter(c.registry, { batchRows: 2000, flushMs: 50, maxPendingRows: 1_000_000, connections: 1, timeoutMs: 30_000, now: () => clock, registry, bulk });
  try {
    await run(w, registry);
  } finally {
    await w.stop();
  }
}

const s = callStats;

/** Transactions committed by the trip (`trip`: its path label) and stepwise; a trip of the other kind fails the test. */
async function paths(registry: Registry, trip: 'one_trip' | 'bulk') {
  const m = await registry.getSingleMetric('apm_writer_transactions_total')!.get();
  const of = (p: string) => m.values.find((v) => v.labels.path === p)?.value ?? 0;
  expect(of(trip === 'bulk' ? 'one_trip' : 'bulk')).toBe(0);
  return { oneTrip: of(trip), stepwise: of('stepwise') };
}

async function guardRow(id: number, v: number) {
  await shard.pool.query('REPLACE INTO test_guards (id, v) VALUES (?, ?)', [id, v]);
  return { sql: 'UPDATE test_guards SET v = v + 1 WHERE id = ? AND v = ?', params: [id, v] };
}

async function guardValue(id: number): Promise<number> {
  const [rows] = await shard.pool.query<any[]>('SELECT v FROM test_guards WHERE id = ?', [id]);
  return Number(rows[0].v);
}

async function rowsOf(f: Awaited<ReturnType<typeof agentFleet>>, table = f.table) {
  const [rows] = await f.store.pool.query<any[]>(`SELECT agent_id, metric_id, period, call_count, total_time FROM ${table} ORDER BY agent_id, metric_id, period`);
  return rows.map((r) => [r.agent_id, r.metric_id, r.period, Number(r.call_count), r.total_time]);
}

const req = (f: Awaited<ReturnType<typeof agentFleet>>, key: string, rows: WriteRequest['rows'], guard?: WriteRequest['guard']): WriteRequest => ({
  accountId: f.account.id,
  shardId: f.account.shardId,
  dedupeKey: key,
  rows,
  ...(guard ? { guard } : {}),
});

// The same cases with the rows as text in the one query (APM_WRITER_BULK=false) and as MariaDB bulk
// statements sent with the checks (shard-writer-bulk-trip.ts): every check must hold on both.
describe.each([
  { bulk: false, trip: 'one_trip' as const },
  { bulk: true, trip: 'bulk' as const },
])('the one-round-trip write transaction (issue #20), bulk rows $bulk', ({ bulk, trip }) => {
  const name = (n: string) => (bulk ? `${n}-bulk` : n);
  it('commits a usual batch of two accounts in one trip: rows, guards and ledger keys together', async () => {
    const a = await agentFleet(c, name('ot-usual-a'), 2, H);
    const b = await agentFleet(c, name('ot-usual-b'), 1, H);
    const p = H + 5 * 60;
    await withWriter(bulk, async (w, registry) => {
      const out = await Promise.all([
        w.write(req(a, 'a1', [a.row(0, 0, p, s(3, 0.5)), a.row(1, 1, p, s(2, 4))], await guardRow(1, 10))),
        w.write(req(b, 'b1', [b.row(0, 0, p, s(1, 2)), b.row(0, 0, p, s(1, 6))], await guardRow(2, 20))),
      ]);
      expect(out).toEqual(['committed', 'committed']);
      expect(await paths(registry, trip)).toEqual({ oneTrip: 1, stepwise: 0 });
      expect(await rowsOf(a)).toEqual([
        [a.agentIds[0], a.metricIds[0], p, 3, 1.5],
        [a.agentIds[1], a.metricIds[1], p, 2, 8],
      ]);
      // The two rows of one key in one request merged in memory: 1 + 1 calls, 2 + 6 total.
      expect(await rowsOf(b)).toEqual([[b.agentIds[0], b.metricIds[0], p, 2, 8]]);
      expect([await guardValue(1), await guardValue(2)]).toEqual([11, 21]);
      // The keys were recorded in the same trip: the same deliveries again write nothing.
      expect(await Promise.all([w.write(req(a, 'a1', [a.row(0, 0, p, s(3, 0.5))])), w.write(req(b, 'b1', [b.row(0, 0, p, s(1, 2))]))])).toEqual(['duplicate', 'duplicate']);
      expect(await rowsOf(b)).toEqual([[b.agentIds[0], b.metricIds[0], p, 2, 8]]);
    });
  });

  it('a resent key or a guard that changes no row: the trip is rolled back and the stepwise transaction writes the rest once', async () => {
    const f = await agentFleet(c, name('ot-unusual'), 3, H);
    const p = H + 6 * 60;
    await withWriter(bulk, async (w, registry) => {
      expect(await w.write(req(f, 'k1', [f.row(0, 0, p, s(1, 1))]))).toBe('committed');
      expect(await paths(registry, trip)).toEqual({ oneTrip: 1, stepwise: 0 });
      const stale = await guardRow(3, 30);
      await shard.pool.query('UPDATE test_guards SET v = 31 WHERE id = 3'); // the guard now expects a stale version
      // A guard that changes no row, beside a usual request.
      expect(await Promise.all([w.write(req(f, 'k2', [f.row(1, 0, p, s(5, 2))], stale)), w.write(req(f, 'k3', [f.row(2, 1, p, s(7, 3))], await guardRow(4, 40)))])).toEqual([
        'conflict',
        'committed',
      ]);
      expect(await paths(registry, trip)).toEqual({ oneTrip: 1, stepwise: 1 });
      // A resend beside a usual request.
      expect(await Promise.all([w.write(req(f, 'k1', [f.row(0, 0, p, s(1, 1))])), w.write(req(f, 'k4', [f.row(0, 1, p, s(2, 1))]))])).toEqual(['duplicate', 'committed']);
      expect(await paths(registry, trip)).toEqual({ oneTrip: 1, stepwise: 2 });
      expect(await rowsOf(f)).toEqual([
        [f.agentIds[0], f.metricIds[0], p, 1, 1],
        [f.agentIds[0], f.metricIds[1], p, 2, 2],
        [f.agentIds[2], f.metricIds[1], p, 7, 21],
      ]);
      expect([await guardValue(3), await guardValue(4)]).toEqual([31, 41]);
      // Nothing of the rolled-back trip stayed: the conflicting request's key is not recorded.
      expect(await w.write(req(f, 'k2', [f.row(1, 0, p, s(5, 2))]))).toBe('committed');
    });
  });

  it('an account fenced after the writer\'s precheck: the trip is rolled back, that account is refused and the other commits', async () => {
    // The writer's precheck refuses accounts fenced by then, but runs only before a transaction that
    // creates a table or a fence row; otherwise, and for a fence that lands after it, the transaction's
    // own locking read finds the fence: with both accounts' tables cached, run that directly.
    const moving = await agentFleet(c, name('ot-fenced'), 1, H);
    const other = await agentFleet(c, name('ot-open'), 1, H);
    const p = H + 7 * 60;
    const ledger = new WriteLedger();
    const deps = { fences: new WriterFences(), ledger, batchRows: 2000, loadData: true, oneTrip: true, bulk, now: () => clock };
    const pending = (f: typeof moving, key: string, rows: WriteRequest['rows']) => pendingWrite(f, key, rows, p);
    // Creates both fence rows and both tables (cached): the transactions below have no precheck.
    const before = await runTransaction(shard, [pending(moving, 'm0', [moving.row(0, 0, p + 60, s(1, 1))]), pending(other, 'o0', [other.row(0, 1, p + 60, s(1, 1))])], deps);
    expect([before.path, before.written]).toEqual([trip, 2]);
    await shard.pool.query("UPDATE account_fences SET state = 'away' WHERE account_id = ?", [moving.account.id]);
    try {
      const r = await runTransaction(shard, [pending(moving, 'm1', [moving.row(0, 1, p, s(2, 2))]), pending(other, 'o1', [other.row(0, 0, p, s(3, 3))])], deps);
      expect([r.path, [...r.fenced.keys()], r.written]).toEqual(['stepwise', [moving.account.id], 1]);
      expect(await rowsOf(moving)).toEqual([[moving.agentIds[0], moving.metricIds[0], p + 60, 1, 1]]);
      expect(await rowsOf(other)).toEqual([
        [other.agentIds[0], other.metricIds[0], p, 3, 9],
        [other.agentIds[0], other.metricIds[1], p + 60, 1, 1],
      ]);
      // Without the fence the same kind of batch commits in one trip.
      await shard.pool.query("UPDATE account_fences SET state = 'open' WHERE account_id = ?", [moving.account.id]);
      const again = await runTransaction(shard, [pending(moving, 'm2', [moving.row(0, 1, p, s(2, 2))]), pending(other, 'o2', [other.row(0, 0, p, s(3, 3))])], deps);
      expect([again.path, again.fenced.size, again.written]).toEqual([trip, 0, 2]);
      expect(await rowsOf(moving)).toEqual([
        [moving.agentIds[0], moving.metricIds[0], p + 60, 1, 1],
        [moving.agentIds[0], moving.metricIds[1], p, 2, 4],
      ]);
      expect(await rowsOf(other)).toEqual([
        [other.agentIds[0], other.metricIds[0], p, 6, 18],
        [other.agentIds[0], other.metricIds[1], p + 60, 1, 1],
      ]);
    } finally {
      await shard.pool.query("UPDATE account_fences SET state = 'open' WHERE account_id = ?", [moving.account.id]);
    }
  });

  it('a sealed minute: the trip is rolled back and the stepwise transaction adds the application row', async () => {
    const f = await agentFleet(c, name('ot-sealed'), 1, H);
    const p = H + 8 * 60;
    await withWriter(bulk, async (w, registry) => {
      expect(await w.write(req(f, 's0', [f.row(0, 0, p + 60, s(1, 1))]))).toBe('committed'); // an open minute: one trip
      await f.store.pool.query('UPDATE table_registry SET sealed_through = ? WHERE name = ?', [p + 60, f.table]);
      expect(await w.write(req(f, 's1', [f.row(0, 0, p, s(2, 5))]))).toBe('committed');
      expect(await paths(registry, trip)).toEqual({ oneTrip: 1, stepwise: 1 });
      expect(await rowsOf(f)).toEqual(
        [
          [f.agentIds[0], f.metricIds[0], p, 2, 10],
          [f.agentIds[0], f.metricIds[0], p + 60, 1, 1],
          [f.appAgent, f.metricIds[0], p, 2, 10],
        ].sort((x, y) => x[0]! - y[0]! || x[2]! - y[2]!),
      );
    });
  });

  it('late rows (their table\'s span has ended) go stepwise without a trip; so do rows whose text would pass the bound, unless they go in bulk (no text)', async () => {
    const f = await agentFleet(c, name('ot-late'), 1, H);
    const saved = clock;
    await withWriter(bulk, async (w, registry) => {
      try {
        clock = H + 3600 + 120; // the hour of f.table has ended
        expect(await w.write(req(f, 'l1', [f.row(0, 0, H + 60, s(4, 1))]))).toBe('committed');
        expect(await paths(registry, trip)).toEqual({ oneTrip: 0, stepwise: 1 });
        clock = saved;
        // Rows written as is (no application agent): enough distinct keys that the upsert text passes the bound.
        const rows: WriteRequest['rows'] = [];
        const perRow = 80; // fewer text bytes than any of these rows takes
        for (let i = 0; rows.length * perRow <= MAX_TEXT_BYTES; i++) {
          const period = H + 60 * (i % 60);
          rows.push({ kind: 'minute', t: period, row: { metricId: 1_000_000 + Math.floor(i / 60), agentId: 2_000_000_000, period, ...s(1, 123456.789012345) } });
        }
        expect(await w.write(req(f, 'l2', rows))).toBe('committed');
        expect(await paths(registry, trip)).toEqual(bulk ? { oneTrip: 1, stepwise: 1 } : { oneTrip: 0, stepwise: 2 });
        const [n] = await f.store.pool.query<any[]>(`SELECT COUNT(*) AS n, SUM(call_count) AS calls FROM ${tableName('minute', f.account.id, H)} WHERE agent_id = 2000000000`);
        expect([Number(n[0].n), Number(n[0].calls)]).toEqual([rows.length, rows.length]);
      } finally {
        clock = saved;
      }
    });
  });

  it('a trip longer than one statement\'s bound, each statement within it, commits: it is bounded as its statements are stepwise', async () => {
    const f = await agentFleet(c, name('ot-slow'), 3, H);
    const p = H + 8 * 60;
    const bound = f.store.db.batches().statementTimeoutMs;
    // Guards that each take 40 % of the bound: three of them make the trip 1.2 bounds long.
    const slow = async (id: number, v: number) => {
      const g = await guardRow(id, v);
      return { sql: `UPDATE test_guards SET v = v + 1 + 0 * SLEEP(${(0.4 * bound) / 1000}) WHERE id = ? AND v = ?`, params: g.params };
    };
    await withWriter(bulk, async (w, registry) => {
      const out = await Promise.all([
        w.write(req(f, 's1', [f.row(0, 0, p, s(1, 1))], await slow(5, 50))),
        w.write(req(f, 's2', [f.row(1, 0, p, s(2, 1))], await slow(6, 60))),
        w.write(req(f, 's3', [f.row(2, 0, p, s(3, 1))], await slow(7, 70))),
      ]);
      expect(out).toEqual(['committed', 'committed', 'committed']);
      expect(await paths(registry, trip)).toEqual({ oneTrip: 1, stepwise: 0 });
      expect(await rowsOf(f)).toEqual([
        [f.agentIds[0], f.metricIds[0], p, 1, 1],
        [f.agentIds[1], f.metricIds[0], p, 2, 2],
        [f.agentIds[2], f.metricIds[0], p, 3, 3],
      ]);
      expect([await guardValue(5), await guardValue(6), await guardValue(7)]).toEqual([51, 61, 71]);
    });
  });
});
