import { createHash } from 'node:crypto';
import type { ResultSetHeader } from 'mysql2/promise';
import { queryBuilder, writeOn } from '../db/query-builder.js';
import { RetryableError } from '../errors.js';
import type { ShardDatabase } from '../shard/shard-database.js';
import { ensureFenceRows, readFences, type Fence } from '../shard/account-fence.js';
import type { ShardStore } from '../shard/shard-store.js';
import { ledgerInsert } from '../shard/ledger-sql.js';
import { ledgerDdl } from '../shard/shard-writer-sql.js';
import { ledgerTableName, rowPeriodStart, tableName } from '../shard/table-naming.js';
import { distUpsertSql } from './dist-sql.js';
import { distTableName, ensureDistTable, forgetDistTable } from './dist-tables.js';
import { MAX_BUCKETS } from './log-buckets.js';

/** Typed statements on the fixed shard tables, run on the write transaction's connection. */
const shardSql = queryBuilder<ShardDatabase>();

/** One bucket count of one distribution: (metric, agent, minute, bucket) += count. */
export interface DistRow {
  metricId: number;
  agentId: number;
  /** Minute start (Unix seconds). */
  period: number;
  bucket: number;
  count: number;
}

/**
 * Rows per transaction: a larger delivery is written as several transactions of at most this many rows,
 * each exactly once under its own key (`<key>#<n>`; callers give the rows in the same order on a retry).
 */
export const MAX_DIST_ROWS_PER_WRITE = 50_000;
const NO_SUCH_TABLE = 1146;

/** Ledger tables known to exist, per shard store (DDL takes a metadata lock: once per day and store). */
const ledgers = new WeakMap<ShardStore, Set<string>>();

/** Accounts whose fence row is known to exist, per shard store (bounded). */
const fenceRows = new WeakMap<ShardStore, Set<number>>();

/** A write refused by an account move's fence (see account-fence.ts): 503, the client resends. */
function refused(store: ShardStore, accountId: number, f: Fence): RetryableError {
  store.dictionary.forgetAccount(accountId);
  store.forgetTables(accountId);
  const why = f.state === 'away' ? 'it has moved to another shard' : `it is being moved (move ${f.moveId ?? '?'})`;
  return new RetryableError(`cannot write distributions of account ${accountId} to shard ${store.shardId}: ${why}; retry`, 1);
}

/**
 * The ShardWriter's fence protocol for distributions: before any DDL, the account's fence row exists
 * and is not blocking (so no table is recreated on a shard the account left); inside the transaction
 * its first statement is the locking read that makes an online move exact.
 */
async function fencePrecheck(store: ShardStore, accountId: number): Promise<void> {
  const known = fenceRows.get(store) ?? new Set<number>();
  fenceRows.set(store, known);
  if (!known.has(accountId)) {
    await ensureFenceRows(store.pool, [accountId]);
    if (known.size >= 100_000) known.clear();
    known.add(accountId);
  }
  const f = (await readFences(store.pool, [accountId], { lock: false })).get(accountId);
  if (f) throw refused(store, accountId, f);
}

/** Process-wide totals of committed distribution writes (the benchmark reports their cost). */
export const distWriteTotals = { writes: 0, rows: 0, seconds: 0 };

/**
 * Writes distribution rows of one account into its minute distribution tables, exactly once per
 * `dedupeKey`: one transaction upserts every row (count = count + new) and records the key in the
 * shard's write ledger of the day (the ShardWriter's wl_ tables, as the key "dist:" + key, so it is
 * swept with them); a key already there rolls back as 'duplicate'. Callers write the timeslices of a
 * delivery first (ShardWriter, same key) and then its distributions: a failure between the two is
 * retried by the client, the timeslices are then a duplicate and the distributions are written once.
 *
 * Late data: in the same transaction, the timeslice minute table of each hour written is set 'dirty'
 * when the rollup had finished (or is rolling) it, so the hour is rolled again with these rows — the
 * ShardWriter's rule for timeslices. A minute table is created for an hour that had none, so the rollup
 * (driven by the timeslice tables) visits it.
 */
