import type { ExecuteValues, Pool as PromisePool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import type { WriteLedger } from './shard-writer-ledger.js';
import type { Pending } from './shard-writer-types.js';

/**
 * COMMIT. When the connection fails during COMMIT the outcome is unknown: if every request the
 * transaction wrote is proved committed (keysCommitted), the commit happened. A batch with a request
 * nothing proves fails (the client retries).
 */
export async function commitOrVerify(conn: PoolConnection, pool: PromisePool, ledger: WriteLedger, written: readonly Pending[]): Promise<void> {
  try {
    await conn.commit();
  } catch (err) {
    if (!(await keysCommitted(pool, ledger, written))) throw err;
  }
}

/**
 * Whether a transaction whose COMMIT's answer was lost committed: true when every request it wrote is
 * proved committed, a keyed one by its ledger key, an unkeyed one by its guard's `committed` read (both
 * were written in the same transaction); false when one has neither or is not committed. Read on
 * `pool`, not on the transaction's connection.
 */
export async function keysCommitted(pool: PromisePool, ledger: WriteLedger, written: readonly Pending[]): Promise<boolean> {
  if (written.length === 0) return false;
  for (const p of written) {
    if (p.req.rows.length === 0) return false;
    const check = p.req.guard?.committed;
    if (p.digest) {
      if (!(await ledger.isCommitted(pool, p))) return false;
    } else if (check) {
      const [rows] = await pool.query<RowDataPacket[]>(check.sql, [...check.params] as ExecuteValues[]);
      if (rows.length === 0) return false;
    } else {
      return false;
    }
  }
  return true;
}
