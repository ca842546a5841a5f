import type { Pool as PromisePool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import { REQUEST_STATEMENT_TIMEOUT_MS } from './connect.js';

/**
 * A MySQL named lock (GET_LOCK) held on a connection of its own. The lock's name is the current
 * database plus `suffix`, so every database on a server has its own locks. A process that dies drops
 * its connection and the server releases the lock at once; a connection that breaks loses the lock,
 * and work that must stay under the lock runs on `conn` (or calls check()) so it cannot go on without it.
 */
export interface NamedLock {
  /** The connection holding the lock. */
  conn: PoolConnection;
  /** Throws when the lock is no longer held by `conn`. */
  check(): Promise<void>;
  /** Releases the lock and returns the connection to the pool (idempotent). */
  release(): Promise<void>;
}

/** Rollup work on a shard: one worker at a time (rollup runs, and a move's source shard). */
export const ROLLUP_LOCK_SUFFIX = '.rollup';

/** Waits up to waitSeconds for the lock; undefined when another connection keeps it. */
export async function acquireNamedLock(pool: PromisePool, suffix: string, waitSeconds: number): Promise<NamedLock | undefined> {
  const conn = await pool.getConnection();
  let got: unknown;
  try {
    // Bounded by its own wait (plus the request bound for the answer), whatever the pool's bound.
    const sql = 'SELECT GET_LOCK(CONCAT(DATABASE(), ?), ?) AS got';
    const [rows] = await conn.query<Array<RowDataPacket & { got: number | null }>>({ sql, timeout: waitSeconds * 1000 + REQUEST_STATEMENT_TIMEOUT_MS }, [suffix, waitSeconds]);
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
    async check() {
      const [rows] = await conn.query<Array<RowDataPacket & { mine: number | null }>>('SELECT IS_USED_LOCK(CONCAT(DATABASE(), ?)) = CONNECTION_ID() AS mine', [suffix]);
      if (Number(rows[0]?.mine) !== 1) throw new Error(`cannot continue: the lock ${suffix} was lost`);
    },
    release() {
      released ??= conn
        .query('SELECT RELEASE_LOCK(CONCAT(DATABASE(), ?))', [suffix])
        .then(() => conn.release())
        // A broken connection already lost the lock with it; never hand it back to the pool.
        .catch(() => conn.destroy());
      return released;
    },
  };
}

/** Connection id holding the lock, or undefined when it is free. */
export async function namedLockHolder(pool: PromisePool, suffix: string): Promise<number | undefined> {
  const [rows] = await pool.query<Array<RowDataPacket & { holder: number | null }>>('SELECT IS_USED_LOCK(CONCAT(DATABASE(), ?)) AS holder', [suffix]);
  const holder = rows[0]?.holder;
  return holder === null || holder === undefined ? undefined : Number(holder);
}
