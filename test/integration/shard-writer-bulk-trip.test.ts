import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BulkConnection } from '../../lib/db/bulk-pool.js';
import type { WriteRequest } from '../../lib/shard/shard-writer.js';
import { WriteLedger } from '../../lib/shard/shard-writer-ledger.js';
import { runTransaction } from '../../lib/shard/shard-writer-transaction.js';
import type { ShardStore } from '../../lib/shard/shard-store.js';
import { WriterFences } from '../../lib/shard/writer-fences.js';
import { agentFleet, pendingWrite, callStats } from '../harness/agent-fleet.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';

/**
 * The one trip with its rows as MariaDB bulk statements (lib/shard/shard-writer-bulk-trip.ts) against a
 * real MariaDB: the rows stored exactly as the text trip stores them; a bulk statement that fails after
 * another succeeded leaves nothing committed and the connection as it was; a trip past its bound is cut
 * off with nothing committed; a COMMIT whose answer is lost is settled through the ledger. (The checks
 * that send a batch stepwise are the one-trip tests', run on both kinds of trip.)
 */
let c: TestCluster;
beforeAll(async () => {
  c = await startTestCluster({ shards: 1 });
});
afterAll(async () => c?.stop());

const H = Date.UTC(2026, 10, 24, 10) / 1000;
const clock = H + 30 * 60;
const s = callStats;

type Fleet = Awaited<ReturnType<typeof agentFleet>>;
const pending = (f: Fleet, key: string | undefined, rows: WriteRequest['rows'], guard?: WriteRequest['guard']) => pendingWrite(f, key, rows, H, guard);

const deps = (bulk: boolean) => ({ fences: new WriterFences(), ledger: new WriteLedger(), batchRows: 2000, loadData: true, oneTrip: true, bulk, now: () => clock });

type Call = (conn: BulkConnection, method: 'query' | 'batch', args: unknown[]) => Promise<unknown>;

/**
 * The store with its bulk connections' `query` and `batchInTransaction` (as 'batch') made through `call`, and, when given, the
 * batches pool's statement bound replaced (the bound a trip's commands are cut off by).
 */
function intercepted(store: ShardStore, call: Call, statementTimeoutMs?: number): ShardStore {
  const wrap = (conn: BulkConnection): BulkConnection =>
    new Proxy(conn, {
      get(target, prop, receiver) {
        const real = Reflect.get(target, prop, receiver);
        if (prop === 'query' || prop === 'batchInTransaction') return (...args: unknown[]) => call(target, prop === 'query' ? 'query' : 'batch', args);
        return typeof real === 'function' ? real.bind(target) : real;
      },
    });
  const db = statementTimeoutMs === undefined ? store.db : new Proxy(store.db, { get: (t, prop) => (prop === 'batches' ? () => ({ ...t.batches(), statementTimeoutMs }) : Reflect.get(t, prop, t)) });
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'bulkConnection') return async () => ((conn) => (conn ? wrap(conn) : conn))(await target.bulkConnection());
      if (prop === 'db') return db;
      return Reflect.get(target, prop, target);
    },
  });
}

/** A bulk statement's kind by its text: the ledger's keys, a guard, or rows (an upsert of a minute table). */
const kindOf = (sql: string) => (/^INSERT IGNORE INTO wl_/.test(sql) ? 'ledger' : /^INSERT INTO ts_/.test(sql) ? 'rows' : 'guard');

const real = (conn: BulkConnection, method: 'query' | 'batch', args: unknown[]) => (conn[method === 'query' ? 'query' : 'batchInTransaction'] as (...a: unknown[]) => Promise<unknown>)(...args);
const sqlOf = (args: unknown[]) => args[0] as string;

async function rowsOf(f: Fleet, table = f.table) {
  const [rows] = await f.store.pool.query<any[]>(`SELECT agent_id, metric_id, period, call_count, total_time, exclusive_time, min_time, max_time, sum_of_squares FROM ${table} ORDER BY agent_id, metric_id, period`);
  return rows.map((r) => [r.agent_id, r.metric_id, r.period, Number(r.call_count), r.total_time, r.exclusive_time, r.min_time, r.max_time, r.sum_of_squares]);
}

