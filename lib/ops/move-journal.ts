import { sql, type Kysely, type Selectable, type Updateable } from 'kysely';
import type { Pool as PromisePool } from 'mysql2/promise';
import { typedDb } from '../db/connect.js';
import { acquireNamedLock, namedLockHolder } from '../db/named-lock.js';
import { inTransaction } from '../db/query-builder.js';
import type { DirectoryDatabase } from '../directory/directory-database.js';
import { InputError } from '../errors.js';
import type { MoveState } from './move-plan.js';

/** One account move as journaled in the directory (schema/directory/0002-moves.sql). */
export interface Move {
  id: number;
  accountId: number;
  fromShard: number;
  toShard: number;
  state: MoveState;
  /** True until the move is done or rolled back. */
  active: boolean;
  tablesTotal: number;
  tablesDone: number;
  rowsCopied: number;
  /** Milliseconds the account's writes were fenced during the switch (null before it). */
  fencedMs: number | null;
  verified: VerifiedSummary | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

/** What the move compared before switching (both sides equal in every entry). */
export interface VerifiedSummary {
  tables: number;
  rows: number;
  accountRows: Record<string, number>;
  /** Distribution (percentile) tables and their rows compared equal. */
  distTables?: number;
  distRows?: number;
}

/** The target's fence row and id-counter row of the account before a move (null / false: none). */
export interface TargetBefore {
  fence: { state: string; moveId: number | null } | null;
  counters: boolean;
}

export type MovePatch = Partial<Pick<Move, 'state' | 'tablesTotal' | 'tablesDone' | 'rowsCopied' | 'fencedMs' | 'verified' | 'error'>>;

type MoveRow = Omit<Selectable<DirectoryDatabase['account_moves']>, 'target_before'>;

function toMove(r: MoveRow): Move {
  return {
    id: Number(r.id),
    accountId: Number(r.account_id),
    fromShard: Number(r.from_shard),
    toShard: Number(r.to_shard),
    state: r.state,
    active: r.active !== null && Number(r.active) === 1,
    tablesTotal: Number(r.tables_total),
    tablesDone: Number(r.tables_done),
    rowsCopied: Number(r.rows_copied),
    fencedMs: r.fenced_ms === null ? null : Number(r.fenced_ms),
    verified: r.verified ? (JSON.parse(r.verified) as VerifiedSummary) : null,
    error: r.error ?? null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at ?? null,
  };
}

const COLUMNS: Record<keyof MovePatch, keyof MoveRow> = {
  state: 'state',
  tablesTotal: 'tables_total',
  tablesDone: 'tables_done',
  rowsCopied: 'rows_copied',
  fencedMs: 'fenced_ms',
  verified: 'verified',
  error: 'error',
};

/** A held per-account move lock (a named lock on its own directory connection). */
export interface MoveLock {
  /** Throws when the lock is no longer held (its connection broke: another process may resume the move). */
  check(): Promise<void>;
  release(): Promise<void>;
}

/**
 * The moves journal on the directory database, and the per-account move lock: whoever runs a move
 * holds `GET_LOCK('<db>.move.<account>')` on a connection of its own, so a move is never run twice at
 * once, and a mover that dies releases it with its connection: an active move whose lock is free
 * was interrupted.
 */
export class MoveJournal {
  readonly #db: Kysely<DirectoryDatabase>;
  constructor(private readonly pool: PromisePool) {
    this.#db = typedDb<DirectoryDatabase>(pool);
  }

