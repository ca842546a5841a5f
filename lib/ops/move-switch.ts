import { writeOn } from '../db/query-builder.js';
import { extendLease, fence, fenceOf, markAway, setFence } from '../shard/account-fence.js';
import { accountRowTables, copyAccountRows, type AccountRowTable } from './account-rows.js';
import { checkpoint, dropPeriodTables, periodTableOf, periodTablesOn, readRegistry, report, shardSql, sleep, waitForRollupLock, type MoveRun } from './move-context.js';
import type { SyncSnapshot } from './move-copy.js';
import type { VerifiedSummary } from './move-journal.js';
import { fencedDistSync, preFenceDistPass } from './move-dist.js';
import { fenceDelta } from './move-plan.js';
import { candidatesOf, preFencePass, updateTimes } from './move-prefence.js';
import { ident } from './row-hash-sql.js';
import { copyRows, syncPeriodTable, tableColumns } from './table-sync.js';
import { type Log } from '../log/log.js';

/** The fence's lease lapsed before the switch finished: writes may have gone through; start again. */
class LeaseLost extends Error {
  override readonly name = 'LeaseLost';
}

const LOCK_WAIT_TIMEOUT = 1205;
const DEADLOCK = 1213;

/** Fences the account on the source, retrying lock waits (a long write transaction in flight). */
async function raiseFence(run: MoveRun): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await fence(run.src.pool, run.move.accountId, run.move.id, run.o.leaseSeconds);
      return;
    } catch (err) {
      const errno = (err as { errno?: number }).errno ?? 0;
      if (attempt >= 5 || (errno !== LOCK_WAIT_TIMEOUT && errno !== DEADLOCK)) throw err;
    }
  }
}

/** Keeps the lease at least two thirds full; throws LeaseLost when it had already lapsed. */
function leaseKeeper(run: MoveRun): () => Promise<void> {
  let last = Date.now();
  return async () => {
    if (Date.now() - last < (run.o.leaseSeconds * 1000) / 3) return;
    if (!(await extendLease(run.src.pool, run.move.accountId, run.move.id, run.o.leaseSeconds))) throw new LeaseLost(`the write fence of move ${run.move.id} lapsed`);
    last = Date.now();
  };
}

/** Margin before the pre-copy for insert-only rows stamped by transactions then in flight (seconds). */
const PRECOPY_MARGIN_SECONDS = 120;

/**
 * Per-account rows inside the fence: copied until both sides compare equal. The first round of an
 * insert-only table with an insert stamp copies only rows stamped since the pre-copy (minus a margin),
 * later rounds everything. Another process may still add dictionary names on the source for a request
 * the fence will refuse (its cache of the account's shard lives up to 2 s), so a few rounds are
 * allowed; insert-only tables that still differ are replaced.
 */
async function convergeRows(run: MoveRun, tables: AccountRowTable[], since: number, keep: () => Promise<void>): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const t of tables) {
    for (let round = 1; ; round++) {
      const r = await copyAccountRows(run.srcConn, run.dstConn, t, run.move.accountId, { chunkRows: run.o.chunkRows, replace: round > 2, ...(round === 1 ? { since: since - PRECOPY_MARGIN_SECONDS } : {}) });
      run.move.rowsCopied += r.rows;
      if (r.equal) {
        if (r.sourceRows !== undefined) counts[t.name] = r.sourceRows;
        break;
      }
      if (round >= 20) throw new Error(`cannot verify ${t.name} rows of account ${run.move.accountId}: source and target still differ after ${round} copies`);
      await keep();
      await sleep(250);
    }
  }
  return counts;
}

/**
 * Registry rows of the account to the target. A table registered on the source after the registry was
 * read (a writer that passed its precheck just before the fence and was then refused) is empty: it
 * gets an empty table on the target too, so every registered name exists.
 */
async function copyRegistry(run: MoveRun): Promise<void> {
  const acct = run.move.accountId;
  const columns = await tableColumns(run.srcConn, 'table_registry');
  await writeOn(run.dstConn, shardSql.deleteFrom('table_registry').where('account_id', '=', acct));
  await copyRows(run.srcConn, run.dstConn, { table: 'table_registry', columns, keys: ['name'], where: { sql: 'account_id = ?', params: [acct] } }, { mode: 'insert', chunkRows: run.o.chunkRows });
  const present = new Set(await periodTablesOn(run.dstConn, acct));
  for (const t of await readRegistry(run.srcConn, acct)) {
    if (present.has(t.name)) continue;
    const p = periodTableOf(run.src, run.dst, t);
    await run.dstConn.query(`CREATE TABLE IF NOT EXISTS ${ident(p.name)} LIKE ${ident(p.template)}`);
  }
}

