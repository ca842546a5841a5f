import type { Pool as PromisePool } from 'mysql2/promise';
import { bounded, type BulkConnection } from '../db/bulk-pool.js';
import type { TypedRows } from '../db/wire/bulk-execute.js';
import type { Escaper } from '../db/statement-text.js';
import { KEY_COLUMNS, upsertMergeList, VALUE_COLUMNS } from '../timeslice/timeslice-columns.js';
import type { TimesliceRow } from '../timeslice/timeslice.js';
import type { WriteLedger } from './shard-writer-ledger.js';
import { CHECK_ERRNO, fenceCheck, sealCheck, type OneTripDeps, type OneTripPlan } from './shard-writer-one-trip.js';
import type { Pending } from './shard-writer-types.js';
import { keysCommitted } from './shard-writer-verify.js';

/**
 * The one-trip transaction with its rows as MariaDB bulk statements (issue #20; APM_WRITER_BULK): the
 * same checks as the text trip (shard-writer-one-trip.ts) in the same lock order, and each table's rows
 * as one prepared single-row upsert executed over the array of rows (COM_STMT_BULK_EXECUTE, through the
 * shard's bulk pool, lib/db/bulk-pool.ts): binary values the server does not parse. The checks that
 * must change a number of rows are bulk statements too: the guards (one per guard text, the harvest
 * records' blobs as bytes) and the ledger keys (one `INSERT IGNORE` per ledger table), each checked by
 * the rows it changed, summed, once it answered; the fence read and the seal locks' read stay text and
 * raise CHECK_ERRNO as in the text trip. Everything is sent together without waiting (the bulk client
 * writes it with one socket write, lib/db/wire/wire-connection.ts, statements new to the connection
 * prepared in it, each right before its execution), and the COMMIT goes only once every
 * command answered OK with its count: a bulk statement is a command of its own, so it cannot sit in
 * one query text before a COMMIT that its failure would stop. That costs a second round trip, which the
 * server's saved parsing pays for (measured: docs/benchmark.md, "Bulk rows").
 *
 * Nothing commits before that COMMIT, whatever fails: the trip starts with `SET autocommit = 0`, so a
 * statement that runs after a failed one (the server runs every command it was sent) is inside the
 * transaction, or, after an error that ended the transaction (a deadlock), inside a new one that no
 * COMMIT ends; the writer then rolls back and turns autocommit on again before the connection goes
 * back to the pool, or destroys it (the server rolls back what a closed connection left).
 */

const COLUMNS = [...KEY_COLUMNS, ...VALUE_COLUMNS];
const PLACEHOLDERS = COLUMNS.map(() => '?').join(', ');
const MERGE = upsertMergeList();

/** The table's upsert of one row, prepared once per connection and text by the bulk client, executed in bulk. */
export function bulkUpsertSql(table: string): string {
  return `INSERT INTO ${table} (${COLUMNS.join(', ')}) VALUES (${PLACEHOLDERS}) ON DUPLICATE KEY UPDATE ${MERGE}`;
}

/**
 * The rows as bulk parameter rows in column order, written straight from the row objects (no array a
 * row, no look at each value to pick its type): the key columns as BIGINT (checked to be whole
 * numbers), the call count as BIGINT when every row's is a safe integer (else DOUBLE), the five times
 * as DOUBLE, whatever their values, so the Apdex rows' integral times go in the same statement as the
 * others' (MariaDB's connector started a new statement for them).
 */
export function bulkRows(rows: readonly TimesliceRow[]): TypedRows {
  let wholeCounts = true;
  for (const r of rows) {
    if (!Number.isSafeInteger(r.metricId) || !Number.isSafeInteger(r.agentId) || !Number.isSafeInteger(r.period)) {
      throw new TypeError(`cannot send a timeslice row keyed (${r.metricId}, ${r.agentId}, ${r.period}): its key must be whole numbers`);
    }
    if (wholeCounts && !(Number.isSafeInteger(r.callCount) && !Object.is(r.callCount, -0))) wholeCounts = false;
  }
  return {
    length: rows.length,
    kinds: ['int', 'int', 'int', wholeCounts ? 'int' : 'double', 'double', 'double', 'double', 'double', 'double'],
    write(w, i) {
      const r = rows[i]!;
      w.numberValue(r.metricId, false).numberValue(r.agentId, false).numberValue(r.period, false).numberValue(r.callCount, !wholeCounts);
      w.numberValue(r.totalTime, true).numberValue(r.exclusiveTime, true).numberValue(r.minTime, true).numberValue(r.maxTime, true).numberValue(r.sumOfSquares, true);
    },
  };
}

