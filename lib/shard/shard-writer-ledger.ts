import type { Pool as PromisePool, PoolConnection, ResultSetHeader } from 'mysql2/promise';
import { ledgerInsert, ledgerInsertRow, ledgerLockedRead, ledgerLookup, type LedgerHitRow, type LedgerKey, type LedgerKeyRow, type LedgerStatement } from './ledger-sql.js';
import { ledgerDdl } from './shard-writer-sql.js';
import type { Pending } from './shard-writer-types.js';
import { ledgerTableName } from './table-naming.js';

/**
 * The write ledger (schema/README.md, "Write path and the write ledger"): one `wl_<YYYYMMDD>` table per
 * shard and UTC day of a request's earliest row, `PRIMARY KEY (account_id, dedupe_key)`. A key is
 * recorded in the same transaction as the request's rows, so a key in the ledger means its rows are
 * committed.
 */
export class WriteLedger {
  /** "<shard>:<ledger table>" known to exist (a few per shard: one per day). */
  readonly #known = new Set<string>();

  /** Keyed requests grouped by ledger table. */
  tablesOf(batch: readonly Pending[]): Map<string, Pending[]> {
    const byTable = new Map<string, Pending[]>();
    for (const p of batch) {
      if (!p.digest || p.req.rows.length === 0) continue;
      const name = ledgerTableName(p.ledgerT);
      const list = byTable.get(name);
      if (list) list.push(p);
      else byTable.set(name, [p]);
    }
    return byTable;
  }

  /** Creates the batch's ledger tables. DDL commits implicitly in MySQL: call before BEGIN. */
  async ensure(conn: PoolConnection, shardId: number, names: Iterable<string>): Promise<void> {
    for (const name of names) {
      if (this.#known.has(`${shardId}:${name}`)) continue;
      await conn.query(ledgerDdl(name));
      this.#known.add(`${shardId}:${name}`);
    }
  }

  forget(shardId: number, names: readonly string[]): void {
    for (const name of names) this.#known.delete(`${shardId}:${name}`);
  }

  /**
   * Records the keys of `batch` (no two requests share a key: followers were set apart) and returns the
   * requests whose key was already committed. The usual case costs one `INSERT IGNORE` per ledger table
   * and no locking read: when it inserted every key there is no duplicate. Otherwise (a resend) the
   * insert is undone to a savepoint and the keys are read with a locking read, then the new ones inserted.
   */
  async record(conn: PoolConnection, batch: readonly Pending[]): Promise<Set<Pending>> {
    const dups = new Set<Pending>();
    for (const [name, ps] of this.tablesOf(batch)) {
      await conn.query('SAVEPOINT apm_ledger');
      const [res] = await run<ResultSetHeader>(conn, ledgerInsert(name, ps.map(keyOf), true));
      if (Number(res.affectedRows) === ps.length) continue;
      await conn.query('ROLLBACK TO SAVEPOINT apm_ledger');
      const [rows] = await run<LedgerKeyRow[]>(conn, ledgerLockedRead(name, ps.map(keyOf)));
      const seen = new Set(rows.map((r) => `${r.account_id}:${Buffer.from(r.dedupe_key).toString('hex')}`));
      const fresh = ps.filter((p) => {
        const dup = seen.has(`${p.req.accountId}:${p.digest!.toString('hex')}`);
        if (dup) dups.add(p);
        return !dup;
      });
      if (fresh.length > 0) {
        await run<ResultSetHeader>(conn, ledgerInsert(name, fresh.map(keyOf), false));
      }
    }
    return dups;
  }

  /**
   * The usual case of `record` as statements for a caller that runs them among others: one
   * `INSERT IGNORE` per ledger table, and how many keys it must insert (fewer means a key was there:
   * the caller rolls back and records stepwise).
   */
  insertStatements(batch: readonly Pending[]): { statement: LedgerStatement; keys: number }[] {
    return [...this.tablesOf(batch)].map(([name, ps]) => ({ statement: ledgerInsert(name, ps.map(keyOf), true), keys: ps.length }));
  }

  /** insertStatements as one-row `INSERT IGNORE`s and their parameter rows, for bulk statements. */
  insertRows(batch: readonly Pending[]): { sql: string; rows: unknown[][] }[] {
    return [...this.tablesOf(batch)].map(([name, ps]) => ({ sql: ledgerInsertRow(name), rows: ps.map((p) => [p.req.accountId, keyOf(p).digest]) }));
  }

  /** Whether the request's key is committed (after a COMMIT whose answer was lost). */
  async isCommitted(pool: PromisePool, p: Pending): Promise<boolean> {
    const [rows] = await run<LedgerHitRow[]>(pool, ledgerLookup(ledgerTableName(p.ledgerT), keyOf(p)));
    return rows.length > 0;
  }
}

/** The ledger key of a keyed request (tablesOf and the callers of isCommitted keep only those). */
function keyOf(p: Pending): LedgerKey {
  if (!p.digest) throw new Error('BUG: a ledger key of a request without a dedupe key');
  return { accountId: p.req.accountId, digest: p.digest };
}

function run<T extends ResultSetHeader | LedgerKeyRow[] | LedgerHitRow[]>(db: Pick<PoolConnection | PromisePool, 'query'>, s: LedgerStatement): Promise<[T, unknown]> {
  return db.query<T>(s.sql, s.params);
}