describe('the bulk trip (issue #20, APM_WRITER_BULK)', () => {
  it('sends the checks and one bulk statement per table (whatever its values\' types), then the COMMIT; stores every value as the text trip does', async () => {
    const bulk = await agentFleet(c, 'bt-exact-bulk', 3, H);
    const text = await agentFleet(c, 'bt-exact-text', 3, H);
    const p = H + 5 * 60;
    // Integral values beside fractional ones in one column (integral times, 2^31 and 2^53 − 1 call
    // counts, an integral 2.5e20), the least subnormal and the largest double, a sum that is no short
    // decimal: MariaDB's connector sent these as four statements of different parameter types; the bulk
    // client sends one, each column with one type (lib/db/wire/bulk-execute.ts).
    const tricky = (f: Fleet) => [
      f.row(0, 0, p, { callCount: 3, totalTime: 2, exclusiveTime: 0.1 + 0.2, minTime: 5e-324, maxTime: 1.7976931348623157e308, sumOfSquares: 0 }),
      f.row(0, 1, p, { callCount: 2 ** 31, totalTime: 2147483647, exclusiveTime: 2147483646, minTime: 0.5, maxTime: 0.5, sumOfSquares: 0 }),
      f.row(1, 0, p, { callCount: 2 ** 53 - 1, totalTime: 123456.789012345, exclusiveTime: 1e-7, minTime: 1e-310, maxTime: 3, sumOfSquares: 2.5e20 }),
      f.row(1, 1, p, s(7, 0.037)),
      f.row(2, 0, p, s(9, 0.041)),
    ];
    // Two guards of one text with blobs the text trip would escape (a quote, a backslash, NUL, 0xff):
    // one bulk statement, the blobs stored byte for byte.
    await bulk.store.pool.query('CREATE TABLE IF NOT EXISTS test_bulk_blobs (id INT PRIMARY KEY, v INT NOT NULL, b BLOB)');
    await bulk.store.pool.query('REPLACE INTO test_bulk_blobs (id, v) VALUES (1, 0), (2, 5)');
    const blobs = [Buffer.from([0x27, 0x5c, 0x00, 0xff, 0x22]), Buffer.alloc(3000, 0xa7)];
    const guard = (id: number, v: number) => ({ sql: 'UPDATE test_bulk_blobs SET v = v + 1, b = ? WHERE id = ? AND v = ?', params: [blobs[id - 1], id, v] });
    const calls: string[] = [];
    const store = intercepted(bulk.store, async (conn, method, args) => {
      const sql = sqlOf(args);
      calls.push(method === 'batch' ? `${kindOf(sql)} ${(args[1] as unknown[]).length}` : sql.startsWith('SET autocommit = 0;') ? 'checks' : /table_registry/.test(sql) ? 'seal' : sql);
      return real(conn, method, args);
    });
    const rows = tricky(bulk);
    const r = await runTransaction(store, [pending(bulk, 'e1', rows.slice(0, 3), guard(1, 0)), pending(bulk, 'e2', rows.slice(3), guard(2, 5))], deps(true));
    expect([r.path, r.written]).toEqual(['bulk', 5]);
    // The fence read; the guards, one bulk statement; the ledger's keys, one; the seal locks' read; one
    // bulk statement of the table's rows (all sent before any answer is read); then the COMMIT.
    expect(calls).toEqual(['checks', 'guard 2', 'ledger 2', 'seal', 'rows 5', 'COMMIT; SET autocommit = 1']);
    const [g] = await bulk.store.pool.query<any[]>('SELECT id, v, b FROM test_bulk_blobs ORDER BY id');
    expect(g.map((x) => [x.id, x.v, Buffer.from(x.b).equals(blobs[x.id - 1]!)])).toEqual([[1, 1, true], [2, 6, true]]);
    const t = await runTransaction(text.store, [pending(text, 'e1', tricky(text))], deps(false));
    expect([t.path, t.written]).toEqual(['one_trip', 5]);
    const stored = (f: Fleet) => rowsOf(f).then((rows) => rows.map((x) => x.slice(3)));
    const expected = tricky(bulk).map((w) => [w.row.callCount, w.row.totalTime, w.row.exclusiveTime, w.row.minTime, w.row.maxTime, w.row.sumOfSquares]);
    expect(await stored(bulk)).toEqual(expected);
    expect(await stored(bulk)).toEqual(await stored(text));
  });

  it('a bulk statement that fails after another succeeded: nothing is committed, the error is thrown, the connection goes back with autocommit on; the retry commits once', async () => {
    const f = await agentFleet(c, 'bt-fail', 2, H);
    const other = await agentFleet(c, 'bt-fail-other', 1, H);
    const p = H + 6 * 60;
    const d = deps(true);
    let thread = 0;
    let batches = 0;
    const store = intercepted(f.store, async (conn, method, args) => {
      thread = conn.threadId ?? 0;
      // The second table's statement names a table that is not there: error 1146 from the server.
      if (method === 'batch' && kindOf(sqlOf(args)) === 'rows' && ++batches === 2) return real(conn, method, [sqlOf(args).replace(/INSERT INTO \S+/, 'INSERT INTO minute_no_such_table'), args[1]]);
      return real(conn, method, args);
    });
    const batch = () => [pending(f, 'f1', [f.row(0, 0, p, s(2, 1)), f.row(1, 1, p, s(3, 1))]), pending(other, 'f2', [other.row(0, 0, p, s(4, 1))])];
    await expect(runTransaction(store, batch(), d)).rejects.toMatchObject({ errno: 1146 });
    expect(batches).toBe(2);
    expect([await rowsOf(f), await rowsOf(other)]).toEqual([[], []]);
    const conn = (await f.store.bulkConnection())!;
    try {
      expect(conn.threadId).toBe(thread);
      expect(await conn.query('SELECT @@autocommit AS a, @@in_transaction AS t')).toEqual([{ a: '1', t: '0' }]);
    } finally {
      await conn.release();
    }
    const retry = await runTransaction(f.store, batch(), d);
    expect([retry.path, retry.dups.size, retry.written]).toEqual(['bulk', 0, 3]);
    expect([(await rowsOf(f)).map((x) => x[3]), (await rowsOf(other)).map((x) => x[3])]).toEqual([[2, 3], [4]]);
  });

  it('a deadlock that ends the transaction midway: the statements sent after it run in no committed transaction (autocommit is off), nothing is stored', async () => {
    const fleets = [await agentFleet(c, 'bt-dl-a', 1, H), await agentFleet(c, 'bt-dl-b', 1, H), await agentFleet(c, 'bt-dl-c', 1, H)];
    const p = H + 9 * 60;
    const d = deps(true);
    const batch = (minute: number, keys: string[]) => fleets.map((f, i) => pending(f, keys[i], [f.row(0, 0, minute, s(2 + i, 1))]));
    // Tables, ledger and fence rows made first, so the trip below is a bulk trip of three tables; the
    // order of its bulk statements (the writer's, not the requests') is read from this one.
    const order: string[] = [];
    await runTransaction(intercepted(fleets[0]!.store, async (conn, method, args) => {
      if (method === 'batch' && kindOf(sqlOf(args)) === 'rows') order.push(/INSERT INTO (\S+)/.exec(sqlOf(args))![1]!);
      return real(conn, method, args);
    }), batch(p + 60, ['d0a', 'd0b', 'd0c']), d);
    const [first, second] = order.map((t) => fleets.find((f) => f.table === t)!);
    expect(order.length).toBe(3);
    const store = fleets[0]!.store;
    await store.pool.query('CREATE TABLE IF NOT EXISTS test_bulk_weight (id INT PRIMARY KEY)');
    const holder = await store.pool.getConnection();
    try {
      // The holder: heavier than the trip (InnoDB rolls back the lighter transaction of a deadlock),
      // and holding the key the trip's second statement will upsert.
      await holder.query('START TRANSACTION');
      await holder.query(`INSERT INTO test_bulk_weight (id) VALUES ${Array.from({ length: 500 }, (_, i) => `(${i})`).join(', ')}`);
      await holder.query(`INSERT INTO ${second!.table} (metric_id, agent_id, period, call_count, total_time, exclusive_time, min_time, max_time, sum_of_squares) VALUES (?, ?, ?, 1, 1, 1, 1, 1, 1)`, [second!.metricIds[0], second!.agentIds[0], p]);
      const settled = runTransaction(store, batch(p, ['d1', 'd2', 'd3']), d).then(() => undefined, (err: unknown) => err);
      // Once the trip waits for the holder's key, the holder asks for the row the trip's first statement wrote.
      // Read every 200 ms: InnoDB refreshes what innodb_trx shows only when it was not read in the last
      // 100 ms (trx0i_s.cc, CACHE_MIN_IDLE_TIME), so reading it without a pause shows the same old rows.
      for (const until = Date.now() + 20_000; ; ) {
        const [w] = await store.pool.query<any[]>("SELECT COUNT(*) AS n FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'");
        if (Number(w[0].n) > 0) break;
        if (Date.now() > until) throw new Error('the trip never waited for the holder\'s key');
        await new Promise((r) => setTimeout(r, 200));
      }
      await holder.query(`SELECT call_count FROM ${first!.table} WHERE period = ? AND agent_id = ? AND metric_id = ? FOR UPDATE`, [p, first!.agentIds[0], first!.metricIds[0]]);
      expect(await settled).toMatchObject({ errno: 1213 });
      await holder.query('ROLLBACK');
    } finally {
      holder.release();
    }
    const at = (f: Fleet) => rowsOf(f).then((rows) => rows.filter((x) => x[2] === p));
    expect(await Promise.all(fleets.map(at))).toEqual([[], [], []]);
    const retry = await runTransaction(store, batch(p, ['d1', 'd2', 'd3']), d);
    expect([retry.path, retry.dups.size, retry.written]).toEqual(['bulk', 0, 3]);
    expect(await Promise.all(fleets.map((f) => at(f).then((rows) => rows.map((x) => x[3]))))).toEqual([[2], [3], [4]]);
  });

  it('a trip past its bound (a guard waiting for a lock): the connection is cut off, nothing is committed, the retry commits once', async () => {
    const f = await agentFleet(c, 'bt-bound', 1, H);
    const p = H + 7 * 60;
    await f.store.pool.query('CREATE TABLE IF NOT EXISTS test_bulk_guards (id INT PRIMARY KEY, v INT NOT NULL)');
    await f.store.pool.query('REPLACE INTO test_bulk_guards (id, v) VALUES (1, 10)');
    const guard = { sql: 'UPDATE test_bulk_guards SET v = v + 1 WHERE id = ? AND v = ?', params: [1, 10] };
    const d = deps(true);
    const holder = await f.store.pool.getConnection();
    try {
      await holder.query('START TRANSACTION');
      await holder.query('SELECT v FROM test_bulk_guards WHERE id = 1 FOR UPDATE');
      const started = Date.now();
      await expect(runTransaction(intercepted(f.store, real, 100), [pending(f, 'g1', [f.row(0, 0, p, s(2, 1))], guard)], d)).rejects.toThrow();
      // Cut off by the trip's bound (100 ms a command), not by the server's lock wait (10 s).
      expect(Date.now() - started).toBeLessThan(5000);
      await holder.query('ROLLBACK');
    } finally {
      holder.release();
    }
    expect(await rowsOf(f)).toEqual([]);
    const [g] = await f.store.pool.query<any[]>('SELECT v FROM test_bulk_guards WHERE id = 1');
    expect(g[0].v).toBe(10);
    const retry = await runTransaction(f.store, [pending(f, 'g1', [f.row(0, 0, p, s(2, 1))], guard)], d);
    expect([retry.path, retry.conflicts.size, retry.written]).toEqual(['bulk', 0, 1]);
    const [g2] = await f.store.pool.query<any[]>('SELECT v FROM test_bulk_guards WHERE id = 1');
    expect(g2[0].v).toBe(11);
  });

  it('a COMMIT whose answer is lost after the server committed: a keyed batch counts as written once (its resend a duplicate); with an unkeyed request the error is thrown', async () => {
    const f = await agentFleet(c, 'bt-lost', 2, H);
    const p = H + 8 * 60;
    const d = deps(true);
    const lost = () => Object.assign(new Error('socket has unexpectedly been closed'), { code: 'ER_SOCKET_UNEXPECTED_CLOSE', fatal: true });
    let commits = 0;
    const losing = intercepted(f.store, async (conn, method, args) => {
      if (method !== 'query' || !sqlOf(args).startsWith('COMMIT')) return real(conn, method, args);
      commits++;
      await real(conn, method, args);
      throw lost();
    });
    const r = await runTransaction(losing, [pending(f, 'l1', [f.row(0, 0, p, s(3, 1))]), pending(f, 'l2', [f.row(1, 1, p, s(4, 1))])], d);
    expect([commits, r.path, r.written]).toEqual([1, 'bulk', 2]);
    const again = await runTransaction(f.store, [pending(f, 'l1', [f.row(0, 0, p, s(3, 1))])], d);
    expect([again.dups.size, again.written]).toEqual([1, 0]);
    await expect(runTransaction(losing, [pending(f, 'l3', [f.row(0, 1, p, s(5, 1))]), pending(f, undefined, [f.row(1, 0, p, s(6, 1))])], d)).rejects.toMatchObject({ code: 'ER_SOCKET_UNEXPECTED_CLOSE' });
    expect(commits).toBe(2);
    // It did commit (nothing proves it without a key; every caller of the writer keys its requests).
    expect((await rowsOf(f)).map((x) => x.slice(0, 4))).toEqual([
      [f.agentIds[0], f.metricIds[0], p, 3],
      [f.agentIds[0], f.metricIds[1], p, 5],
      [f.agentIds[1], f.metricIds[0], p, 6],
      [f.agentIds[1], f.metricIds[1], p, 4],
    ]);
  });

  it('a COMMIT whose answer is lost: an unkeyed request is proved committed by its guard\'s committed read, and refused when that finds nothing', async () => {
    const f = await agentFleet(c, 'bt-lost-guard', 1, H);
    const p = H + 9 * 60;
    await f.store.pool.query('CREATE TABLE IF NOT EXISTS test_bulk_guards (id INT PRIMARY KEY, v INT NOT NULL)');
    await f.store.pool.query('REPLACE INTO test_bulk_guards (id, v) VALUES (2, 20), (3, 30)');
    const guard = (id: number, v: number, proof: number) => ({
      sql: 'UPDATE test_bulk_guards SET v = v + 1 WHERE id = ? AND v = ?',
      params: [id, v],
      committed: { sql: 'SELECT 1 FROM test_bulk_guards WHERE id = ? AND v = ?', params: [id, proof] },
    });
    const losing = intercepted(f.store, async (conn, method, args) => {
      if (method !== 'query' || !sqlOf(args).startsWith('COMMIT')) return real(conn, method, args);
      await real(conn, method, args);
      throw Object.assign(new Error('socket has unexpectedly been closed'), { code: 'ER_SOCKET_UNEXPECTED_CLOSE', fatal: true });
    });
    const r = await runTransaction(losing, [pending(f, undefined, [f.row(0, 0, p, s(7, 1))], guard(2, 20, 21))], deps(true));
    expect([r.path, r.written]).toEqual(['bulk', 1]);
    // A read that does not find the guard's change proves nothing: the error is thrown (it did commit).
    await expect(runTransaction(losing, [pending(f, undefined, [f.row(0, 1, p, s(8, 1))], guard(3, 30, 99))], deps(true))).rejects.toMatchObject({ code: 'ER_SOCKET_UNEXPECTED_CLOSE' });
    const [g] = await f.store.pool.query<any[]>('SELECT id, v FROM test_bulk_guards WHERE id IN (2, 3) ORDER BY id');
    expect(g.map((x) => [x.id, x.v])).toEqual([[2, 21], [3, 31]]);
    expect((await rowsOf(f)).map((x) => x.slice(1, 4))).toEqual([[f.metricIds[0], p, 7], [f.metricIds[1], p, 8]]);
  });
});