  #moves() {
    return this.#db.selectFrom('account_moves').select([
      'id', 'account_id', 'from_shard', 'to_shard', 'state', 'active', 'tables_total', 'tables_done', 'rows_copied',
      'fenced_ms', 'verified', 'error', 'created_at', 'updated_at', 'finished_at',
    ]);
  }

  /** Journals a new move; refuses when the account already has an unfinished one. */
  async create(accountId: number, fromShard: number, toShard: number): Promise<Move> {
    try {
      const r = await this.#db.insertInto('account_moves').values({ account_id: accountId, from_shard: fromShard, to_shard: toShard, state: 'copying' }).executeTakeFirstOrThrow();
      return this.get(Number(r.insertId));
    } catch (err) {
      if ((err as { errno?: number }).errno === 1062) {
        const active = await this.active(accountId);
        throw new InputError(`cannot move account ${accountId}: move ${active?.id ?? '?'} of this account is not finished`);
      }
      throw err;
    }
  }

  /** Records what the target held of the account before the move touched it (see move-cleanup.ts rollbackPhase). */
  async setTargetBefore(id: number, before: TargetBefore): Promise<void> {
    await this.#db.updateTable('account_moves').set({ target_before: JSON.stringify(before) }).where('id', '=', id).execute();
  }

  /** What setTargetBefore recorded; undefined for moves journaled before it existed. */
  async targetBefore(id: number): Promise<TargetBefore | undefined> {
    const row = await this.#db.selectFrom('account_moves').select('target_before').where('id', '=', id).executeTakeFirst();
    const text = row?.target_before;
    return typeof text === 'string' ? (JSON.parse(text) as TargetBefore) : undefined;
  }

  async get(id: number): Promise<Move> {
    const row = await this.#moves().where('id', '=', id).executeTakeFirst();
    if (!row) throw new Error(`BUG: move ${id} missing from the journal`);
    return toMove(row);
  }

  async find(id: number): Promise<Move | undefined> {
    const row = await this.#moves().where('id', '=', id).executeTakeFirst();
    return row ? toMove(row) : undefined;
  }

  /** The account's unfinished move, if any. */
  async active(accountId: number): Promise<Move | undefined> {
    const row = await this.#moves().where('account_id', '=', accountId).where('active', '=', 1).executeTakeFirst();
    return row ? toMove(row) : undefined;
  }

  /** Moves, newest first (unfinished ones of any age always included). */
  async list(opts: { accountId?: number; limit?: number } = {}): Promise<Move[]> {
    const limit = Math.max(1, Math.min(opts.limit ?? 50, 1000));
    let q = this.#moves();
    if (opts.accountId !== undefined) q = q.where('account_id', '=', opts.accountId);
    const rows = await q.orderBy(sql`active IS NULL`).orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toMove);
  }

  async update(id: number, patch: MovePatch): Promise<void> {
    const set: Updateable<DirectoryDatabase['account_moves']> = {};
    for (const [k, col] of Object.entries(COLUMNS) as Array<[keyof MovePatch, keyof MoveRow]>) {
      if (!(k in patch)) continue;
      const v = patch[k];
      (set as Record<string, unknown>)[col] = k === 'verified' && v !== null ? JSON.stringify(v) : v;
    }
    if (Object.keys(set).length === 0) return;
    await this.#db.updateTable('account_moves').set(set).where('id', '=', id).execute();
  }

  /** Ends a move ('done' or 'rolled_back'): it no longer blocks a new move of the account. */
  async finish(id: number, state: 'done' | 'rolled_back'): Promise<void> {
    await this.#db
      .updateTable('account_moves')
      .set({ state, active: null, error: null, finished_at: sql<string>`CURRENT_TIMESTAMP(3)` })
      .where('id', '=', id)
      .execute();
  }

  /**
   * The switch in the directory: the account points at the new shard and the move is 'switched', in
   * one transaction (a crash leaves either both or neither). Only from the move's source shard.
   */
  async switchAccount(move: Move, fencedMs: number | null): Promise<void> {
    await inTransaction(this.#db, async (trx) => {
      const r = await trx
        .updateTable('accounts')
        .set({ shard_id: move.toShard })
        .where('id', '=', move.accountId)
        .where('shard_id', '=', move.fromShard)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) throw new Error(`cannot switch account ${move.accountId}: it is no longer on shard ${move.fromShard}`);
      await trx.updateTable('account_moves').set({ state: 'switched', fenced_ms: fencedMs }).where('id', '=', move.id).execute();
    });
  }

  /** Takes the account's move lock without waiting; undefined when another process holds it. */
  async lock(accountId: number): Promise<MoveLock | undefined> {
    const held = await acquireNamedLock(this.pool, `.move.${accountId}`, 0);
    if (!held) return undefined;
    return {
      async check() {
        await held.check().catch(() => {
          throw new Error(`cannot continue the move of account ${accountId}: its move lock was lost (another process may have taken the move over)`);
        });
      },
      release: () => held.release(),
    };
  }


  /** True when some process holds the account's move lock (its move is running, not interrupted). */
  async running(accountId: number): Promise<boolean> {
    return (await namedLockHolder(this.pool, `.move.${accountId}`)) !== undefined;
  }
}
