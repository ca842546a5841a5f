import type { Pool as PromisePool, PoolConnection } from 'mysql2/promise';
import type { WriteLedger } from './shard-writer-ledger.js';
import type { Pending } from './shard-writer-types.js';

/**
 * COMMIT. When the connection fails during COMMIT the outcome is unknown: if every request the
 * transaction wrote is keyed and its key is in the ledger, the commit happened (the keys were written
 * in the same transaction). A batch with an unkeyed request fails (the client retries).
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
 * keyed and its key is committed (the keys were written in the same transaction); false when one is
 * unkeyed or its key is not committed. Read on `pool`, not on the transaction's connection.
 */
export async function keysCommitted(pool: PromisePool, ledger: WriteLedger, written: readonly Pending[]): Promise<boolean> {
  const keyed = written.filter((p) => p.digest && p.req.rows.length > 0);
  if (keyed.length === 0 || keyed.length !== written.length) return false;
  for (const p of keyed) if (!(await ledger.isCommitted(pool, p))) return false;
  return true;
}
