import { sql } from 'kysely';
import type { Pool as PromisePool, PoolConnection } from 'mysql2/promise';
import { queryBuilder, selectOn, writeOn } from '../db/query-builder.js';
import type { FenceState, ShardDatabase } from './shard-database.js';

export type { FenceState } from './shard-database.js';

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

/**
 * Typed statements, compiled here and run on the caller's pool or connection: the writer reads fences
 * inside its own transaction (lib/shard/shard-writer-transaction.ts), the mover on its UTC connections.
 */
const db = queryBuilder<ShardDatabase>();
/** A fence row's lease runs (shard clock), and (blocksWrites in SQL) the row refuses writes. */
const LEASED = "(state = 'fenced' AND fenced_until > NOW(3))";
const BLOCKING = `(state = 'away' OR ${LEASED})`;
const leased = sql.raw<number>(LEASED);
const fenceRows = () => db.selectFrom('account_fences').select(['account_id', 'state', 'move_id', leased.as('leased')]);
const leaseEnd = (seconds: number) => sql<string>`NOW(3) + INTERVAL ${seconds} SECOND`;
const leaseHolds = sql<boolean>`fenced_until > NOW(3)`;

function toFence(r: { account_id: number; state: FenceState; move_id: number | null; leased: number }): Fence {
  return { accountId: Number(r.account_id), state: r.state, moveId: r.move_id === null ? null : Number(r.move_id), leased: Number(r.leased) === 1 };
}

/**
 * The accounts among `accountIds` whose writes are refused. With `lock` (the writer's check, inside its
 * transaction) it takes shared record locks held until the caller's transaction ends; without, it is
 * a plain consistent read (the writer's precheck, before it creates tables).
 */
export async function readFences(conn: PoolConnection | PromisePool, accountIds: Iterable<number>, opts: { lock: boolean }): Promise<Map<number, Fence>> {
  const q = fenceReadQuery(accountIds, opts);
  return q ? blockingFences(await selectOn(conn, q)) : new Map();
}

/** The read of readFences (undefined for no account), for a caller that runs it among other statements. */
export function fenceReadQuery(accountIds: Iterable<number>, opts: { lock: boolean }) {
  const list = ids(accountIds);
  if (list.length === 0) return undefined;
  const q = fenceRows().where('account_id', 'in', list);
  // LOCK IN SHARE MODE, not FOR SHARE: MariaDB knows only the former.
  return opts.lock ? q.modifyEnd(sql`LOCK IN SHARE MODE`) : q;
}

/**
 * The writer's locking read of fenceReadQuery, with the number of rows that refuse writes stored in the
 * session variable `into` instead of returned: the one-round-trip transaction's (shard-writer-one-trip.ts),
 * which the server checks before the rows. SUM reads (and locks) every row, as the plain read does.
 */
export function fenceLockIntoSql(accountIds: Iterable<number>, into: string): string {
  return `SELECT COALESCE(SUM(${BLOCKING}), 0) INTO ${into} FROM account_fences WHERE account_id IN (${ids(accountIds).join(', ')}) LOCK IN SHARE MODE`;
}

/** The fences among rows of fenceReadQuery that refuse writes. */
export function blockingFences(rows: readonly { account_id: number; state: FenceState; move_id: number | null; leased: number }[]): Map<number, Fence> {
  const out = new Map<number, Fence>();
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
  await writeOn(conn, db.insertInto('account_fences').ignore().values(list.map((id) => ({ account_id: id }))));
}

/** The fence row of an account (no lock); 'open' when there is none. */
export async function fenceOf(pool: PromisePool, accountId: number): Promise<Fence> {
  const [row] = await selectOn(pool, fenceRows().where('account_id', '=', accountId));
  return row ? toFence(row) : { accountId, state: 'open', moveId: null, leased: false };
}

/**
 * Fences the account for `leaseSeconds`: returns once every write transaction that could still write
 * its rows has ended. Throws on lock wait timeout (the caller retries).
 */
export async function fence(pool: PromisePool, accountId: number, moveId: number, leaseSeconds: number): Promise<void> {
  await ensureFenceRows(pool, [accountId]);
  await writeOn(pool, db.updateTable('account_fences').set({ state: 'fenced', move_id: moveId, fenced_until: leaseEnd(leaseSeconds) }).where('account_id', '=', accountId));
}

/** Extends a lease that still holds; false when it lapsed (writes may have gone through since). */
export async function extendLease(pool: PromisePool, accountId: number, moveId: number, leaseSeconds: number): Promise<boolean> {
  const res = await writeOn(
    pool,
    db
      .updateTable('account_fences')
      .set({ fenced_until: leaseEnd(leaseSeconds) })
      .where('account_id', '=', accountId)
      .where('move_id', '=', moveId)
      .where('state', '=', 'fenced')
      .where(leaseHolds),
  );
  return Number(res.affectedRows) === 1;
}

/**
 * 'fenced' → 'away' (permanent: the account lives elsewhere from now on) only if this move's lease
 * still holds, checked on the row itself; false when it lapsed. Idempotent for a row already 'away'
 * for this move.
 */
export async function markAway(pool: PromisePool, accountId: number, moveId: number): Promise<boolean> {
  const res = await writeOn(
    pool,
    db
      .updateTable('account_fences')
      .set({ state: 'away', fenced_until: null })
      .where('account_id', '=', accountId)
      .where('move_id', '=', moveId)
      .where('state', '=', 'fenced')
      .where(leaseHolds),
  );
  if (Number(res.affectedRows) === 1) return true;
  const f = await fenceOf(pool, accountId);
  return f.state === 'away' && f.moveId === moveId;
}

/** Sets the state outright (target before the switch: 'away'; switch and rollback: 'open'). */
export async function setFence(pool: PromisePool, accountId: number, state: FenceState, moveId: number | null): Promise<void> {
  await writeOn(
    pool,
    db
      .insertInto('account_fences')
      .values({ account_id: accountId, state, move_id: moveId, fenced_until: null })
      .onDuplicateKeyUpdate({ state: sql`VALUES(state)`, move_id: sql`VALUES(move_id)`, fenced_until: null }),
  );
}

/** Accounts with a fence row in a state other than 'open' (for `apm shards list`). */
export async function fencedAccounts(pool: PromisePool): Promise<Fence[]> {
  return (await selectOn(pool, fenceRows().where('state', '<>', 'open').orderBy('account_id'))).map(toFence);
}
