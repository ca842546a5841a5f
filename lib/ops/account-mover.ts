import { anyRowSql } from './row-hash-sql.js';
import { sql } from 'kysely';
import type { RowDataPacket } from 'mysql2/promise';
import { selectOn } from '../db/query-builder.js';
import { ConflictError, InputError, NotFoundError, RetryableError } from '../errors.js';
import { ensureFenceRows, fenceOf, setFence } from '../shard/account-fence.js';
import { accountRowTables, deleteAccountRows } from './account-rows.js';
import { cleanupPhase, rollbackPhase, targetRowsOf } from './move-cleanup.js';
import { dropPeriodTables, periodTablesOn, resolveOptions, shardSql, SimulatedCrash, utcConnection, waitForRollupLock, type MoveRun, type MoverOptions, type ResolvedOptions } from './move-context.js';
import { copyPhase, syncPhase } from './move-copy.js';
import { distTablesOn, dropDistTables } from './move-dist.js';
import { MoveJournal, type Move, type MoveLock } from './move-journal.js';
import { recoveryOf, type Recovery } from './move-plan.js';
import type { RollupLock } from '../shard/rollup-lock.js';
import { commitSwitch, switchPhase } from './move-switch.js';
import { type Log } from '../log/log.js';

export { ConflictError };

export interface MoveStatus extends Move {
  recovery: Recovery;
}

/** A move under way: `done` settles when it finished, failed or was interrupted. */
export interface MoveHandle {
  move: Move;
  done: Promise<Move>;
}

/**
 * Moves accounts between shards while their agents keep writing (see docs/operations.md for the
 * protocol): closed tables copied in the background, everything compared under the source's rollup
 * lock, then a short switch behind a write fence, the directory switched, the old tables dropped.
 * Journaled in the directory, so an interrupted move is resumed or rolled back.
 */
export class AccountMover {
  readonly journal: MoveJournal;
  readonly #o: ResolvedOptions;

  constructor(opts: MoverOptions) {
    this.#o = resolveOptions(opts);
    this.journal = new MoveJournal(opts.directory.db.promise);
  }

  /** Moves the account and resolves when the move is done (or rejects where it stopped). */
  async move(accountId: number, toShard: number, signal?: AbortSignal, opts: { force?: boolean } = {}): Promise<Move> {
    return (await this.begin(accountId, toShard, signal, opts)).done;
  }

