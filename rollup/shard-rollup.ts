import type { PoolConnection } from 'mysql2/promise';
import type { ShardStore } from '../lib/shard/shard-store.js';
import type { TableInfo } from '../lib/shard/shard-database.js';
import { tableName } from '../lib/shard/table-naming.js';
import type { DayTask, HourTask } from './rollup-plan.js';
import { dayStart } from './rollup-plan.js';
import { sealInTransaction } from './minute-seal.js';
import { recordsOf, rollupStatement, sourceCountStatement, type RollupStatement } from './rollup-sql.js';
import { readShardState, type ShardState } from './rollup-state.js';
import { prepareDistRollup, rollDistributions } from './dist-rollup.js';
import { dropDistTableOf } from '../lib/distribution/dist-tables.js';
import { DAY, HOUR, type DayPeriod, type DayState, type TableState } from './table-state.js';

/** What rolling one period did. */
export interface RollResult {
  /** False when the period needed nothing after all (another worker finished it, or it vanished). */
  rolled: boolean;
  /** The period had been rolled before (late data): a day that was 'dirty', an hour whose table was. */
  reroll: boolean;
  rowsRead: number;
  rowsWritten: number;
}

/**
 * The I/O of rollup on one shard, every statement on the connection holding the shard's rollup lock.
 * Each period is rolled in one transaction together with its state change, so a crash at any point
 * leaves either the old state (the period is rolled again, idempotently) or the new one: nothing is
 * ever half-counted.
 */
export class ShardRollup {
  constructor(
    readonly store: ShardStore,
    readonly conn: PoolConnection,
  ) {}

  /** The unfinished tables and days the planners need (rollup-state.ts); `closedBefore` narrows the read. */
  readState(closedBefore?: number): Promise<ShardState> {
    return readShardState(this.store, closedBefore);
  }

  /**
   * Minute table → the hour's rows in the month's hour table. First 'rolling' is committed, so late rows
   * arriving during the roll make the ShardWriter set 'dirty'. Then one transaction locks the minute
   * table's registry row — the ShardWriter's order too (registry, then rows: shard-writer-seal.ts), so
   * no late row comes in until it commits and the two never deadlock —, seals the whole hour (the
   * application rows of its minutes not sealed yet: minute-seal.ts), reads the minute rows, replaces
   * the hour's rows, sets 'done', marks the day pending (or dirty) and re-opens a sealed hour table.
   */
  async rollHour(task: HourTask): Promise<RollResult> {
    const none = { rolled: false, reroll: task.reroll, rowsRead: 0, rowsWritten: 0 };
    if (((await this.#registryState(task.source, false)) ?? 'done') === 'done') return none;
    await this.conn.query("UPDATE table_registry SET rollup_state = 'rolling' WHERE name = ? AND rollup_state IN ('open', 'dirty')", [task.source]);
    // Heals a registry row whose CREATE TABLE never ran (a crash inside ensureTable): it rolls as empty.
    await this.store.ensureTable(task.accountId, 'minute', task.period);
    const target = await this.store.ensureTable(task.accountId, 'hour', task.period);
    const dists = await prepareDistRollup(this.store, task.accountId, 'hour', task.period);
    return this.#transaction(async (abort) => {
      // Another worker (one that lost its lock with its connection) finished it meanwhile: nothing to do.
      if (((await this.#registryState(task.source, true)) ?? 'done') === 'done') return abort(none);
      await sealInTransaction(this.conn, { name: task.source, accountId: task.accountId, start: task.period, end: task.period + HOUR }, task.period + HOUR);
      const counts = await this.#roll(task.source, target, task.period, task.period + HOUR);
      await rollDistributions(this.conn, dists, task.period, task.period + HOUR);
      await this.conn.query("UPDATE table_registry SET rollup_state = 'done', rolled_at = CURRENT_TIMESTAMP(3) WHERE name = ?", [task.source]);
      await this.conn.query(
        "INSERT INTO rollup_days (account_id, day, state) VALUES (?, ?, 'pending') ON DUPLICATE KEY UPDATE state = IF(state = 'done', 'dirty', state)",
        [task.accountId, dayStart(task.period)],
      );
      await this.#reopen(target.name);
      return { rolled: true, reroll: task.reroll, ...counts };
    });
  }

  /** The day's rows of the month's hour table → one row per (metric, agent) in the year's day table. */
  async rollDay(task: DayTask): Promise<RollResult> {
    const target = await this.store.ensureTable(task.accountId, 'day', task.period);
    const source = await this.store.tableInfo(tableName('hour', task.accountId, task.period));
    const dists = await prepareDistRollup(this.store, task.accountId, 'day', task.period);
    return this.#transaction(async (abort) => {
      const [rows] = await this.conn.query<any[]>('SELECT state FROM rollup_days WHERE account_id = ? AND day = ? FOR UPDATE', [task.accountId, task.period]);
      const before = rows[0]?.state as DayState | undefined;
      if (before === 'done') return abort({ rolled: false, reroll: false, rowsRead: 0, rowsWritten: 0 });
      // No hour table: nothing was ever rolled into this day (its minute tables were empty).
      const counts = source ? await this.#roll(source.name, target, task.period, task.period + DAY) : { rowsRead: 0, rowsWritten: 0 };
      await rollDistributions(this.conn, dists, task.period, task.period + DAY);
      await this.conn.query(
        "INSERT INTO rollup_days (account_id, day, state, rolls, rolled_at) VALUES (?, ?, 'done', 1, CURRENT_TIMESTAMP(3)) " +
          "ON DUPLICATE KEY UPDATE state = 'done', rolls = rolls + 1, rolled_at = CURRENT_TIMESTAMP(3)",
        [task.accountId, task.period],
      );
      await this.#reopen(target.name);
      return { rolled: true, reroll: before === 'dirty', ...counts };
    });
  }

  /** Marks a finished hour or day table 'done' unless its state changed since it was read. */
  async seal(t: TableState): Promise<boolean> {
    const [r] = await this.conn.query<any>(
      "UPDATE table_registry SET rollup_state = 'done', rolled_at = CURRENT_TIMESTAMP(3) WHERE name = ? AND rollup_state = ?",
      [t.name, t.state],
    );
    return Number(r.affectedRows) > 0;
  }

  /** Drops a whole table if the registry (read fresh) still says it is 'done'. */
  async drop(t: TableState): Promise<boolean> {
    const info = await this.store.tableInfo(t.name);
    if (!info || info.rollupState !== 'done') return false;
    await this.store.dropTable(t.name);
    await dropDistTableOf(this.store, t.name);
    return true;
  }

  /** Rows of source with period in [from, to) → one row per (metric, agent) at `from` in target. */
  async #roll(source: string, target: TableInfo, from: number, to: number): Promise<{ rowsRead: number; rowsWritten: number }> {
    const [count] = await this.#query<any[]>(sourceCountStatement(source, from, to));
    const [res] = await this.#query<any>(rollupStatement(source, target.name, target.columns, from, from, to));
    const rowsRead = Number(count[0]?.n ?? 0);
    return { rowsRead, rowsWritten: recordsOf(res?.info, rowsRead === 0 ? 0 : Number(res?.affectedRows ?? 0)) };
  }

  #query<T>(s: RollupStatement): Promise<[T, unknown]> {
    return this.conn.query(s.sql, s.params) as Promise<[T, unknown]>;
  }

