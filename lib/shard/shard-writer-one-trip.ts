import type { PoolConnection, ResultSetHeader } from 'mysql2/promise';
import { compiledText, statementText } from '../db/statement-text.js';
import { blockingFences, fenceReadQuery } from './account-fence.js';
import type { TableInfo } from './shard-database.js';
import type { WriteLedger } from './shard-writer-ledger.js';
import { sealedFrom, sealLockQuery, sealLockSets } from './shard-writer-seal.js';
import { upsertSql } from './shard-writer-sql.js';
import type { Pending } from './shard-writer-types.js';
import type { TimesliceRow } from '../timeslice/timeslice.js';

/**
 * A write transaction in one round trip (issue #20). The statement-by-statement transaction
 * (shard-writer-transaction.ts) waits for the server after each of its 15-30 statements, and on a
 * busy collector each answer also waits for the event loop: measured on 2 cores, a transaction of
 * ~650 rows spent 0.8 ms on a bare BEGIN and 22-25 ms in all. Here the same statements, in the same
 * lock order, go as one multi-statement query on the shard's batches pool (lib/db/connect.ts): BEGIN,
 * the fence read (shared locks), the guards, one INSERT IGNORE per ledger table, the seal locks, and
 * the rows as multi-row upserts that merge exactly with what is stored. It assumes the usual case: no
 * account fenced, every guard changes its row, no key already in the ledger, no minute sealed. The
 * answers are checked before COMMIT; when one of them says otherwise, the transaction is rolled back
 * and the caller runs the stepwise transaction, which handles each case. A batch with rows of a table
 * whose span has ended (late rows) or whose text would pass MAX_TEXT_BYTES goes stepwise from the start.
 *
 * Every value in the text is escaped by the driver (guards, ledger keys, fence and seal reads) or is a
 * number checked finite (rows: shard-writer-sql.ts); the batches pool is used by nothing else.
 */

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

/** What a batch needs for one trip: the seal locks of its open minute tables, the least agent-row period per table. */
export interface OneTripPlan {
  open: Set<string>;
  /** Table → least period of its agents' rows (a sealed_through above it means the stepwise path). */
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
  return { open, leastPeriod };
}

/**
 * Runs the batch's transaction in one trip, up to (not including) COMMIT. Returns the rows written,
 * or undefined when the stepwise transaction must run instead: nothing was sent (text too long), or
 * the answers showed a fence, a conflict, a stored key or a sealed minute and it was rolled back.
 * `tables`: the batch's rows merged per table with no application row added (no minute sealed).
 */
export async function runOneTrip(
  conn: PoolConnection,
  batch: readonly Pending[],
  plan: OneTripPlan,
  tables: readonly { name: string; rows: readonly TimesliceRow[] }[],
  deps: OneTripDeps,
): Promise<number | undefined> {
  const statements = ['START TRANSACTION'];
  let length = 0;
  const add = (text: string): void => {
    statements.push(text);
    length += text.length + 2;
  };
  // The fence read and the seal locks depend only on how many accounts and tables: compiled once per count.
  const accounts = [...new Set(batch.map((p) => p.req.accountId))];
  for (const a of accounts) if (!Number.isSafeInteger(a) || a <= 0) throw new Error(`BUG: account id must be a positive integer, got ${a}`);
  add(statementText(conn, compiledText(`fences:${accounts.length}`, accounts, () => fenceReadQuery(accounts, { lock: true })!.compile()), accounts));
  const guarded = batch.filter((p) => p.req.guard !== undefined);
  for (const p of guarded) add(statementText(conn, p.req.guard!.sql, p.req.guard!.params));
  const ledger = deps.ledger.insertStatements(batch);
  for (const l of ledger) add(statementText(conn, l.statement.sql, l.statement.params));
  // The shared locks of the open tables, one read (the trip has no table whose span has ended).
  const open = [...plan.open].sort();
  if (open.length > 0) add(statementText(conn, compiledText(`seal-locks:${open.length}`, open, () => sealLockQuery(open, false).compile()), open));
  let written = 0;
  for (const t of tables) {
    for (let i = 0; i < t.rows.length; i += deps.batchRows) add(upsertSql(t.name, t.rows.slice(i, i + deps.batchRows)));
    written += t.rows.length;
    if (length > MAX_TEXT_BYTES) return undefined;
  }
  if (length > MAX_TEXT_BYTES) return undefined;

  const sql = statements.join(';\n');
  const [answers] = (await conn.query({ sql, timeout: deps.statementTimeoutMs * statements.length })) as unknown as [unknown[]];
  let k = 1;
  let usual = blockingFences(answers[k++] as Parameters<typeof blockingFences>[0]).size === 0;
  for (let i = 0; i < guarded.length; i++) if (Number((answers[k++] as ResultSetHeader).affectedRows) !== 1) usual = false;
  for (const l of ledger) if (Number((answers[k++] as ResultSetHeader).affectedRows) !== l.keys) usual = false;
  const sealed = new Map<string, number>();
  if (open.length > 0) sealedFrom(answers[k++] as Parameters<typeof sealedFrom>[0], sealed);
  for (const [name, through] of sealed) if (through > (plan.leastPeriod.get(name) ?? Infinity)) usual = false;
  if (usual) return written;
  await conn.query('ROLLBACK');
  return undefined;
}