  /** Checks, journals and locks a new move, then runs it in the background. A closed target (a shard
   * being drained) is refused unless `force`. */
  async begin(accountId: number, toShard: number, signal?: AbortSignal, opts: { force?: boolean } = {}): Promise<MoveHandle> {
    const d = this.#o.directory;
    const account = await d.getAccount(accountId);
    if (account.shardId === toShard) throw new InputError(`cannot move account ${accountId}: it already lives on shard ${toShard}`);
    const target = await d.getShard(toShard);
    if (target.state !== 'open' && !opts.force) {
      throw new ConflictError(`cannot move account ${accountId} to shard ${toShard}: that shard is closed (taken out of the assignment queue, perhaps being drained); open it first (apm shards open ${toShard}) or move anyway with --force ("force": true in the admin API)`);
    }
    const active = await this.journal.active(accountId);
    if (active) throw new ConflictError(`cannot move account ${accountId}: ${(await this.#recovery(active)).message}`);
    const [src, dst] = await Promise.all([this.#store(account.shardId), this.#store(toShard)]);
    await this.#checkTarget(dst.pool, accountId, toShard);
    const move = await this.journal.create(accountId, account.shardId, toShard);
    const lock = await this.journal.lock(accountId);
    if (!lock) throw new ConflictError(`cannot move account ${accountId}: another process took move ${move.id} over`);
    let run: MoveRun;
    try {
      run = await this.#open(move, lock, signal);
    } catch (err) {
      await lock.release();
      throw err;
    }
    try {
      await this.journal.setTargetBefore(move.id, await targetRowsOf(dst.pool, accountId));
      for (const t of await accountRowTables(dst.pool)) if (t.mode !== 'counters') await deleteAccountRows(dst.pool, t.name, accountId);
      await setFence(dst.pool, accountId, 'away', move.id);
      await ensureFenceRows(src.pool, [accountId]);
    } catch (err) {
      await this.#close(run, lock, undefined);
      throw err;
    }
    this.#o.log.info(`move ${move.id}: account ${accountId} from shard ${move.fromShard} to shard ${toShard}`);
    return { move: { ...move }, done: this.#drive(run, lock) };
  }

  /** Continues the account's interrupted move from where it stopped. */
  async resume(accountId: number, signal?: AbortSignal): Promise<Move> {
    return (await this.beginResume(accountId, signal)).done;
  }

  async beginResume(accountId: number, signal?: AbortSignal): Promise<MoveHandle> {
    const { move, lock } = await this.#takeOver(accountId, 'resume');
    const account = await this.#o.directory.getAccount(accountId);
    if (account.shardId === move.toShard && move.state !== 'switched') {
      move.state = 'switched';
      await this.journal.update(move.id, { state: 'switched' });
    }
    let run: MoveRun;
    try {
      run = await this.#open(move, lock, signal);
    } catch (err) {
      await lock.release();
      throw err;
    }
    this.#o.log.info(`move ${move.id}: resuming (${move.state})`);
    return { move: { ...move }, done: this.#drive(run, lock) };
  }

  /** Undoes the account's interrupted move (only before the directory switch). */
  async rollback(accountId: number): Promise<Move> {
    const { move, lock } = await this.#takeOver(accountId, 'roll back');
    let run: MoveRun | undefined;
    try {
      const account = await this.#o.directory.getAccount(accountId);
      const r = recoveryOf(move, { running: false, accountShard: account.shardId });
      if (!r.canRollback) throw new ConflictError(`cannot roll back: ${r.message}`);
      run = await this.#open(move, lock);
      await rollbackPhase(run);
      this.#o.log.info(`move ${move.id}: rolled back`);
      return await this.journal.get(move.id);
    } finally {
      if (run) await this.#close(run, lock, undefined);
      else await lock.release();
    }
  }

  /** Moves with what can be done about each (newest first; unfinished ones first). */
  async status(opts: { accountId?: number; limit?: number } = {}): Promise<MoveStatus[]> {
    const moves = await this.journal.list(opts);
    return Promise.all(moves.map(async (m) => ({ ...m, recovery: await this.#recovery(m) })));
  }

  async #recovery(m: Move): Promise<Recovery> {
    if (!m.active) return recoveryOf(m, { running: false, accountShard: m.toShard });
    const [running, shard] = await Promise.all([
      this.journal.running(m.accountId),
      this.#o.directory.getAccount(m.accountId).then(
        (a) => a.shardId,
        (err: unknown) => {
          if (err instanceof NotFoundError) return m.fromShard; // the account is gone: nothing was switched for it
          throw err;
        },
      ),
    ]);
    return recoveryOf(m, { running, accountShard: shard });
  }

  async #takeOver(accountId: number, verb: string): Promise<{ move: Move; lock: MoveLock }> {
    await this.#o.directory.getAccount(accountId);
    const move = await this.journal.active(accountId);
    if (!move) throw new NotFoundError(`cannot ${verb} a move of account ${accountId}: it has no unfinished move`);
    const lock = await this.journal.lock(accountId);
    if (!lock) throw new ConflictError(`cannot ${verb} move ${move.id} of account ${accountId}: it is running in another process`);
    return { move: (await this.journal.active(accountId)) ?? move, lock };
  }

  async #store(shardId: number) {
    try {
      return await this.#o.shards.storeFor(shardId);
    } catch (err) {
      throw new RetryableError(`cannot reach shard ${shardId}: ${(err as Error).message}`, 10);
    }
  }

  /** Leftovers of the account on the target: empty tables are dropped; data or registry rows refuse the move. */
  async #checkTarget(pool: import('mysql2/promise').Pool, accountId: number, shardId: number): Promise<void> {
    const [reg] = await selectOn(pool, shardSql.selectFrom('table_registry').select(sql<number>`COUNT(*)`.as('n')).where('account_id', '=', accountId));
    if (Number(reg!.n) > 0) throw new ConflictError(`cannot move account ${accountId} to shard ${shardId}: that shard already has ${reg!.n} registered tables of the account`);
    const names = await periodTablesOn(pool, accountId);
    for (const n of names) {
      const [rows] = await pool.query<RowDataPacket[]>(anyRowSql(n));
      if (rows.length > 0) throw new ConflictError(`cannot move account ${accountId} to shard ${shardId}: that shard holds a table ${n} with data of the account (left from an earlier move?)`);
    }
    await dropPeriodTables(pool, accountId, names);
    const dists = await distTablesOn(pool, accountId);
    for (const n of dists) {
      const [rows] = await pool.query<RowDataPacket[]>(anyRowSql(n));
      if (rows.length > 0) throw new ConflictError(`cannot move account ${accountId} to shard ${shardId}: that shard holds a distribution table ${n} with data of the account (left from an earlier move?)`);
    }
    await dropDistTables(pool, accountId, dists);
  }

  async #open(move: Move, lock: MoveLock, signal?: AbortSignal): Promise<MoveRun> {
    const [src, dst] = await Promise.all([this.#store(move.fromShard), this.#store(move.toShard)]);
    const srcConn = await utcConnection(src);
    try {
      const dstConn = await utcConnection(dst);
      return { move, journal: this.journal, lock, src, dst, srcConn, dstConn, o: this.#o, ...(signal ? { signal } : {}) };
    } catch (err) {
      srcConn.release();
      throw err;
    }
  }

  async #close(run: MoveRun, lock: MoveLock, rollup: RollupLock | undefined): Promise<void> {
    await rollup?.release();
    run.srcConn.release();
    run.dstConn.release();
    await lock.release();
  }

  async #drive(run: MoveRun, lock: MoveLock): Promise<Move> {
    let rollup: RollupLock | undefined;
    try {
      if (run.move.state === 'copying') await copyPhase(run);
      if (run.move.state === 'syncing' || run.move.state === 'switching') {
        const f = await fenceOf(run.src.pool, run.move.accountId);
        if (run.move.state === 'switching' && f.state === 'away' && f.moveId === run.move.id) {
          // Stopped between marking the source 'away' and the directory switch: everything was verified.
          await commitSwitch(run, null, null);
        } else {
          rollup = await waitForRollupLock(run, run.src);
          await switchPhase(run, await syncPhase(run));
        }
      }
      if (run.move.state === 'switched') {
        rollup ??= await waitForRollupLock(run, run.src);
        await cleanupPhase(run);
      }
      await this.journal.update(run.move.id, { rowsCopied: run.move.rowsCopied });
      this.#o.log.info(`move ${run.move.id}: done (writes fenced ${run.move.fencedMs ?? '?'} ms, ${run.move.rowsCopied} rows copied)`);
      return await this.journal.get(run.move.id);
    } catch (err) {
      if (!(err instanceof SimulatedCrash)) {
        const message = (err as Error).message;
        this.#o.log.warn(`move ${run.move.id}: stopped while ${run.move.state}: ${message}`);
        await this.journal.update(run.move.id, { error: message }).catch(() => undefined);
      }
      throw err;
    } finally {
      await this.#close(run, lock, rollup);
    }
  }
}
