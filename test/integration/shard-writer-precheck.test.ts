import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool as PromisePool } from 'mysql2/promise';
import type { WriteRequest } from '../../lib/shard/shard-writer.js';
import { WriteLedger } from '../../lib/shard/shard-writer-ledger.js';
import { runTransaction } from '../../lib/shard/shard-writer-transaction.js';
import { WriterFences } from '../../lib/shard/writer-fences.js';
import { tableName } from '../../lib/shard/table-naming.js';
import { agentFleet, pendingWrite, callStats } from '../harness/agent-fleet.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';

/**
 * The writer's precheck of move fences (lib/shard/writer-fences.ts) runs only before a transaction
 * that may create something (a table this process has not cached, a fence row it does not know): it
 * exists so that no table is created for an account on a shard it has left. A transaction that creates
 * nothing relies on its own locking read of the fences alone. Real MariaDB.
 */
let c: TestCluster;
beforeAll(async () => {
  c = await startTestCluster({ shards: 1 });
});
afterAll(async () => c?.stop());

const H = Date.UTC(2026, 10, 24, 10) / 1000;
const clock = H + 30 * 60;

/** WriterFences that counts its prechecks. */
class CountedFences extends WriterFences {
  prechecks = 0;
  override precheck(pool: PromisePool, shardId: number, accountIds: Iterable<number>) {
    this.prechecks++;
    return super.precheck(pool, shardId, accountIds);
  }
}

const s = callStats;
type Fleet = Awaited<ReturnType<typeof agentFleet>>;

const pending = (f: Fleet, key: string, rows: WriteRequest['rows']) => pendingWrite(f, key, rows, rows[0]!.t);

async function rowsOf(f: Fleet, table = f.table) {
  const [rows] = await f.store.pool.query<any[]>(`SELECT agent_id, metric_id, period, call_count FROM ${table} ORDER BY agent_id, metric_id, period`);
  return rows.map((r) => [r.agent_id, r.metric_id, r.period, Number(r.call_count)]);
}

async function registered(f: Fleet, name: string): Promise<number> {
  const [rows] = await f.store.pool.query<any[]>('SELECT COUNT(*) AS n FROM table_registry WHERE name = ?', [name]);
  return Number(rows[0].n);
}

describe("the writer's precheck (issue #20)", () => {
  it('runs before a transaction that creates a table or a fence row, not before one that creates nothing', async () => {
    const f = await agentFleet(c, 'pc-counted', 1, H);
    const fences = new CountedFences();
    const deps = { fences, ledger: new WriteLedger(), batchRows: 2000, loadData: true, oneTrip: true, now: () => clock };
    const p = H + 5 * 60;
    // A fence row this process does not know yet, and a new table: precheck.
    const first = await runTransaction(f.store, [pending(f, 'c1', [f.row(0, 0, p, s(2, 3))])], deps);
    expect([first.path, first.written, fences.prechecks]).toEqual(['one_trip', 1, 1]);
    // The same table and account again: nothing to create, no precheck.
    const second = await runTransaction(f.store, [pending(f, 'c2', [f.row(0, 1, p, s(4, 1))])], deps);
    expect([second.path, second.written, fences.prechecks]).toEqual(['one_trip', 1, 1]);
    // The next hour's table is new: precheck again.
    const next = H + 3600 + 60;
    const third = await runTransaction(f.store, [pending(f, 'c3', [f.row(0, 0, next, s(1, 1))])], deps);
    expect([third.path, third.written, fences.prechecks]).toEqual(['one_trip', 1, 2]);
    expect(await rowsOf(f)).toEqual([
      [f.agentIds[0], f.metricIds[0], p, 2],
      [f.agentIds[0], f.metricIds[1], p, 4],
    ]);
    expect(await rowsOf(f, tableName('minute', f.account.id, H + 3600))).toEqual([[f.agentIds[0], f.metricIds[0], next, 1]]);
  });

  it('an account moved away: no table is created for it, its rows are refused with or without the precheck, the other account commits', async () => {
    const away = await agentFleet(c, 'pc-away', 1, H);
    const open = await agentFleet(c, 'pc-open', 1, H);
    const fences = new CountedFences();
    const deps = { fences, ledger: new WriteLedger(), batchRows: 2000, loadData: true, oneTrip: true, now: () => clock };
    const p = H + 6 * 60;
    // Both accounts write once: their fence rows exist and this hour's tables are cached.
    await runTransaction(away.store, [pending(away, 'a0', [away.row(0, 0, p, s(1, 1))]), pending(open, 'o0', [open.row(0, 0, p, s(1, 1))])], deps);
    expect(fences.prechecks).toBe(1);
    await away.store.pool.query("UPDATE account_fences SET state = 'away' WHERE account_id = ?", [away.account.id]);
    try {
      // Rows for a table not created yet: the precheck refuses the account before any DDL.
      const next = H + 3600 + 6 * 60;
      const newTable = tableName('minute', away.account.id, H + 3600);
      const r1 = await runTransaction(away.store, [pending(away, 'a1', [away.row(0, 0, next, s(5, 1))]), pending(open, 'o1', [open.row(0, 1, p, s(3, 1))])], deps);
      expect([[...r1.fenced.keys()], r1.written, fences.prechecks]).toEqual([[away.account.id], 1, 2]);
      expect(await registered(away, newTable)).toBe(0);
      const [tables] = await away.store.pool.query<any[]>('SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?', [newTable]);
      expect(Number(tables[0].n)).toBe(0);
      // Rows for its cached table: no precheck; the transaction's locking read refuses it.
      const r2 = await runTransaction(away.store, [pending(away, 'a2', [away.row(0, 1, p, s(7, 1))]), pending(open, 'o2', [open.row(0, 0, p, s(2, 1))])], deps);
      expect([r2.path, [...r2.fenced.keys()], r2.written, fences.prechecks]).toEqual(['stepwise', [away.account.id], 1, 2]);
      expect(await rowsOf(away)).toEqual([[away.agentIds[0], away.metricIds[0], p, 1]]);
      expect(await rowsOf(open)).toEqual([
        [open.agentIds[0], open.metricIds[0], p, 3],
        [open.agentIds[0], open.metricIds[1], p, 3],
      ]);
    } finally {
      await away.store.pool.query("UPDATE account_fences SET state = 'open' WHERE account_id = ?", [away.account.id]);
    }
  });
});
