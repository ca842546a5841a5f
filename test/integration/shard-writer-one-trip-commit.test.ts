import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool as PromisePool, PoolConnection } from 'mysql2/promise';
import type { WriteRequest } from '../../lib/shard/shard-writer.js';
import { WriteLedger } from '../../lib/shard/shard-writer-ledger.js';
import { runTransaction } from '../../lib/shard/shard-writer-transaction.js';
import type { ShardStore } from '../../lib/shard/shard-store.js';
import { WriterFences } from '../../lib/shard/writer-fences.js';
import { agentFleet, pendingWrite, callStats } from '../harness/agent-fleet.js';
import { startTestCluster, type TestCluster } from '../harness/mariadb.js';

/**
 * The one-round-trip transaction's COMMIT travels in the trip (lib/shard/shard-writer-one-trip.ts), so
 * a trip whose answer is lost may have committed. Against a real MariaDB, with the trip's answer taken
 * away as a dropped connection would: after the server ran it (committed), the batch counts as written
 * because its keys are in the ledger, and a resend is a duplicate; before the server ran it, the error
 * is the caller's (it retries) and nothing was stored.
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
const pending = (f: Fleet, key: string | undefined, rows: WriteRequest['rows']) => pendingWrite(f, key, rows, H);

const lost = () => Object.assign(new Error('Connection lost: The server closed the connection.'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true });

type Call = (conn: PoolConnection, method: string, args: unknown[]) => Promise<unknown>;

/** The store with every call of `methods` on its batches pool's connections made through `call`. */
function intercepted(store: ShardStore, methods: readonly string[], call: Call): ShardStore {
  const wrap = (conn: PoolConnection): PoolConnection =>
    new Proxy(conn, {
      get(target, prop, receiver) {
        const real = Reflect.get(target, prop, receiver);
        return typeof prop === 'string' && methods.includes(prop) ? (...args: unknown[]) => call(target, prop, args) : real;
      },
    });
  const pool = new Proxy(store.batchPool, {
    get: (target, prop, receiver) => (prop === 'getConnection' ? async () => wrap(await target.getConnection()) : Reflect.get(target, prop, receiver)),
  }) as PromisePool;
  return new Proxy(store, { get: (target, prop) => (prop === 'batchPool' ? pool : Reflect.get(target, prop, target)) });
}

const textOf = (args: unknown[]) => (typeof args[0] === 'string' ? args[0] : (args[0] as { sql: string }).sql);
const isTrip = (args: unknown[]) => /;\nCOMMIT$/.test(textOf(args));

/**
 * The store with its multi-statement trips (the queries that end in COMMIT) answered by a lost
 * connection: `when` 'after' runs the trip on the server first, 'before' does not send it.
 */
function losingAnswers(store: ShardStore, when: 'before' | 'after'): { store: ShardStore; trips: () => number } {
  let trips = 0;
  const wrapped = intercepted(store, ['query'], async (conn, _method, args) => {
    if (!isTrip(args)) return conn.query(...(args as Parameters<PoolConnection['query']>));
    trips++;
    if (when === 'after') await conn.query(...(args as Parameters<PoolConnection['query']>));
    throw lost();
  });
  return { store: wrapped, trips: () => trips };
}

async function rowsOf(f: Fleet) {
  const [rows] = await f.store.pool.query<any[]>(`SELECT agent_id, metric_id, period, call_count FROM ${f.table} ORDER BY agent_id, metric_id, period`);
  return rows.map((r) => [r.agent_id, r.metric_id, r.period, Number(r.call_count)]);
}

const deps = () => ({ fences: new WriterFences(), ledger: new WriteLedger(), batchRows: 2000, loadData: true, oneTrip: true, now: () => clock });

