import type { ShardStore } from '../../lib/shard/shard-store.js';
import type { ShardWriter } from '../../lib/shard/shard-writer.js';
import { tableName, type TableKind } from '../../lib/shard/table-naming.js';
import type { Timeslice } from '../../lib/timeslice/timeslice.js';

/**
 * Known data for the dashboard tests. Minute rows go through the real ShardWriter; hour and day rows
 * are written the way the rollup writes them (tables from ShardStore.ensureTable, then plain INSERTs),
 * since the rollup is another part of the system. Values are chosen so every mean is exact in binary.
 */
export type Rows = Array<{ name: string; scope?: string; t: Timeslice }>;

export const ts = (callCount: number, totalTime: number, exclusiveTime = totalTime, minTime = 0, maxTime = 0, sumOfSquares = 0): Timeslice => ({
  callCount, totalTime, exclusiveTime, minTime, maxTime, sumOfSquares,
});

/** The New Relic agent's web metrics for one period: web calls, web seconds, database and external seconds, errors, Apdex s/t/f. */
export function web(calls: number, seconds: number, db: number, ext: number, errors: number, apdex: [number, number, number]): Rows {
  return [
    { name: 'HttpDispatcher', t: ts(calls, seconds) },
    { name: 'WebTransaction', t: ts(calls, seconds) },
    { name: 'Datastore/all', t: ts(calls * 2, db) },
    { name: 'External/all', t: ts(calls, ext) },
    { name: 'Errors/all', t: ts(errors, 0) },
    { name: 'Apdex', t: ts(apdex[0], apdex[1], apdex[2], 0.5, 0.5) },
  ];
}

export class Seeder {
  constructor(
    private readonly store: ShardStore,
    private readonly writer: ShardWriter,
    readonly accountId: number,
    readonly applicationId: number,
  ) {}

  async #ids(rows: Rows): Promise<{ agentId: number; ids: number[] }> {
    const agentId = await this.store.applicationAgentId(this.accountId, this.applicationId);
    const ids = await this.store.metricIds(this.accountId, rows.map((r) => ({ name: r.name, scope: r.scope ?? '' })), { applicationId: this.applicationId });
    return { agentId, ids };
  }

  /** Minute rows at `period` (a minute start), through the shared writer. */
  async minute(period: number, rows: Rows): Promise<void> {
    const { agentId, ids } = await this.#ids(rows);
    await this.writer.write({
      accountId: this.accountId,
      shardId: this.store.shardId,
      rows: rows.map((r, i) => ({ kind: 'minute' as const, t: period, row: { metricId: ids[i]!, agentId, period, ...r.t } })),
    });
  }

  /** Hour or day rows, as the rollup writes them, into the table ensureTable made (or `table` when given). */
  async rolled(kind: Exclude<TableKind, 'minute'>, period: number, rows: Rows, table?: string): Promise<void> {
    const { agentId, ids } = await this.#ids(rows);
    const name = table ?? (await this.store.ensureTable(this.accountId, kind, period)).name;
    const values = rows.map((r, i) => [ids[i], agentId, period, r.t.callCount, r.t.totalTime, r.t.exclusiveTime, r.t.minTime, r.t.maxTime, r.t.sumOfSquares]);
    await this.store.pool.query(
      `INSERT INTO ${name} (metric_id, agent_id, period, call_count, total_time, exclusive_time, min_time, max_time, sum_of_squares) VALUES ?`,
      [values],
    );
  }

  /** An hour table of template v1, as one made before template v2 existed (registered 'done'). */
  async oldHourTable(t: number, start: number): Promise<string> {
    const name = tableName('hour', this.accountId, t);
    await this.store.pool.query(`CREATE TABLE ${name} LIKE template_hour_v1`);
    await this.store.pool.query(
      "INSERT INTO table_registry (name, account_id, kind, period_start, template_version, rollup_state) VALUES (?, ?, 'hour', ?, 1, 'done')",
      [name, this.accountId, start],
    );
    return name;
  }

  async state(kind: TableKind, t: number, state: 'open' | 'rolling' | 'done' | 'dirty'): Promise<void> {
    await this.store.setRollupState(tableName(kind, this.accountId, t), state);
  }

  async day(day: number, state: 'pending' | 'dirty' | 'done'): Promise<void> {
    await this.store.pool.query('INSERT INTO rollup_days (account_id, day, state) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE state = VALUES(state)', [this.accountId, day, state]);
  }
}
