import type { Pool as PromisePool, PoolConnection } from 'mysql2/promise';
import { statementText, type Escaper } from '../db/statement-text.js';
import { fenceLockIntoSql } from './account-fence.js';
import type { TableInfo } from './shard-database.js';
import type { WriteLedger } from './shard-writer-ledger.js';
import { sealLockSelectSql, sealLockSets } from './shard-writer-seal.js';
import { upsertSql } from './shard-writer-sql.js';
import type { Pending } from './shard-writer-types.js';
import { keysCommitted } from './shard-writer-verify.js';
import type { TimesliceRow } from '../timeslice/timeslice.js';

/**
 * A write transaction in one round trip (issue #20). The statement-by-statement transaction
 * (shard-writer-transaction.ts) waits for the server after each of its 15-30 statements, and on a
 * busy collector each answer also waits for the event loop: measured on 2 cores, a transaction of
 * ~650 rows spent 0.8 ms on a bare BEGIN and 22-25 ms in all. Here the same statements, in the same
 * lock order, and the COMMIT go as one multi-statement query on the shard's batches pool
 * (lib/db/connect.ts): BEGIN, the fence read (shared locks), the guards, one INSERT IGNORE per ledger
 * table, the seal locks, the rows as multi-row upserts that merge exactly with what is stored, COMMIT.
 * It assumes the usual case: no account fenced, every guard changes its row, no key already in the
 * ledger, no minute sealed. The server checks them before the rows (`checkExpression`, below), and
 * fails the query when one does not hold: the server then runs none of the statements after it,
 * the COMMIT among them, the transaction is rolled back, and the caller runs the stepwise transaction,
 * which handles each case. A batch with rows of a table whose span has ended
 * (late rows) or whose text would pass MAX_TEXT_BYTES goes stepwise from the start.
 *
 * Every value in the text is escaped by the driver (guards, ledger keys, fence and seal reads) or is a
 * number checked finite (rows: shard-writer-sql.ts); the batches pool is used by nothing else.
 */

/**
 * The error a failed check raises: ER_DATA_OUT_OF_RANGE, from BIGINT arithmetic that overflows, in
 * MariaDB and MySQL 8 alike and whatever the SQL mode. No table and no subquery: measured, a check
 * that raised ER_SUBQUERY_NO_1_ROW from a two-row derived table cost four times as much (a temporary
 * table a trip). A real overflow in the trip's rows raises it too: the stepwise path then meets it again
 * and fails the request as data it cannot store.
 */
export const CHECK_ERRNO = 1690;

/** SQL that raises CHECK_ERRNO when `condition` (SQL, never NULL) holds, and is a number otherwise. */
function checkExpression(condition: string): string {
  return `9223372036854775807 + (${condition})`;
}

/** Session variables of a trip: whether every row count before the last was as expected; accounts fenced; the check's value. */
const OK = '@apm_trip_ok';
const FENCED = '@apm_trip_fenced';
const CHECKED = '@apm_trip_check';

/** Longest query text sent in one trip (the server's max_allowed_packet is 16 MiB by default). */
export const MAX_TEXT_BYTES = 4 * 1024 * 1024;

export interface OneTripDeps {
  ledger: WriteLedger;
  batchRows: number;
  /**
   * The batches pool's bound of one statement (lib/db/connect.ts). A trip is bounded by it times its
   * statements: the bound the same statements have one by one on the stepwise path, so a transaction
   * that would finish there is not failed here for being sent at once.
   */
  statementTimeoutMs: number;
}

/**
 * What a batch needs for one trip: each open minute table its agents' rows go to (the tables whose
 * registry rows it locks, sealLockSets' `open`) → the least period of those rows in it (a sealed_through
 * above it means the stepwise path).
 */
export interface OneTripPlan {
  leastPeriod: Map<string, number>;
}

/** The plan of a batch, or undefined when it must go stepwise (rows of a table whose span has ended). */
export function oneTripPlan(batch: readonly Pending[], infos: ReadonlyMap<Pending, TableInfo[]>, now: number): OneTripPlan | undefined {
  const { open, ended } = sealLockSets(batch, new Set(), infos, now);
  if (ended.size > 0) return undefined;
  const leastPeriod = new Map<string, number>();
  for (const p of batch) {
    const tables = infos.get(p)!;
    for (let i = 0; i < p.req.rows.length; i++) {
      const w = p.req.rows[i]!;
      const name = tables[i]!.name;
      if (w.applicationAgentId === undefined || !open.has(name)) continue;
      const least = leastPeriod.get(name);
      if (least === undefined || w.row.period < least) leastPeriod.set(name, w.row.period);
    }
  }
  return { leastPeriod };
}

