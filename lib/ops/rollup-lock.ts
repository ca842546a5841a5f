import type { Pool as PromisePool } from 'mysql2/promise';
import { acquireNamedLock, ROLLUP_LOCK_SUFFIX, type NamedLock } from '../db/named-lock.js';

/**
 * The shard's rollup lock, the same one the rollup service takes (lib/db/named-lock.ts). A move holds
 * it on its source shard from the sync pass until the old tables are dropped, so no rollup changes,
 * seals or purges the account's tables there while both sides are compared.
 */
export { ROLLUP_LOCK_SUFFIX };
export type HeldLock = NamedLock;

/** Waits up to waitSeconds for the lock; undefined when it stays taken. */
export function acquireRollupLock(pool: PromisePool, waitSeconds: number): Promise<HeldLock | undefined> {
  return acquireNamedLock(pool, ROLLUP_LOCK_SUFFIX, waitSeconds);
}