  /** A sealed hour/day table that receives rows again is open until sealed again. */
  async #reopen(name: string): Promise<void> {
    await this.conn.query("UPDATE table_registry SET rollup_state = 'dirty' WHERE name = ? AND rollup_state = 'done'", [name]);
  }

  /**
   * For an hour past its account's minute retention (issue #18 part 5): when its minute table no
   * longer holds every row the hour's rolled rows were made of (it was purged and re-created by late
   * data), rolling would replace those rows with the late part alone. Rows were lost when the hour
   * table has a key of that hour the minute table lacks, or (v2 hour tables) a `periods` count above
   * the minute rows the key has now (minute rows only ever grow, unless their table was dropped).
   * Then the minute table is set 'done' without rolling and this returns how many rows it held (left
   * out; the caller counts them); otherwise undefined and the hour is rolled as usual.
   */
  async retireIfLosing(task: HourTask): Promise<number | undefined> {
    const target = await this.store.tableInfo(tableName('hour', task.accountId, task.period));
    if (!target) return undefined;
    const [had] = await this.conn.query<any[]>(`SELECT COUNT(*) AS n FROM ${target.name} WHERE period = ?`, [task.period]);
    const targetKeys = Number(had[0]?.n ?? 0);
    if (targetKeys === 0) return undefined;
    const shrunk = target.columns.includes('periods') ? 'SUM(t.periods > s.n)' : '0';
    const [cmp] = await this.conn.query<any[]>(
      `SELECT COUNT(*) AS keys_, ${shrunk} AS shrunk, COALESCE(SUM(s.n), 0) AS rows_ FROM
         (SELECT metric_id, agent_id, COUNT(*) AS n FROM ${task.source} WHERE period >= ? AND period < ? GROUP BY metric_id, agent_id) s
       JOIN ${target.name} t ON t.metric_id = s.metric_id AND t.agent_id = s.agent_id AND t.period = ?`,
      [task.period, task.period + HOUR, task.period],
    );
    const losing = Number(cmp[0]?.shrunk ?? 0) > 0 || Number(cmp[0]?.keys_ ?? 0) < targetKeys;
    if (!losing) return undefined;
    const [count] = await this.conn.query<any[]>(`SELECT COUNT(*) AS n FROM ${task.source}`);
    await this.conn.query("UPDATE table_registry SET rollup_state = 'done', rolled_at = CURRENT_TIMESTAMP(3) WHERE name = ?", [task.source]);
    return Number(count[0]?.n ?? 0);
  }

  async #registryState(name: string, forUpdate: boolean): Promise<string | undefined> {
    const [rows] = await this.conn.query<any[]>(`SELECT rollup_state FROM table_registry WHERE name = ?${forUpdate ? ' FOR UPDATE' : ''}`, [name]);
    return rows[0]?.rollup_state as string | undefined;
  }

  /** Runs fn in a transaction; fn returns abort(value) to roll back instead of committing. */
  async #transaction<T>(fn: (abort: (value: T) => T) => Promise<T>): Promise<T> {
    let aborted = false;
    const abort = (value: T) => {
      aborted = true;
      return value;
    };
    await this.conn.query('START TRANSACTION');
    try {
      const out = await fn(abort);
      await this.conn.query(aborted ? 'ROLLBACK' : 'COMMIT');
      return out;
    } catch (err) {
      await this.conn.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }
}

export { readShardState, tableStateOf, type ShardState } from './rollup-state.js';
