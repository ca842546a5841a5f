import type { PoolConnection } from 'mysql2/promise';
import { assertId } from './table-naming.js';

/**
 * Reserves `n` consecutive per-account ids ('metric' or 'agent') in one statement and returns the
 * first. Ids are per account, so an account's rows keep their ids when it moves to another shard.
 * Ids reserved by a loser of an insert race are simply never used.
 */
export async function reserveIds(conn: PoolConnection, accountId: number, what: 'metric' | 'agent', n: number): Promise<number> {
  assertId('account id', accountId);
  const col = what === 'metric' ? 'next_metric_id' : 'next_agent_id';
  await conn.query('INSERT IGNORE INTO account_counters (account_id) VALUES (?)', [accountId]);
  const [res] = await conn.query<any>(`UPDATE account_counters SET ${col} = LAST_INSERT_ID(${col} + ?) WHERE account_id = ?`, [n, accountId]);
  const next = Number(res.insertId);
  if (!Number.isSafeInteger(next) || next < n + 1) throw new Error(`BUG: id reservation returned ${next} for ${n} ids`);
  return next - n;
}
