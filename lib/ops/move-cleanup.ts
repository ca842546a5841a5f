import { sql } from 'kysely';
import { selectOn, writeOn } from '../db/query-builder.js';
import { fenceOf, setFence, type FenceState } from '../shard/account-fence.js';
import type { TargetBefore } from './move-journal.js';
import { accountRowTables, copyAccountRows, deleteAccountRows } from './account-rows.js';
import { distTablesOn, dropDistTables } from './move-dist.js';
import { dropPeriodTables, periodTablesOn, report, shardSql, sleep, type MoveRun } from './move-context.js';

/**
 * After the switch: waits until no process can still read the account on its old shard (every cached
 * account → shard mapping has expired), carries over any id handed out on the old shard meanwhile (so
 * no id is ever reused), then drops the old tables and per-account rows. The old shard's fence row stays
 * 'away' for good (as does its id counter row), so a process that still tries gets 503 and looks again.
 * Every step is idempotent: an interrupted cleanup is simply resumed.
 */
export async function cleanupPhase(run: MoveRun): Promise<void> {
  const acct = run.move.accountId;
  report(run, 'switched', `waiting ${run.o.cleanupDelayMs} ms for cached shard lookups to expire`);
  await sleep(run.o.cleanupDelayMs);
  await run.lock.check();
  const tables = await accountRowTables(run.srcConn);
  const counters = tables.find((t) => t.mode === 'counters');
  if (counters) await copyAccountRows(run.srcConn, run.dstConn, counters, acct, { chunkRows: run.o.chunkRows });
  const names = await periodTablesOn(run.srcConn, acct);
  report(run, 'switched', `dropping ${names.length} old tables on shard ${run.move.fromShard}`);
  await writeOn(run.srcConn, shardSql.deleteFrom('table_registry').where('account_id', '=', acct));
  await dropPeriodTables(run.srcConn, acct, names);
  await dropDistTables(run.srcConn, acct, await distTablesOn(run.srcConn, acct), run.src);
  for (const t of tables) if (t.mode !== 'counters') await deleteAccountRows(run.srcConn, t.name, acct);
  run.src.forgetTables(acct);
  run.src.dictionary.forgetAccount(acct);
  await run.journal.finish(run.move.id, 'done');
  run.move.state = 'done';
  run.move.active = false;
  report(run, 'done');
}

/** The target's fence and id-counter rows of the account, recorded before a move touches it. */
export async function targetRowsOf(pool: import('mysql2/promise').Pool, accountId: number): Promise<TargetBefore> {
  const fences = await selectOn(pool, shardSql.selectFrom('account_fences').select(['state', 'move_id']).where('account_id', '=', accountId));
  const counters = await selectOn(pool, shardSql.selectFrom('account_counters').select(sql<number>`1`.as('one')).where('account_id', '=', accountId));
  const f = fences[0];
  return { fence: f ? { state: String(f.state), moveId: f.move_id === null ? null : Number(f.move_id) } : null, counters: counters.length > 0 };
}

/**
 * Rolls a move back while the directory still points at the source: the target forgets everything it
 * was given (tables, registry rows, per-account rows) and its fence and id-counter rows go back to what
 * they were before the move (none, for a target that never held the account), then the source's fence
 * is lifted if this move had raised it. The target stays 'away' while it forgets, so no writer can
 * write there meanwhile.
 */
export async function rollbackPhase(run: MoveRun): Promise<void> {
  const acct = run.move.accountId;
  await run.lock.check();
  await setFence(run.dst.pool, acct, 'away', run.move.id);
  await writeOn(run.dstConn, shardSql.deleteFrom('table_registry').where('account_id', '=', acct));
  await dropPeriodTables(run.dstConn, acct, await periodTablesOn(run.dstConn, acct));
  await dropDistTables(run.dstConn, acct, await distTablesOn(run.dstConn, acct), run.dst);
  for (const t of await accountRowTables(run.dstConn)) if (t.mode !== 'counters') await deleteAccountRows(run.dstConn, t.name, acct);
  const before = await run.journal.targetBefore(run.move.id);
  if (before) {
    if (!before.counters) await writeOn(run.dstConn, shardSql.deleteFrom('account_counters').where('account_id', '=', acct));
    if (before.fence === null) await writeOn(run.dstConn, shardSql.deleteFrom('account_fences').where('account_id', '=', acct).where('move_id', '=', run.move.id));
    else await setFence(run.dst.pool, acct, before.fence.state as FenceState, before.fence.moveId);
  }
  run.dst.forgetTables(acct);
  run.dst.dictionary.forgetAccount(acct);
  const f = await fenceOf(run.src.pool, acct);
  if (f.moveId === run.move.id && f.state !== 'open') await setFence(run.src.pool, acct, 'open', run.move.id);
  await run.journal.finish(run.move.id, 'rolled_back');
  run.move.state = 'rolled_back';
  run.move.active = false;
  report(run, 'rolled_back');
}
