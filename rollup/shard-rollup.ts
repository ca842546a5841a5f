import type { PoolConnection } from 'mysql2/promise';
import { sql } from 'kysely';
import { queryBuilder, selectOn, writeOn } from '../lib/db/query-builder.js';
import type { ShardStore } from '../lib/shard/shard-store.js';
import type { ShardDatabase, TableInfo } from '../lib/shard/shard-database.js';
import { tableName } from '../lib/shard/table-naming.js';
import type { DayTask, HourTask } from './rollup-plan.js';
import { dayStart } from './rollup-plan.js';
import { sealInTransaction } from './minute-seal.js';
import {
  countStatement, lossCheckStatement, recordsOf, rollupStatement, selectRows, sourceCountStatement, writeRows, type CountRow, type LossCheckRow,
} from './rollup-sql.js';
import { readShardState, type ShardState } from './rollup-state.js';
import { prepareDistRollup, rollDistributions } from './dist-rollup.js';
import { dropDistTableOf } from '../lib/distribution/dist-tables.js';
import { DAY, HOUR, type DayPeriod, type DayState, type TableState } from './table-state.js';

const shardSql = queryBuilder<ShardDatabase>();
const now3 = sql<string>`CURRENT_TIMESTAMP(3)`;

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
    await writeOn(this.conn, shardSql.updateTable('table_registry').set({ rollup_state: 'rolling' }).where('name', '=', task.source).where('rollup_state', 'in', ['open', 'dirty']));
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
      await writeOn(this.conn, shardSql.updateTable('table_registry').set({ rollup_state: 'done', rolled_at: now3 }).where('name', '=', task.source));
      await writeOn(
        this.conn,
        shardSql
          .insertInto('rollup_days')
          .values({ account_id: task.accountId, day: dayStart(task.period), state: 'pending' })
          .onDuplicateKeyUpdate({ state: sql<DayState>`IF(state = 'done', 'dirty', state)` }),
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
      const [row] = await selectOn(this.conn, shardSql.selectFrom('rollup_days').select('state').where('account_id', '=', task.accountId).where('day', '=', task.period).forUpdate());
      const before: DayState | undefined = row?.state;
      if (before === 'done') return abort({ rolled: false, reroll: false, rowsRead: 0, rowsWritten: 0 });
      // No hour table: nothing was ever rolled into this day (its minute tables were empty).
      const counts = source ? await this.#roll(source.name, target, task.period, task.period + DAY) : { rowsRead: 0, rowsWritten: 0 };
      await rollDistributions(this.conn, dists, task.period, task.period + DAY);
      await writeOn(
        this.conn,
        shardSql
          .insertInto('rollup_days')
          .values({ account_id: task.accountId, day: task.period, state: 'done', rolls: 1, rolled_at: now3 })
          .onDuplicateKeyUpdate({ state: 'done', rolls: sql<number>`rolls + 1`, rolled_at: now3 }),
      );
      await this.#reopen(target.name);
      return { rolled: true, reroll: before === 'dirty', ...counts };
    });
  }

  /** Marks a finished hour or day table 'done' unless its state changed since it was read. */
  async seal(t: TableState): Promise<boolean> {
    const r = await writeOn(
      this.conn,
      shardSql.updateTable('table_registry').set({ rollup_state: 'done', rolled_at: now3 }).where('name', '=', t.name).where('rollup_state', '=', t.state),
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
    const [count] = await selectRows<CountRow>(this.conn, sourceCountStatement(source, from, to));
    const res = await writeRows(this.conn, rollupStatement(source, target.name, target.columns, from, from, to));
    const rowsRead = Number(count?.n ?? 0);
    return { rowsRead, rowsWritten: recordsOf(res.info, rowsRead === 0 ? 0 : Number(res.affectedRows)) };
  }

  /** A sealed hour/day table that receives rows again is open until sealed again. */
  async #reopen(name: string): Promise<void> {
    await writeOn(this.conn, shardSql.updateTable('table_registry').set({ rollup_state: 'dirty' }).where('name', '=', name).where('rollup_state', '=', 'done'));
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
    const [had] = await selectRows<CountRow>(this.conn, countStatement(target.name, task.period));
    const targetKeys = Number(had?.n ?? 0);
    if (targetKeys === 0) return undefined;
    const [cmp] = await selectRows<LossCheckRow>(this.conn, lossCheckStatement(task.source, target.name, target.columns, task.period, task.period + HOUR));
    const losing = Number(cmp?.shrunk ?? 0) > 0 || Number(cmp?.keys_ ?? 0) < targetKeys;
    if (!losing) return undefined;
    const [count] = await selectRows<CountRow>(this.conn, countStatement(task.source));
    await writeOn(this.conn, shardSql.updateTable('table_registry').set({ rollup_state: 'done', rolled_at: now3 }).where('name', '=', task.source));
    return Number(count?.n ?? 0);
  }

  async #registryState(name: string, forUpdate: boolean): Promise<string | undefined> {
    const q = shardSql.selectFrom('table_registry').select('rollup_state').where('name', '=', name);
    const [row] = await selectOn(this.conn, forUpdate ? q.forUpdate() : q);
    return row?.rollup_state;
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
