import { acquireNamedLock } from '../db/named-lock.js';
import type { Pool as PromisePool } from 'mysql2/promise';
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

function toMove(r: any): Move {
  return {
    id: Number(r.id),
    accountId: Number(r.account_id),
    fromShard: Number(r.from_shard),
    toShard: Number(r.to_shard),
    state: r.state as MoveState,
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

const COLUMNS: Record<keyof MovePatch, string> = {
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
  constructor(private readonly pool: PromisePool) {}

  /** Journals a new move; refuses when the account already has an unfinished one. */
  async create(accountId: number, fromShard: number, toShard: number): Promise<Move> {
    try {
      const [res] = await this.pool.query<any>(
        "INSERT INTO account_moves (account_id, from_shard, to_shard, state) VALUES (?, ?, ?, 'copying')",
        [accountId, fromShard, toShard],
      );
      return this.get(Number(res.insertId));
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
    await this.pool.query('UPDATE account_moves SET target_before = ? WHERE id = ?', [JSON.stringify(before), id]);
  }

  /** What setTargetBefore recorded; undefined for moves journaled before it existed. */
  async targetBefore(id: number): Promise<TargetBefore | undefined> {
    const [rows] = await this.pool.query<any[]>('SELECT target_before FROM account_moves WHERE id = ?', [id]);
    const text = rows[0]?.target_before;
    return typeof text === 'string' ? (JSON.parse(text) as TargetBefore) : undefined;
  }

  async get(id: number): Promise<Move> {
    const [rows] = await this.pool.query<any[]>('SELECT * FROM account_moves WHERE id = ?', [id]);
    if (!rows[0]) throw new Error(`BUG: move ${id} missing from the journal`);
    return toMove(rows[0]);
  }

  async find(id: number): Promise<Move | undefined> {
    const [rows] = await this.pool.query<any[]>('SELECT * FROM account_moves WHERE id = ?', [id]);
    return rows[0] ? toMove(rows[0]) : undefined;
  }

  /** The account's unfinished move, if any. */
  async active(accountId: number): Promise<Move | undefined> {
    const [rows] = await this.pool.query<any[]>('SELECT * FROM account_moves WHERE account_id = ? AND active = 1', [accountId]);
    return rows[0] ? toMove(rows[0]) : undefined;
  }

  /** Moves, newest first (unfinished ones of any age always included). */
  async list(opts: { accountId?: number; limit?: number } = {}): Promise<Move[]> {
    const limit = Math.max(1, Math.min(opts.limit ?? 50, 1000));
    const where = opts.accountId === undefined ? '' : 'WHERE account_id = ?';
    const [rows] = await this.pool.query<any[]>(
      `SELECT * FROM account_moves ${where} ORDER BY active IS NULL, id DESC LIMIT ${limit}`,
      opts.accountId === undefined ? [] : [opts.accountId],
    );
    return rows.map(toMove);
  }

  async update(id: number, patch: MovePatch): Promise<void> {
    const sets: string[] = [];
    const params: unknown[] = [];
    for (const [k, col] of Object.entries(COLUMNS) as Array<[keyof MovePatch, string]>) {
      if (!(k in patch)) continue;
      const v = patch[k];
      sets.push(`${col} = ?`);
      params.push(k === 'verified' && v !== null ? JSON.stringify(v) : v);
    }
    if (sets.length === 0) return;
    await this.pool.query(`UPDATE account_moves SET ${sets.join(', ')} WHERE id = ?`, [...params, id]);
  }

  /** Ends a move ('done' or 'rolled_back'): it no longer blocks a new move of the account. */
  async finish(id: number, state: 'done' | 'rolled_back'): Promise<void> {
    await this.pool.query('UPDATE account_moves SET state = ?, active = NULL, error = NULL, finished_at = CURRENT_TIMESTAMP(3) WHERE id = ?', [state, id]);
  }

  /**
   * The switch in the directory: the account points at the new shard and the move is 'switched', in
   * one transaction (a crash leaves either both or neither). Only from the move's source shard.
   */
  async switchAccount(move: Move, fencedMs: number | null): Promise<void> {
    const conn = await this.pool.getConnection();
    try {
      await conn.beginTransaction();
      const [res] = await conn.query<any>('UPDATE accounts SET shard_id = ? WHERE id = ? AND shard_id = ?', [move.toShard, move.accountId, move.fromShard]);
      if (Number(res.affectedRows) !== 1) throw new Error(`cannot switch account ${move.accountId}: it is no longer on shard ${move.fromShard}`);
      await conn.query("UPDATE account_moves SET state = 'switched', fenced_ms = ? WHERE id = ?", [fencedMs, move.id]);
      await conn.commit();
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      throw err;
    } finally {
      conn.release();
    }
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
    const [rows] = await this.pool.query<any[]>('SELECT IS_USED_LOCK(CONCAT(DATABASE(), ?)) AS holder', [`.move.${accountId}`]);
    return rows[0]?.holder !== null && rows[0]?.holder !== undefined;
  }
}