export async function writeDistributions(store: ShardStore, accountId: number, rows: readonly DistRow[], dedupeKey: string): Promise<'committed' | 'duplicate' | 'empty'> {
  if (rows.length <= MAX_DIST_ROWS_PER_WRITE) return writeOnce(store, accountId, rows, dedupeKey);
  let outcome: 'committed' | 'duplicate' | 'empty' = 'duplicate';
  for (let i = 0; i < rows.length; i += MAX_DIST_ROWS_PER_WRITE) {
    const o = await writeOnce(store, accountId, rows.slice(i, i + MAX_DIST_ROWS_PER_WRITE), `${dedupeKey}#${i / MAX_DIST_ROWS_PER_WRITE}`);
    if (o === 'committed') outcome = 'committed';
  }
  return outcome;
}

async function writeOnce(store: ShardStore, accountId: number, rows: readonly DistRow[], dedupeKey: string): Promise<'committed' | 'duplicate' | 'empty'> {
  if (rows.length === 0) return 'empty';
  const byTable = new Map<string, { hour: number; rows: DistRow[] }>();
  let first = Infinity;
  for (const r of rows) {
    if (!Number.isSafeInteger(r.count) || r.count <= 0 || !Number.isSafeInteger(r.bucket) || Math.abs(r.bucket) > MAX_BUCKETS || r.period % 60 !== 0) {
      throw new Error(`BUG: invalid distribution row ${JSON.stringify(r)}`);
    }
    const name = distTableName('minute', accountId, r.period);
    const g = byTable.get(name) ?? { hour: rowPeriodStart('hour', r.period), rows: [] };
    byTable.set(name, g);
    g.rows.push(r);
    first = Math.min(first, r.period);
  }
  const ledger = ledgerTableName(first);
  const started = process.hrtime.bigint();
  const digest = createHash('sha256').update(`dist:${dedupeKey}`).digest();
  await fencePrecheck(store, accountId);
  for (let attempt = 0; ; attempt++) {
    // DDL commits implicitly: tables first, then the transaction.
    const known = ledgers.get(store) ?? new Set<string>();
    ledgers.set(store, known);
    if (!known.has(ledger) || attempt > 0) {
      await store.pool.query(ledgerDdl(ledger));
      if (known.size > 16) known.clear();
      known.add(ledger);
    }
    for (const g of byTable.values()) {
      await ensureDistTable(store, accountId, 'minute', g.hour);
      await store.ensureTable(accountId, 'minute', g.hour);
    }
    const conn = await store.pool.getConnection();
    try {
      await conn.query('START TRANSACTION');
      const f = (await readFences(conn, [accountId], { lock: true })).get(accountId);
      if (f) {
        await conn.query('ROLLBACK');
        throw refused(store, accountId, f);
      }
      const key = ledgerInsert(ledger, [{ accountId, digest }], true);
      const [ins] = await conn.query<ResultSetHeader>(key.sql, key.params);
      if (Number(ins.affectedRows) === 0) {
        await conn.query('ROLLBACK');
        return 'duplicate';
      }
      for (const [name, g] of byTable) {
        for (let i = 0; i < g.rows.length; i += 5000) {
          const chunk = g.rows.slice(i, i + 5000);
          await conn.query(distUpsertSql(name, chunk));
        }
        await writeOn(conn, shardSql.updateTable('table_registry').set({ rollup_state: 'dirty' }).where('name', '=', tableName('minute', accountId, g.hour)).where('rollup_state', 'in', ['done', 'rolling']));
      }
      await conn.query('COMMIT');
      distWriteTotals.writes++;
      distWriteTotals.rows += rows.length;
      distWriteTotals.seconds += Number(process.hrtime.bigint() - started) / 1e9;
      return 'committed';
    } catch (err) {
      await conn.query('ROLLBACK').catch(() => undefined);
      const code = (err as { errno?: number }).errno;
      if (code === NO_SUCH_TABLE && attempt === 0) {
        for (const name of byTable.keys()) forgetDistTable(store, name);
        ledgers.get(store)?.delete(ledger);
        continue;
      }
      if (code === 1213 || code === 1205) throw new RetryableError(`cannot write distributions: ${(err as Error).message}`, 1);
      throw err;
    } finally {
      conn.release();
    }
  }
}
