import type { PoolConnection as BulkConnection } from 'mariadb';
import type { Pool as PromisePool } from 'mysql2/promise';
import { bounded, bulkOptions } from '../db/bulk-pool.js';
import type { Escaper } from '../db/statement-text.js';
import { KEY_COLUMNS, upsertMergeList, VALUE_COLUMNS } from '../timeslice/timeslice-columns.js';
import type { TimesliceRow } from '../timeslice/timeslice.js';
import { CHECK_ERRNO, tripChecks, type OneTripDeps, type OneTripPlan } from './shard-writer-one-trip.js';
import type { Pending } from './shard-writer-types.js';
import { keysCommitted } from './shard-writer-verify.js';

/**
 * The one-trip transaction with its rows as MariaDB bulk statements (issue #20; APM_WRITER_BULK): the
 * same checks as the text trip (shard-writer-one-trip.ts, `tripChecks`), then each table's rows as one
 * prepared single-row upsert executed over the array of rows (COM_STMT_BULK_EXECUTE, through the
 * shard's bulk pool, lib/db/bulk-pool.ts): binary values the server does not parse. The checks and the
 * bulk statements are sent together without waiting (the connector pipelines them), and the COMMIT
 * goes only once every one of them answered OK: a bulk statement is a command of its own, so it cannot
 * sit in one query text before a COMMIT that its failure would stop. That costs a second round trip,
 * which the server's saved parsing pays for (measured: docs/benchmark.md, "Bulk upserts").
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

/** The table's upsert of one row, prepared once per connection and text by the connector, executed in bulk. */
export function bulkUpsertSql(table: string): string {
  return `INSERT INTO ${table} (${COLUMNS.join(', ')}) VALUES (${PLACEHOLDERS}) ON DUPLICATE KEY UPDATE ${MERGE}`;
}

/**
 * The connector's type for a number parameter (mariadb 3.x, cmd/batch-bulk.js): an integer in the 32-bit
 * range goes as INT, any other number as DOUBLE. Both are stored exactly in our columns (a DOUBLE column
 * takes such an INT exactly; an integer BIGINT column takes an integral DOUBLE exactly).
 */
function sentAsInt(v: number): boolean {
  return Number.isInteger(v) && v >= -2147483648 && v < 2147483647;
}

/**
 * The rows as parameter rows in column order, grouped so that every row of a group has the same
 * parameter types: a bulk statement carries one type per column, and the connector starts a new one
 * whenever a row's types differ from the row before (a total time of exactly 2 after one of 0.37: every
 * Apdex row among the others would cost a statement of its own). A table's rows have distinct keys,
 * so their order does not matter.
 */
export function bulkGroups(rows: readonly TimesliceRow[]): unknown[][][] {
  const groups = new Map<number, unknown[][]>();
  for (const r of rows) {
    const values = [r.metricId, r.agentId, r.period, r.callCount, r.totalTime, r.exclusiveTime, r.minTime, r.maxTime, r.sumOfSquares];
    let types = 0;
    for (let i = 0; i < values.length; i++) if (sentAsInt(values[i]!)) types |= 1 << i;
    const group = groups.get(types);
    if (group) group.push(values);
    else groups.set(types, [values]);
  }
  return [...groups.values()];
}

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
    const checks = ['SET autocommit = 0', 'START TRANSACTION', ...tripChecks(escaper, batch, plan, deps.ledger)];
    const statements = tables.map((t) => ({ sql: bulkUpsertSql(t.name), groups: bulkGroups(t.rows) }));
    const commands = statements.reduce((n, s) => n + s.groups.length, 1);
    const written = tables.reduce((n, t) => n + t.rows.length, 0);
    const failure = await bounded(conn, deps.statementTimeoutMs * (checks.length + commands), async () => {
      const sent: Promise<unknown>[] = [conn.query(checks.join(';\n'))];
      for (const s of statements) for (const rows of s.groups) sent.push(conn.batch(bulkOptions(s.sql), rows));
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
