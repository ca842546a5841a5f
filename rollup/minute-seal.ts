import type { PoolConnection } from 'mysql2/promise';
import { queryBuilder, selectOn, writeOn } from '../lib/db/query-builder.js';
import type { ShardDatabase } from '../lib/shard/shard-database.js';
import { nextTableSpanStart } from '../lib/shard/table-naming.js';
import { recordsOf, sealApplicationStatement, sealPairsStatement, sealStatement, selectRows, writeRows, type RollupStatement, type SealPairRow } from './rollup-sql.js';

const shardSql = queryBuilder<ShardDatabase>();

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
  const reg = await selectOn(conn, shardSql.selectFrom('table_registry').select('sealed_through').where('name', '=', t.name).forUpdate());
  if (!reg[0]) return { sealed: false, rows: 0 };
  const from = Math.max(t.start, reg[0].sealed_through === null ? t.start : Number(reg[0].sealed_through));
  const upTo = Math.min(to, t.end);
  if (upTo <= from) return { sealed: false, rows: 0 };
  let rows = 0;
  try {
    for (const s of await sealStatements(conn, t, from, upTo)) {
      const res = await writeRows(conn, s);
      rows += recordsOf(res.info, Number(res.affectedRows));
    }
  } catch (err) {
    // Registered, not created yet (the registry row comes first): no row to sum. Sealing it is right:
    // the writer creating it locks this registry row after our commit and so adds application rows.
    if ((err as { errno?: number }).errno !== 1146) throw err;
  }
  await writeOn(conn, shardSql.updateTable('table_registry').set({ sealed_through: upTo }).where('name', '=', t.name));
  return { sealed: true, rows };
}

/** Applications up to which the seal runs one statement per application instead of the join. */
export const SEAL_BY_APPLICATION_MAX = 16;
/** Agents per statement of one application (longer IN lists are split: the sums merge by addition). */
const SEAL_AGENTS_PER_STATEMENT = 1000;

/**
 * The seal's statements for [from, to): the account's agent → pseudo-agent pairs read once (shared
 * locks), then per application one INSERT … SELECT over its agents' rows with no join (2.3× cheaper a
 * row, rollup-sql.ts); an account with more than SEAL_BY_APPLICATION_MAX applications gets the one
 * joined statement instead (one statement however many applications).
 */
async function sealStatements(conn: PoolConnection, t: MinuteTable, from: number, to: number): Promise<RollupStatement[]> {
  const byApplication = new Map<number, number[]>();
  for (const r of await selectRows<SealPairRow>(conn, sealPairsStatement(t.accountId))) {
    const app = Number(r.application_agent_id);
    const list = byApplication.get(app);
    if (list) list.push(Number(r.agent_id));
    else byApplication.set(app, [Number(r.agent_id)]);
  }
  if (byApplication.size > SEAL_BY_APPLICATION_MAX) return [sealStatement(t.name, t.accountId, from, to)];
  const out: RollupStatement[] = [];
  for (const [app, agents] of byApplication) {
    for (let i = 0; i < agents.length; i += SEAL_AGENTS_PER_STATEMENT) out.push(sealApplicationStatement(t.name, app, agents.slice(i, i + SEAL_AGENTS_PER_STATEMENT), from, to));
  }
  return out;
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
  let q = shardSql
    .selectFrom('table_registry')
    .select(['name', 'account_id', 'period_start', 'sealed_through'])
    .where('rollup_state', 'in', ['open', 'rolling', 'dirty'])
    .where('kind', '=', 'minute')
    .where('period_start', '<', to);
  if (accountId !== undefined) q = q.where('account_id', '=', accountId);
  const rows = await selectOn(conn, q.orderBy('period_start').orderBy('name'));
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
