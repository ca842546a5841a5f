import type { ShardStore } from '../lib/shard/shard-store.js';
import { tableName } from '../lib/shard/table-naming.js';

/** What the database holds for one simulated hour: rows and the sum of call_count, per minute. */
export interface HourCensus {
  tables: number;
  /** InnoDB data + index bytes of those tables (after ANALYZE TABLE), to set beside the buffer pool. */
  tableBytes: number;
  rows: number;
  callCount: number;
  /** Index = minute of the hour (0..59). */
  rowsByMinute: number[];
  callCountByMinute: number[];
}

/**
 * Counts, in the database, the rows stored in the minute tables of `accountIds` for the hour starting
 * at `hourStart` (COUNT(*) and SUM(call_count) per period). A table that was never created counts 0.
 * Runs after a phase, so it never slows the phase down.
 */
export async function censusOfHour(store: ShardStore, accountIds: readonly number[], hourStart: number, parallel = 2): Promise<HourCensus> {
  const census: HourCensus = { tables: 0, tableBytes: 0, rows: 0, callCount: 0, rowsByMinute: new Array(60).fill(0), callCountByMinute: new Array(60).fill(0) };
  const queue = [...accountIds];
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      const name = tableName('minute', id, hourStart);
      if (!(await store.tableInfo(name))) continue;
      census.tables++;
      await store.pool.query(`ANALYZE TABLE ${name}`);
      const [size] = await store.pool.query<any[]>(
        'SELECT DATA_LENGTH + INDEX_LENGTH AS bytes FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
        [name],
      );
      census.tableBytes += Number(size[0]?.bytes ?? 0);
      const [rows] = await store.pool.query<any[]>(`SELECT period, COUNT(*) AS n, SUM(call_count) AS c FROM ${name} GROUP BY period`);
      for (const r of rows) {
        const minute = Math.floor((Number(r.period) - hourStart) / 60);
        if (minute < 0 || minute >= 60) throw new Error(`BUG: table ${name} holds period ${r.period} outside its hour`);
        census.rowsByMinute[minute]! += Number(r.n);
        census.callCountByMinute[minute]! += Number(r.c);
        census.rows += Number(r.n);
        census.callCount += Number(r.c);
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return census;
}

/** Drops the minute tables of that hour (the ceiling's rows are not kept: the next phase starts clean). */
export async function dropHour(store: ShardStore, accountIds: readonly number[], hourStart: number): Promise<void> {
  for (const id of accountIds) await store.dropTable(tableName('minute', id, hourStart));
}