/** One attempt: compare again, fence, catch up the delta, compare, hand over. Returns how long writes were fenced (ms). */
async function attempt(run: MoveRun, snap: SyncSnapshot): Promise<{ fencedMs: number; verified: VerifiedSummary }> {
  const acct = run.move.accountId;
  const pre = await preFencePass(run, snap);
  const distPre = await preFenceDistPass(run, snap.dist);
  report(run, 'switching', 'fencing writes');
  await run.lock.check();
  const started = Date.now();
  await raiseFence(run);
  checkpoint(run, 'fenced');
  const keep = leaseKeeper(run);
  const current = await readRegistry(run.srcConn, acct);
  const candidates = candidatesOf(snap, current);
  const recheck = new Set(fenceDelta(candidates, { equal: new Set(pre.equal.keys()), registry: pre.registry, startedAt: pre.startedAt }, current, await updateTimes(run.srcConn, candidates)));
  // Rows per table as last compared equal: in the sync pass, just before the fence, or again here.
  const verifiedRows = new Map([...snap.equal, ...pre.equal]);
  for (const t of current) {
    if (!recheck.has(t.name)) continue;
    const r = await syncPeriodTable(run.srcConn, run.dstConn, periodTableOf(run.src, run.dst, t), { chunkRows: run.o.chunkRows, verify: true, onRows: (n) => (run.move.rowsCopied += n) });
    if (!r.equal) throw new Error(`cannot verify table ${t.name}: source and target differ after copying it behind the write fence`);
    verifiedRows.set(t.name, r.source.rows);
    await keep();
  }
  let rows = 0;
  for (const t of current) rows += verifiedRows.get(t.name) ?? 0;
  const names = new Set(current.map((t) => t.name));
  await dropPeriodTables(run.dstConn, acct, (await periodTablesOn(run.dstConn, acct)).filter((n) => !names.has(n)));
  const dist = await fencedDistSync(run, distPre);
  await keep();
  const accountRows = await convergeRows(run, await accountRowTables(run.srcConn), snap.rowsCopiedAt, keep);
  await copyRegistry(run);
  await keep();
  await setFence(run.dst.pool, acct, 'open', run.move.id);
  if (!(await markAway(run.src.pool, acct, run.move.id))) throw new LeaseLost(`the write fence of move ${run.move.id} lapsed before the switch`);
  checkpoint(run, 'away');
  return { fencedMs: Date.now() - started, verified: { tables: current.length, rows, accountRows, distTables: dist.tables, distRows: dist.rows } };
}

/** Undoes a failed attempt while the directory still points at the source. */
async function undoAttempt(run: MoveRun): Promise<void> {
  const acct = run.move.accountId;
  await setFence(run.dst.pool, acct, 'away', run.move.id);
  await writeOn(run.dstConn, shardSql.deleteFrom('table_registry').where('account_id', '=', acct));
  await writeOn(run.dstConn, shardSql.deleteFrom('dist_tables').where('account_id', '=', acct));
  const f = await fenceOf(run.src.pool, acct);
  if (f.moveId === run.move.id && f.state !== 'open') await setFence(run.src.pool, acct, 'open', run.move.id);
}

/**
 * The switch: writes of the account are fenced on the source (503 to agents, which resend), the open
 * period and every table that may have changed since the sync pass are compared and repaired, the
 * per-account rows caught up, both sides verified equal, the registry handed over, the target opened,
 * the source marked 'away', and the directory switched in one transaction. On failure before the
 * directory switch everything is undone and the attempt repeated (up to switchAttempts).
 */
export async function switchPhase(run: MoveRun, snap: SyncSnapshot): Promise<void> {
  // The target's rollup stays away from the account's tables until the directory points there (a
  // failed attempt then finds them as it left them). Waited for at most a minute: two moves in
  // opposite directions would otherwise wait for each other's lock until both gave up.
  const targetRollup = await waitForRollupLock(run, run.dst, Math.min(60, run.o.rollupLockWaitSeconds));
  try {
    await switchAttempts(run, snap);
  } finally {
    await targetRollup.release();
  }
}

async function switchAttempts(run: MoveRun, snap: SyncSnapshot): Promise<void> {
  for (let n = 1; ; n++) {
    let result: { fencedMs: number; verified: VerifiedSummary };
    try {
      result = await attempt(run, snap);
    } catch (err) {
      if ((err as Error).name === 'SimulatedCrash') throw err;
      await undoAttempt(run).catch((e: Error) => run.o.log.warn(`move ${run.move.id}: cannot undo the switch attempt: ${e.message}`));
      if (n >= run.o.switchAttempts) throw err;
      run.o.log.error(`move ${run.move.id}: switch attempt ${n} failed (${(err as Error).message}); trying again`);
      continue;
    }
    await commitSwitch(run, result.fencedMs, result.verified);
    return;
  }
}

/**
 * The directory switch. If its outcome is unknown (connection lost at COMMIT), the directory is read
 * again: the account's shard says which way it went.
 */
export async function commitSwitch(run: MoveRun, fencedMs: number | null, verified: VerifiedSummary | null): Promise<void> {
  await run.journal.update(run.move.id, { rowsCopied: run.move.rowsCopied, ...(verified ? { verified } : {}) });
  await run.lock.check();
  try {
    await run.journal.switchAccount(run.move, fencedMs);
  } catch (err) {
    // Unknown outcome: the directory says. Still on the source: reopen it (no outage); unreadable: leave
    // the source 'away' (the switch may have happened) for resume or rollback to settle.
    const account = await run.o.directory.getAccount(run.move.accountId);
    if (account.shardId !== run.move.toShard) {
      await undoAttempt(run);
      throw err;
    }
  }
  run.move.state = 'switched';
  run.move.fencedMs = fencedMs;
  run.o.shards.forgetAccount(run.move.accountId);
  report(run, 'switched');
  checkpoint(run, 'switched');
}
