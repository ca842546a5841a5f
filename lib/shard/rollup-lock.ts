import type { Pool as PromisePool } from 'mysql2/promise';
import { acquireNamedLock, namedLockHolder, ROLLUP_LOCK_SUFFIX, type NamedLock } from '../db/named-lock.js';

/**
 * The shard's rollup lock (a named lock, lib/db/named-lock.ts). The rollup holds it for a whole run:
 * one worker at a time rolls, seals or purges a shard, every rollup statement on the lock's
 * connection. A move holds it on its source shard from the sync pass until the old tables are
 * dropped, so no rollup changes, seals or purges the account's tables there while both sides are
 * compared.
 */
export { ROLLUP_LOCK_SUFFIX };
export type RollupLock = NamedLock;

/** Takes the shard's rollup lock, waiting up to waitSeconds; undefined when another holder keeps it. */
export function acquireRollupLock(pool: PromisePool, waitSeconds: number): Promise<RollupLock | undefined> {
  return acquireNamedLock(pool, ROLLUP_LOCK_SUFFIX, waitSeconds);
}

/** Connection id of the holder of the shard's rollup lock, or undefined when it is free. */
export function rollupLockHolder(pool: PromisePool): Promise<number | undefined> {
  return namedLockHolder(pool, ROLLUP_LOCK_SUFFIX);
}
