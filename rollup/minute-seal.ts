import type { PoolConnection } from 'mysql2/promise';
import { upsertMergeList, TIMESLICE_COLUMNS, aggregateExpr, KEY_COLUMNS, VALUE_COLUMNS } from '../lib/timeslice/timeslice-columns.js';
import { nextTableSpanStart } from '../lib/shard/table-naming.js';
import { identifier, recordsOf, type RollupStatement } from './rollup-sql.js';

/**
 * The minute seal (issue #20): the application pseudo-agent's minute rows derived from its agents' rows
 * once a minute has closed, instead of every harvest upserting them (half of all row operations, on rows
 * every agent of the application contends for).
 *
 * Per minute table, one transaction: the registry row locked FOR UPDATE (every writer that puts an
 * agent's row into the table holds it in share mode until its commit, lib/shard/shard-writer-seal.ts),
 * then the agents' rows of the minutes [sealed_through, to) summed per (metric, application, minute)
 * and ADDED to the pseudo-agent's rows, then sealed_through = to. Added, not set: a pseudo-agent row may
 * hold rows written to it directly (beacon, pinger, OTLP resources without an instance), and a
 * sealed minute already got the application rows of its late agent rows from the writer. Exactly once:
 * the range starts at sealed_through read under the lock and the new sealed_through commits with the
 * rows, so a re-run (a crash, a second rollup process) finds nothing left to seal in that range.
 */

/** The newest minute boundary whose minutes all closed at least `graceSeconds` before `now`. */
export function sealBoundary(now: number, graceSeconds: number): number {
  return Math.max(0, Math.floor((Math.floor(now) - graceSeconds) / 60) * 60);
}

/**
 * INSERT … SELECT of the application rows of [from, to): each agent's rows (not a pseudo-agent's) joined
 * to its application's pseudo-agent, aggregated with the merge of lib/timeslice/timeslice-columns.ts
 * and merged into the stored pseudo-agent rows the same way. The SELECT is a derived table so the
 * update list names the target's columns only.
 */
export function sealStatement(table: string, accountId: number, from: number, to: number): RollupStatement {
  const t = identifier(table);
  const columns = [...KEY_COLUMNS, ...VALUE_COLUMNS];
  // The derived table's columns are named apart (s_…): the update list then names the target's alone.
  const aggregates = TIMESLICE_COLUMNS.map((c) => `${aggregateExpr({ ...c, column: `r.${c.column}` })} AS s_${c.column}`).join(', ');
  const sql =
    `INSERT INTO ${t} (${columns.join(', ')}) SELECT ${columns.map((c) => `s_${c}`).join(', ')} FROM (` +
    `SELECT r.metric_id AS s_metric_id, p.id AS s_agent_id, r.period AS s_period, ${aggregates} FROM ${t} r ` +
    'JOIN agents a ON a.account_id = ? AND a.id = r.agent_id ' +
    "JOIN agents p ON p.account_id = a.account_id AND p.application_id = a.application_id AND p.host = '' AND p.pid = 0 AND p.language = '' " +
    'WHERE r.period >= ? AND r.period < ? AND p.id <> a.id GROUP BY r.metric_id, p.id, r.period' +
    `) s ON DUPLICATE KEY UPDATE ${upsertMergeList()}`;
  return { sql, params: [accountId, from, to] };
}

export interface MinuteTable {
  name: string;
  accountId: number;
  start: number;
  end: number;
}

/**
 * Seals `t` through min(to, its end) on `conn`, inside the caller's transaction (the caller commits).
 * Returns the application rows written (0 when the range was sealed already, or the table is unregistered).
 */
export async function sealInTransaction(conn: PoolConnection, t: MinuteTable, to: number): Promise<{ sealed: boolean; rows: number }> {
  const [reg] = await conn.query<any[]>('SELECT sealed_through FROM table_registry WHERE name = ? FOR UPDATE', [t.name]);
  if (!reg[0]) return { sealed: false, rows: 0 };
  const from = Math.max(t.start, reg[0].sealed_through === null ? t.start : Number(reg[0].sealed_through));
  const upTo = Math.min(to, t.end);
  if (upTo <= from) return { sealed: false, rows: 0 };
  const s = sealStatement(t.name, t.accountId, from, upTo);
  let rows = 0;
  try {
    const [res] = await conn.query<any>(s.sql, s.params);
    rows = recordsOf(res?.info, Number(res?.affectedRows ?? 0));
  } catch (err) {
    // Registered, not created yet (the registry row comes first): no row to sum. Sealing it is right:
    // the writer creating it locks this registry row after our commit and so adds application rows.
    if ((err as { errno?: number }).errno !== 1146) throw err;
  }
  await conn.query('UPDATE table_registry SET sealed_through = ? WHERE name = ?', [upTo, t.name]);
  return { sealed: true, rows };
}

/** Seals `t` through `to` in its own transaction. */
export async function sealMinuteTable(conn: PoolConnection, t: MinuteTable, to: number): Promise<{ sealed: boolean; rows: number }> {
  await conn.query('START TRANSACTION');
  try {
    const out = await sealInTransaction(conn, t, to);
    await conn.query('COMMIT');
    return out;
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * The minute tables with minutes left to seal before `to`: not rolled yet (a rolled table was sealed
 * whole by its rollup), started before `to`, sealed short of min(to, end), and not due to be rolled
 * (ended at or after `rolledBefore`: the rollup seals a table it rolls in the roll's own transaction). Read through the registry's
 * (rollup_state, kind, period_start) index: about one table per active account.
 */
export async function tablesToSeal(conn: PoolConnection, to: number, accountId?: number, rolledBefore = 0): Promise<MinuteTable[]> {
  const [rows] = await conn.query<any[]>(
    "SELECT name, account_id, period_start, sealed_through FROM table_registry WHERE rollup_state IN ('open', 'rolling', 'dirty') AND kind = 'minute' AND period_start < ?" +
      (accountId === undefined ? '' : ' AND account_id = ?') +
      ' ORDER BY period_start, name',
    accountId === undefined ? [to] : [to, accountId],
  );
  const out: MinuteTable[] = [];
  for (const r of rows) {
    const start = Number(r.period_start);
    const end = nextTableSpanStart('minute', start);
    const through = r.sealed_through === null ? start : Number(r.sealed_through);
    if (end > rolledBefore && through < Math.min(to, end)) out.push({ name: String(r.name), accountId: Number(r.account_id), start, end });
  }
  return out;
}

/**
 * One seal pass over a shard (the rollup runs it every run, under the shard's rollup lock, before
 * rolling): every minute table with minutes closed before `to` left to seal, except tables that end
 * before `rolledBefore` (due to be rolled: the roll seals them). A table that fails is reported to
 * `onFailure` (which may rethrow) and left for the next pass.
 */
export async function sealMinutes(
  conn: PoolConnection,
  to: number,
  accountId: number | undefined,
  onFailure: (t: MinuteTable, err: unknown) => void,
  rolledBefore = 0,
): Promise<{ tables: number; rows: number }> {
  const out = { tables: 0, rows: 0 };
  for (const t of await tablesToSeal(conn, to, accountId, rolledBefore)) {
    try {
      const r = await sealMinuteTable(conn, t, to);
      if (r.sealed) out.tables++;
      out.rows += r.rows;
    } catch (err) {
      onFailure(t, err);
    }
  }
  return out;
}
