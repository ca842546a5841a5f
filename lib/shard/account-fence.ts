import type { Pool as PromisePool, PoolConnection } from 'mysql2/promise';

/**
 * The per-account write fence of online moves (table `account_fences` on every shard,
 * schema/shard/0006-operations.sql).
 *
 * Protocol: the ShardWriter reads the fence rows of a batch's accounts with LOCK IN SHARE MODE as the
 * first statement of every write transaction (`readFences`) and writes nothing for an account that is
 * not open. A mover fences an account with an UPDATE of its row: InnoDB makes the UPDATE wait until
 * every transaction holding the shared lock has committed, and queues later shared locks behind it,
 * so once `fence()` returns no transaction in flight can still write the account's rows on this shard,
 * and every later one sees the fence. No clock, TTL or cache is involved, in any number of processes.
 *
 * Rows always exist before a writer reads them (`ensureFenceRows`, once per process, shard and
 * account): a locking read of a missing row would take a gap lock, and gap locks do not queue, so a
 * mover's INSERT could starve under continuous load. With rows present the reads take record locks only.
 *
 * A 'fenced' state holds only while its lease (`fenced_until`, the shard's own clock) runs: a mover that
 * dies mid-switch never blocks an account for longer than the lease. The mover extends the lease while
 * it works and turns 'fenced' into 'away' only if the lease still holds (`markAway`), atomically on the
 * same row, so a lease that lapsed (and let writes through) is always noticed.
 */
export type FenceState = 'open' | 'fenced' | 'away';

export interface Fence {
  accountId: number;
  state: FenceState;
  moveId: number | null;
  /** True when the state is 'fenced' and its lease has not run out (shard clock). */
  leased: boolean;
}

/** True when writes of the account must be refused on this shard. */
export function blocksWrites(f: Pick<Fence, 'state' | 'leased'>): boolean {
  return f.state === 'away' || (f.state === 'fenced' && f.leased);
}

function ids(accountIds: Iterable<number>): number[] {
  const list = [...new Set(accountIds)];
  for (const id of list) if (!Number.isSafeInteger(id) || id <= 0) throw new Error(`BUG: account id must be a positive integer, got ${id}`);
  return list;
}

function toFence(r: any): Fence {
  return { accountId: Number(r.account_id), state: r.state as FenceState, moveId: r.move_id === null ? null : Number(r.move_id), leased: Number(r.leased) === 1 };
}

/**
 * The accounts among `accountIds` whose writes are refused. With `lock` (the writer's check, inside its
 * transaction) it takes shared record locks held until the caller's transaction ends; without, it is
 * a plain consistent read (the writer's precheck, before it creates tables).
 */
export async function readFences(conn: PoolConnection | PromisePool, accountIds: Iterable<number>, opts: { lock: boolean }): Promise<Map<number, Fence>> {
  const list = ids(accountIds);
  const out = new Map<number, Fence>();
  if (list.length === 0) return out;
  const [rows] = await conn.query<any[]>(
    `SELECT account_id, state, move_id, (state = 'fenced' AND fenced_until > NOW(3)) AS leased FROM account_fences WHERE account_id IN (${list.map(() => '?').join(', ')})${opts.lock ? ' LOCK IN SHARE MODE' : ''}`,
    list,
  );
  for (const r of rows) {
    const f = toFence(r);
    if (blocksWrites(f)) out.set(f.accountId, f);
  }
  return out;
}

/** Creates missing fence rows ('open'); run outside any transaction, before the first read. */
export async function ensureFenceRows(conn: PoolConnection | PromisePool, accountIds: Iterable<number>): Promise<void> {
  const list = ids(accountIds);
  if (list.length === 0) return;
  await conn.query(`INSERT IGNORE INTO account_fences (account_id) VALUES ${list.map(() => '(?)').join(', ')}`, list);
}

/** The fence row of an account (no lock); 'open' when there is none. */
export async function fenceOf(pool: PromisePool, accountId: number): Promise<Fence> {
  const [rows] = await pool.query<any[]>(
    "SELECT account_id, state, move_id, (state = 'fenced' AND fenced_until > NOW(3)) AS leased FROM account_fences WHERE account_id = ?",
    [accountId],
  );
  return rows[0] ? toFence(rows[0]) : { accountId, state: 'open', moveId: null, leased: false };
}

/**
 * Fences the account for `leaseSeconds`: returns once every write transaction that could still write
 * its rows has ended. Throws on lock wait timeout (the caller retries).
 */
export async function fence(pool: PromisePool, accountId: number, moveId: number, leaseSeconds: number): Promise<void> {
  await ensureFenceRows(pool, [accountId]);
  await pool.query(
    "UPDATE account_fences SET state = 'fenced', move_id = ?, fenced_until = NOW(3) + INTERVAL ? SECOND WHERE account_id = ?",
    [moveId, leaseSeconds, accountId],
  );
}

/** Extends a lease that still holds; false when it lapsed (writes may have gone through since). */
export async function extendLease(pool: PromisePool, accountId: number, moveId: number, leaseSeconds: number): Promise<boolean> {
  const [res] = await pool.query<any>(
    "UPDATE account_fences SET fenced_until = NOW(3) + INTERVAL ? SECOND WHERE account_id = ? AND move_id = ? AND state = 'fenced' AND fenced_until > NOW(3)",
    [leaseSeconds, accountId, moveId],
  );
  return Number(res.affectedRows) === 1;
}

/**
 * 'fenced' → 'away' (permanent: the account lives elsewhere from now on) only if this move's lease
 * still holds, checked on the row itself; false when it lapsed. Idempotent for a row already 'away'
 * for this move.
 */
export async function markAway(pool: PromisePool, accountId: number, moveId: number): Promise<boolean> {
  const [res] = await pool.query<any>(
    "UPDATE account_fences SET state = 'away', fenced_until = NULL WHERE account_id = ? AND move_id = ? AND state = 'fenced' AND fenced_until > NOW(3)",
    [accountId, moveId],
  );
  if (Number(res.affectedRows) === 1) return true;
  const f = await fenceOf(pool, accountId);
  return f.state === 'away' && f.moveId === moveId;
}

/** Sets the state outright (target before the switch: 'away'; switch and rollback: 'open'). */
export async function setFence(pool: PromisePool, accountId: number, state: FenceState, moveId: number | null): Promise<void> {
  await pool.query(
    'INSERT INTO account_fences (account_id, state, move_id, fenced_until) VALUES (?, ?, ?, NULL) ON DUPLICATE KEY UPDATE state = VALUES(state), move_id = VALUES(move_id), fenced_until = NULL',
    [accountId, state, moveId],
  );
}

/** Accounts with a fence row in a state other than 'open' (for `apm shards list`). */
export async function fencedAccounts(pool: PromisePool): Promise<Fence[]> {
  const [rows] = await pool.query<any[]>(
    "SELECT account_id, state, move_id, (state = 'fenced' AND fenced_until > NOW(3)) AS leased FROM account_fences WHERE state <> 'open' ORDER BY account_id",
  );
  return rows.map(toFence);
}
