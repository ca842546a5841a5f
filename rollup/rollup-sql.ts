import { parseTableName } from '../lib/shard/table-naming.js';
import { aggregateExpr, TIMESLICE_COLUMNS } from '../lib/timeslice/timeslice-columns.js';

/**
 * The rollup statements, compiled by pure code. Identifiers are only our own table names (checked with
 * parseTableName: integers and a fixed prefix); every value is a parameter.
 *
 * Merge semantics are lib/timeslice/timeslice-columns.ts's (the same as mergeTimeslices): counts, totals and sums of squares
 * add, min takes the least, max the greatest — Apdex rows (satisfied/tolerating/frustrated in the count
 * and time slots, the threshold in min/max) merge with the very same operations.
 *
 * Idempotent: a rolled row REPLACES the target row (ON DUPLICATE KEY UPDATE col = VALUES(col)), so
 * rolling a period again (a crash, late data) gives the rows a single roll over the same source gives.
 * The source of a period only ever grows (rows are merged into, never deleted), so no stale target row
 * can survive a re-roll.
 */
export interface RollupStatement {
  sql: string;
  params: number[];
}


/**
 * INSERT … SELECT … GROUP BY metric_id, agent_id of the source rows with period in [from, to) into one
 * row per (metric, agent) at `period` of the target. When the target has the `periods` column (template
 * v2+), it gets COUNT(*): how many source periods (minutes, hours) contributed, since each source row
 * is one (metric, agent, period). v1 targets simply lack it.
 */
export function rollupStatement(source: string, target: string, targetColumns: readonly string[], period: number, from: number, to: number): RollupStatement {
  const s = identifier(source);
  const t = identifier(target);
  const withPeriods = targetColumns.includes('periods');
  const columns = ['metric_id', 'agent_id', 'period', ...TIMESLICE_COLUMNS.map((c) => c.column), ...(withPeriods ? ['periods'] : [])];
  const selects = ['metric_id', 'agent_id', '?', ...TIMESLICE_COLUMNS.map((c) => aggregateExpr(c)), ...(withPeriods ? ['COUNT(*)'] : [])];
  const updates = columns.slice(3).map((c) => `${c} = VALUES(${c})`);
  const sql =
    `INSERT INTO ${t} (${columns.join(', ')}) ` +
    `SELECT ${selects.join(', ')} FROM ${s} WHERE period >= ? AND period < ? GROUP BY metric_id, agent_id ` +
    `ON DUPLICATE KEY UPDATE ${updates.join(', ')}`;
  return { sql, params: [period, from, to] };
}

/** COUNT(*) of the rows a rollup reads, with the same shared locks the INSERT … SELECT takes. */
export function sourceCountStatement(source: string, from: number, to: number): RollupStatement {
  return { sql: `SELECT COUNT(*) AS n FROM ${identifier(source)} WHERE period >= ? AND period < ? LOCK IN SHARE MODE`, params: [from, to] };
}

/** Backquoted name of one of our period tables; anything else is a bug. */
export function identifier(name: string): string {
  if (!parseTableName(name)) throw new Error(`BUG: ${JSON.stringify(name)} is not a period table name`);
  return `\`${name}\``;
}

/** "Records: N" of a MySQL INSERT … SELECT result: the rows the SELECT produced (= rows written). */
export function recordsOf(info: string | undefined, fallback: number): number {
  const m = /Records:\s*(\d+)/.exec(info ?? '');
  return m ? Number(m[1]) : fallback;
}
