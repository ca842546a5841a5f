import type { Pool as PromisePool } from 'mysql2/promise';
import { acquireNamedLock, namedLockHolder, ROLLUP_LOCK_SUFFIX, type NamedLock } from '../lib/db/named-lock.js';

/**
 * The per-shard rollup lock (lib/db/named-lock.ts), held for a whole run: only one rollup worker at a
 * time rolls, seals or purges a shard, and every rollup statement runs on the lock's connection.
 */
export { ROLLUP_LOCK_SUFFIX };
export type ShardLock = NamedLock;

/** Takes the shard's rollup lock, waiting up to waitSeconds; undefined when another worker holds it. */
export function acquireShardLock(pool: PromisePool, waitSeconds: number): Promise<ShardLock | undefined> {
  return acquireNamedLock(pool, ROLLUP_LOCK_SUFFIX, waitSeconds);
}

/** Connection id of the worker holding the shard's rollup lock, or undefined when it is free. */
export function shardLockHolder(pool: PromisePool): Promise<number | undefined> {
  return namedLockHolder(pool, ROLLUP_LOCK_SUFFIX);
}
