import type { Pool as PromisePool, PoolConnection } from 'mysql2/promise';

/**
 * The shard's rollup lock as the rollup service takes it (rollup/shard-lock.ts: a named lock
 * `GET_LOCK(CONCAT(DATABASE(), '.rollup'))`, one worker per shard). A move holds it on its source shard
 * from the sync pass until the old tables are dropped, so no rollup changes, seals or purges the
 * account's tables there while both sides are compared. Kept here (not imported from rollup/) because
 * lib/ must not depend on a service; test/unit/ops-move-plan.test.ts checks the names agree.
 */
export const ROLLUP_LOCK_SUFFIX = '.rollup';

export interface HeldLock {
  conn: PoolConnection;
  release(): Promise<void>;
}

/** Waits up to waitSeconds for the lock; undefined when it stays taken. */
export async function acquireRollupLock(pool: PromisePool, waitSeconds: number): Promise<HeldLock | undefined> {
  const conn = await pool.getConnection();
  let got: unknown;
  try {
    const [rows] = await conn.query<any[]>('SELECT GET_LOCK(CONCAT(DATABASE(), ?), ?) AS got', [ROLLUP_LOCK_SUFFIX, waitSeconds]);
    got = rows[0]?.got;
  } catch (err) {
    conn.release();
    throw err;
  }
  if (Number(got) !== 1) {
    conn.release();
    return undefined;
  }
  let released: Promise<void> | undefined;
  return {
    conn,
    release() {
      released ??= conn
        .query('SELECT RELEASE_LOCK(CONCAT(DATABASE(), ?))', [ROLLUP_LOCK_SUFFIX])
        .then(() => conn.release())
        .catch(() => conn.destroy());
      return released;
    },
  };
}
