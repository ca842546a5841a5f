import type { Kysely } from 'kysely';
import type { ShardDatabase } from './shard-database.js';
import { assertId } from './table-naming.js';

/**
 * Reserves `n` consecutive per-account ids ('metric' or 'agent') in one statement and returns the
 * first. Ids are per account, so an account's rows keep their ids when it moves to another shard.
 * Ids reserved by a loser of an insert race are simply never used. `conn` must be one connection
 * (db.connection() or a transaction): the reservation is read back through LAST_INSERT_ID().
 */
export async function reserveIds(conn: Kysely<ShardDatabase>, accountId: number, what: 'metric' | 'agent', n: number): Promise<number> {
  assertId('account id', accountId);
  const col = what === 'metric' ? 'next_metric_id' : 'next_agent_id';
  await conn.insertInto('account_counters').ignore().values({ account_id: accountId }).execute();
  const res = await conn.executeQuery(
    conn
      .updateTable('account_counters')
      .set((eb) => ({ [col]: eb.fn<number>('LAST_INSERT_ID', [eb(col, '+', n)]) }))
      .where('account_id', '=', accountId)
      .compile(),
  );
  const next = Number(res.insertId);
  if (!Number.isSafeInteger(next) || next < n + 1) throw new Error(`BUG: id reservation returned ${next} for ${n} ids`);
  return next - n;
}