/** A bulk statement of the checks and the rows it must change, all of its parameter rows together. */
export interface CountedCheck {
  sql: string;
  rows: unknown[][];
  changes: number;
}

/**
 * The batch's guards (one bulk statement per guard text, in the batch's order: each changes at most one
 * row, its own record's, so the group must report the changes of every guard: one each, or its bulk
 * form's count) and ledger keys (one a ledger table: every key new), in the text trip's lock order.
 */
export function countedChecks(batch: readonly Pending[], ledger: WriteLedger): CountedCheck[] {
  const guards = new Map<string, CountedCheck>();
  for (const p of batch) {
    const g = p.req.guard;
    if (!g) continue;
    // A guard's bulk form when it has one (WriteGuard.bulk): counted by the changes it reports.
    const { sql, params, changes } = g.bulk ?? { ...g, changes: 1 };
    const check = guards.get(sql);
    if (check) {
      check.rows.push([...params]);
      check.changes += changes;
    } else {
      guards.set(sql, { sql, rows: [[...params]], changes });
    }
  }
  const out: CountedCheck[] = [...guards.values()];
  for (const l of ledger.insertRows(batch)) out.push({ ...l, changes: l.rows.length });
  return out;
}

/** Raised in place of a check's answer whose changed rows were not as counted (a conflict or a stored key). */
const MISCOUNTED = Object.assign(new Error('a check of the bulk trip changed other rows than counted'), { errno: CHECK_ERRNO });

/**
 * Runs the batch's transaction as a bulk trip on `conn`, which it releases (or destroys, when the
 * connection's state is unknown). Returns the rows written, or undefined when a check failed (a fence,
 * a conflict, a stored key or a sealed minute) and the transaction was rolled back: the caller then runs
 * the stepwise transaction. Any other failure before the COMMIT is thrown (nothing was committed); a
 * failed COMMIT counts as written only if every request is keyed and its key is committed, as on the
 * other paths. `escaper`: the mysql2 connection whose rules escape the checks' values.
 */
export async function runBulkTrip(
  conn: BulkConnection,
  escaper: Escaper,
  pool: PromisePool,
  batch: readonly Pending[],
  plan: OneTripPlan,
  tables: readonly { name: string; rows: readonly TimesliceRow[] }[],
  deps: OneTripDeps,
): Promise<number | undefined> {
  let released = false;
  const release = async (clean: boolean): Promise<void> => {
    if (released) return;
    released = true;
    if (clean) await conn.release();
    else conn.destroy();
  };
  try {
    const head = ['SET autocommit = 0', 'START TRANSACTION', fenceCheck(batch)].join(';\n');
    const counted = countedChecks(batch, deps.ledger);
    const tail = sealCheck(escaper, plan);
    const statements = tables.map((t) => ({ sql: bulkUpsertSql(t.name), rows: bulkRows(t.rows) }));
    // Bounded by what the same statements have one by one on the stepwise path: the head's three, each
    // guard and ledger key, the seal read, each bulk statement of rows (and their preparation).
    const commands = 2 * statements.length + 4 + counted.reduce((n, c) => n + c.rows.length, 0);
    const written = tables.reduce((n, t) => n + t.rows.length, 0);
    const failure = await bounded(conn, deps.statementTimeoutMs * commands, async () => {
      // All in one write, in this order: a statement new to this connection is prepared right before
      // its execution (batchInTransaction), which any failure here rolls back.
      const sent: Promise<unknown>[] = [conn.query(head)];
      for (const c of counted) sent.push(conn.batchInTransaction(c.sql, c.rows).then((r) => (r.affectedRows === c.changes ? r : Promise.reject(MISCOUNTED))));
      sent.push(conn.query(tail));
      for (const s of statements) sent.push(conn.batchInTransaction(s.sql, s.rows));
      const settled = await Promise.allSettled(sent);
      return settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    });
    if (failure) {
      const clean = await bounded(conn, deps.statementTimeoutMs, () => conn.query('ROLLBACK; SET autocommit = 1')).then(
        () => true,
        () => false,
      );
      await release(clean);
      if ((failure.reason as { errno?: number }).errno === CHECK_ERRNO) return undefined;
      throw failure.reason;
    }
    try {
      await bounded(conn, deps.statementTimeoutMs, () => conn.query('COMMIT; SET autocommit = 1'));
    } catch (err) {
      await release(false);
      if (await keysCommitted(pool, deps.ledger, batch)) return written;
      throw err;
    }
    await release(true);
    return written;
  } finally {
    await release(false);
  }
}