/**
 * The trip's checks, the statements between the transaction's start and its rows, in as few statements
 * as they can be (each costs the server, measured): the fence read keeps how many accounts are fenced,
 * ROW_COUNT() of each guard and ledger insert but the last is kept in OK, and the last statement (the
 * seal locks' read, or a SET when the batch has no open minute table) raises CHECK_ERRNO when a count,
 * a fence or a sealed minute says so. The text trip's (below); the bulk trip (shard-writer-bulk-trip.ts)
 * shares its first and last statements (fenceCheck, sealCheck) and sends the guards and ledger keys as
 * bulk statements, counted by their answers.
 */
export function tripChecks(conn: Escaper, batch: readonly Pending[], plan: OneTripPlan, ledger: WriteLedger): string[] {
  const out: string[] = [fenceCheck(batch)];
  let counted = false;
  let last: number | undefined;
  /** Adds `text`, a statement that must change `rows` rows, after keeping the count of the one before it in OK. */
  const addCounted = (text: string, rows: number): void => {
    if (!Number.isSafeInteger(rows) || rows < 0) throw new Error(`BUG: a row count must be a non-negative integer, got ${rows}`);
    if (last !== undefined) {
      out.push(`SET ${OK} = ${counted ? `${OK} AND ` : ''}ROW_COUNT() = ${last}`);
      counted = true;
    }
    out.push(text);
    last = rows;
  };
  for (const p of batch) if (p.req.guard !== undefined) addCounted(statementText(conn, p.req.guard.sql, p.req.guard.params), 1);
  for (const l of ledger.insertStatements(batch)) addCounted(statementText(conn, l.statement.sql, l.statement.params), l.keys);
  out.push(sealCheck(conn, plan, [`${FENCED} > 0`, ...(counted ? [`NOT ${OK}`] : []), ...(last !== undefined ? [`ROW_COUNT() <> ${last}`] : [])].join(' OR ')));
  return out;
}

/** The trip's fence read (shared locks), keeping how many of the batch's accounts are fenced. */
export function fenceCheck(batch: readonly Pending[]): string {
  return fenceLockIntoSql(batch.map((p) => p.req.accountId), FENCED);
}

/**
 * The trip's last check: the seal locks' read (shared locks of the open tables, one read: the trip has no
 * table whose span has ended), or a SET when the batch has no open minute table, raising CHECK_ERRNO
 * when `failed` (SQL) holds, when fenceCheck found a fence, or when a minute is sealed.
 */
export function sealCheck(conn: Escaper, plan: OneTripPlan, failed = `${FENCED} > 0`): string {
  const least = [...plan.leastPeriod].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  if (least.length === 0) return `SET ${CHECKED} = ${checkExpression(failed)}`;
  const seal = sealLockSelectSql(least, (sealedPast) => checkExpression(`${failed} OR ${sealedPast} > 0`), CHECKED);
  return statementText(conn, seal.sql, seal.params);
}

/**
 * Runs the batch's transaction in one trip, COMMIT included. Returns the rows written, or undefined
 * when the stepwise transaction must run instead: nothing was sent (text too long), or a check failed
 * (a fence, a conflict, a stored key or a sealed minute) and the transaction was rolled back. When the
 * query fails otherwise, its COMMIT may still have run (the answer lost with the connection): the
 * batch counts as written only if every request is keyed and its key is committed (as after a lost
 * COMMIT on the stepwise path); else the error is thrown, after a ROLLBACK.
 * `tables`: the batch's rows merged per table with no application row added (no minute sealed).
 */
export async function runOneTrip(
  conn: PoolConnection,
  pool: PromisePool,
  batch: readonly Pending[],
  plan: OneTripPlan,
  tables: readonly { name: string; rows: readonly TimesliceRow[] }[],
  deps: OneTripDeps,
): Promise<number | undefined> {
  const statements = ['START TRANSACTION', ...tripChecks(conn, batch, plan, deps.ledger)];
  let length = statements.reduce((n, text) => n + text.length + 2, 0);
  const add = (text: string): void => {
    statements.push(text);
    length += text.length + 2;
  };
  let written = 0;
  for (const t of tables) {
    for (let i = 0; i < t.rows.length; i += deps.batchRows) add(upsertSql(t.name, t.rows.slice(i, i + deps.batchRows)));
    written += t.rows.length;
    if (length > MAX_TEXT_BYTES) return undefined;
  }
  if (length > MAX_TEXT_BYTES) return undefined;
  add('COMMIT');

  try {
    await conn.query({ sql: statements.join(';\n'), timeout: deps.statementTimeoutMs * statements.length });
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => undefined);
    if ((err as { errno?: number }).errno === CHECK_ERRNO) return undefined;
    if (await keysCommitted(pool, deps.ledger, batch)) return written;
    throw err;
  }
  return written;
}