describe('the one-round-trip transaction\'s COMMIT (issue #20)', () => {
  it('commits in the trip: the transaction is one query on its connection, ending in COMMIT', async () => {
    const f = await agentFleet(c, 'otc-usual', 1, H);
    const p = H + 5 * 60;
    const calls: string[] = [];
    const store = intercepted(f.store, ['query', 'execute', 'beginTransaction', 'commit', 'rollback'], async (conn, method, args) => {
      calls.push(method === 'query' && isTrip(args) ? 'trip' : method === 'query' ? textOf(args) : method);
      return (conn as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method]!(...args);
    });
    const r = await runTransaction(store, [pending(f, 'u1', [f.row(0, 0, p, s(2, 1))])], deps());
    expect([r.path, r.written]).toEqual(['one_trip', 1]);
    // The ledger table's CREATE (DDL, before the transaction) and the trip: no COMMIT of its own.
    expect(calls.filter((x) => !x.startsWith('CREATE TABLE IF NOT EXISTS'))).toEqual(['trip']);
    expect(await rowsOf(f)).toEqual([[f.agentIds[0], f.metricIds[0], p, 2]]);
  });

  it('an answer lost after the server committed: the keyed batch counts as written once, and its resend is a duplicate', async () => {
    const f = await agentFleet(c, 'otc-after', 2, H);
    const p = H + 6 * 60;
    const d = deps();
    const after = losingAnswers(f.store, 'after');
    const r = await runTransaction(after.store, [pending(f, 'a1', [f.row(0, 0, p, s(3, 1))]), pending(f, 'a2', [f.row(1, 1, p, s(4, 1))])], d);
    expect([after.trips(), r.path, r.written]).toEqual([1, 'one_trip', 2]);
    expect(await rowsOf(f)).toEqual([
      [f.agentIds[0], f.metricIds[0], p, 3],
      [f.agentIds[1], f.metricIds[1], p, 4],
    ]);
    const again = await runTransaction(f.store, [pending(f, 'a1', [f.row(0, 0, p, s(3, 1))])], d);
    expect([again.dups.size, again.written]).toEqual([1, 0]);
    expect(await rowsOf(f)).toEqual([
      [f.agentIds[0], f.metricIds[0], p, 3],
      [f.agentIds[1], f.metricIds[1], p, 4],
    ]);
  });

  it('an answer lost after the server committed a batch with an unkeyed request: the error is thrown (nothing proves the commit)', async () => {
    const f = await agentFleet(c, 'otc-unkeyed', 1, H);
    const p = H + 7 * 60;
    const after = losingAnswers(f.store, 'after');
    await expect(runTransaction(after.store, [pending(f, 'k1', [f.row(0, 0, p, s(1, 1))]), pending(f, undefined, [f.row(0, 1, p, s(1, 1))])], deps())).rejects.toMatchObject({ code: 'PROTOCOL_CONNECTION_LOST' });
    expect(after.trips()).toBe(1);
    // It did commit: an unkeyed request cannot be told from a lost one (every caller of the writer keys its requests).
    expect(await rowsOf(f)).toEqual([
      [f.agentIds[0], f.metricIds[0], p, 1],
      [f.agentIds[0], f.metricIds[1], p, 1],
    ]);
  });

  it('a trip lost before the server ran it: the error is thrown, nothing is stored, and the retry commits once', async () => {
    const f = await agentFleet(c, 'otc-before', 1, H);
    const p = H + 8 * 60;
    const d = deps();
    const before = losingAnswers(f.store, 'before');
    await expect(runTransaction(before.store, [pending(f, 'b1', [f.row(0, 0, p, s(5, 1))])], d)).rejects.toMatchObject({ code: 'PROTOCOL_CONNECTION_LOST' });
    expect(before.trips()).toBe(1);
    expect(await rowsOf(f)).toEqual([]);
    const retry = await runTransaction(f.store, [pending(f, 'b1', [f.row(0, 0, p, s(5, 1))])], d);
    expect([retry.path, retry.dups.size, retry.written]).toEqual(['one_trip', 0, 1]);
    expect(await rowsOf(f)).toEqual([[f.agentIds[0], f.metricIds[0], p, 5]]);
  });

  it('a fence whose lease runs refuses the account in the trip\'s check; one whose lease ran out does not', async () => {
    const f = await agentFleet(c, 'otc-lease', 1, H);
    const p = H + 9 * 60;
    const d = deps();
    expect((await runTransaction(f.store, [pending(f, 'l0', [f.row(0, 0, p, s(1, 1))])], d)).path).toBe('one_trip'); // fence row and table exist now
    const fence = (seconds: number) => f.store.pool.query("UPDATE account_fences SET state = 'fenced', fenced_until = NOW(3) + INTERVAL ? SECOND WHERE account_id = ?", [seconds, f.account.id]);
    try {
      await fence(60);
      const leased = await runTransaction(f.store, [pending(f, 'l1', [f.row(0, 0, p, s(2, 1))])], d);
      expect([leased.path, [...leased.fenced.keys()], leased.written]).toEqual(['stepwise', [f.account.id], 0]);
      await fence(-1);
      const lapsed = await runTransaction(f.store, [pending(f, 'l2', [f.row(0, 0, p, s(4, 1))])], d);
      expect([lapsed.path, lapsed.fenced.size, lapsed.written]).toEqual(['one_trip', 0, 1]);
      expect(await rowsOf(f)).toEqual([[f.agentIds[0], f.metricIds[0], p, 5]]);
    } finally {
      await f.store.pool.query("UPDATE account_fences SET state = 'open', fenced_until = NULL WHERE account_id = ?", [f.account.id]);
    }
  });

  it('a batch with no agent rows (no seal lock to check with): a fenced account is refused by the check alone, an open one commits in one trip', async () => {
    const f = await agentFleet(c, 'otc-no-agents', 1, H);
    const p = H + 10 * 60;
    const d = deps();
    // Rows stored as they are (no application agent to add to): the trip locks no registry row.
    const plain = (calls: number): WriteRequest['rows'] => [{ kind: 'minute', t: p, row: { metricId: f.metricIds[0]!, agentId: f.agentIds[0]!, period: p, ...s(calls, 1) } }];
    expect((await runTransaction(f.store, [pending(f, 'n0', plain(1))], d)).path).toBe('one_trip');
    await f.store.pool.query("UPDATE account_fences SET state = 'away' WHERE account_id = ?", [f.account.id]);
    try {
      const away = await runTransaction(f.store, [pending(f, 'n1', plain(2))], d);
      expect([away.path, [...away.fenced.keys()], away.written]).toEqual(['stepwise', [f.account.id], 0]);
    } finally {
      await f.store.pool.query("UPDATE account_fences SET state = 'open' WHERE account_id = ?", [f.account.id]);
    }
    const open = await runTransaction(f.store, [pending(f, 'n2', plain(4))], d);
    expect([open.path, open.written]).toEqual(['one_trip', 1]);
    expect(await rowsOf(f)).toEqual([[f.agentIds[0], f.metricIds[0], p, 5]]);
  });
});
