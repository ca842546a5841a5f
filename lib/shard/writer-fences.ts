import type { Pool as PromisePool, PoolConnection } from 'mysql2/promise';
import { RetryableError } from '../errors.js';
import type { ShardRegistry } from './shard-registry.js';
import type { ShardStore } from './shard-store.js';
import { ensureFenceRows, readFences, type Fence } from './account-fence.js';

const MAX_KNOWN = 1_000_000;

/**
 * The ShardWriter's side of the move fence (see account-fence.ts for the protocol). Two checks:
 * - `precheck`, before the writer creates tables (DDL cannot run inside its transaction): creates
 *   missing fence rows and refuses accounts already fenced or moved away, so the writer never
 *   recreates tables of an account on a shard it has left. A transaction that creates nothing (every
 *   table cached, every fence row known: allKnown) skips it, as `check` alone keeps its rows exact;
 * - `check`, the first statement of the write transaction: the locking read that makes the fence exact.
 * A refused request fails with RetryableError (503, Retry-After 1): the client resends, and the
 * account's cached shard, dictionary and tables are forgotten so the resend resolves the new shard.
 */
export class WriterFences {
  /** `${shardId}:${accountId}` whose fence row is known to exist. */
  readonly #known = new Set<string>();

  /** True when every account's fence row is known to exist on the shard (precheck created or found it). */
  allKnown(shardId: number, accountIds: Iterable<number>): boolean {
    for (const a of accountIds) if (!this.#known.has(`${shardId}:${a}`)) return false;
    return true;
  }

  async precheck(pool: PromisePool, shardId: number, accountIds: Iterable<number>): Promise<Map<number, Fence>> {
    const list = [...new Set(accountIds)];
    const unknown = list.filter((a) => !this.#known.has(`${shardId}:${a}`));
    if (unknown.length > 0) {
      await ensureFenceRows(pool, unknown);
      if (this.#known.size + unknown.length > MAX_KNOWN) this.#known.clear();
      for (const a of unknown) this.#known.add(`${shardId}:${a}`);
    }
    return readFences(pool, list, { lock: false });
  }

  /** Inside the write transaction: accounts whose rows must not be written (shared locks until commit). */
  check(conn: PoolConnection, accountIds: Iterable<number>): Promise<Map<number, Fence>> {
    return readFences(conn, accountIds, { lock: true });
  }

  /** The error of a refused request; forgets what this process cached about the account on that shard. */
  refuse(shards: ShardRegistry, store: ShardStore, f: Fence): RetryableError {
    shards.forgetAccount(f.accountId);
    store.dictionary.forgetAccount(f.accountId);
    store.forgetTables(f.accountId);
    const why = f.state === 'away' ? 'it has moved to another shard' : `it is being moved (move ${f.moveId ?? '?'})`;
    return new RetryableError(`cannot write account ${f.accountId} to shard ${store.shardId}: ${why}; retry`, 1);
  }
}
