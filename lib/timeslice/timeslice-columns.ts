import type { Timeslice } from './timeslice.js';

/**
 * The single table of a timeslice's value columns. Every form of the merge is generated from it: the
 * TypeScript merge (mergeTimeslices, checked against this table by a test), the writer's upsert
 * (`ON DUPLICATE KEY UPDATE`), the rollup's `INSERT … SELECT … GROUP BY`, the dashboard's aggregating
 * read and the move's column list. Adding a column (a template version) is one edit here.
 *
 * Merge kinds: `sum` adds (counts, totals, sums of squares), `min` takes the least, `max` the greatest.
 * Apdex rows reuse the same slots and merge with the very same operations.
 */
export type MergeKind = 'sum' | 'min' | 'max';

export interface TimesliceColumn {
  /** Column name in every template version. */
  readonly column: string;
  /** Field of the TypeScript Timeslice. */
  readonly field: keyof Timeslice;
  readonly merge: MergeKind;
  /** Integer column (counts): values must be safe integers. */
  readonly integer: boolean;
}

export const TIMESLICE_COLUMNS: readonly TimesliceColumn[] = Object.freeze([
  { column: 'call_count', field: 'callCount', merge: 'sum', integer: true },
  { column: 'total_time', field: 'totalTime', merge: 'sum', integer: false },
  { column: 'exclusive_time', field: 'exclusiveTime', merge: 'sum', integer: false },
  { column: 'min_time', field: 'minTime', merge: 'min', integer: false },
  { column: 'max_time', field: 'maxTime', merge: 'max', integer: false },
  { column: 'sum_of_squares', field: 'sumOfSquares', merge: 'sum', integer: false },
] as const);

/** The key columns of every per-period table, in primary-key order of template v1/v2. */
export const KEY_COLUMNS = ['metric_id', 'agent_id', 'period'] as const;

/** Value column names, in table order. */
export const VALUE_COLUMNS: readonly string[] = TIMESLICE_COLUMNS.map((c) => c.column);

const AGGREGATE: Record<MergeKind, string> = { sum: 'SUM', min: 'MIN', max: 'MAX' };

/** `col = <merge of the stored value and the new one>` for `INSERT … ON DUPLICATE KEY UPDATE`. */
export function upsertMergeExpr(c: TimesliceColumn): string {
  switch (c.merge) {
    case 'sum':
      return `${c.column} = ${c.column} + VALUES(${c.column})`;
    case 'min':
      return `${c.column} = LEAST(${c.column}, VALUES(${c.column}))`;
    case 'max':
      return `${c.column} = GREATEST(${c.column}, VALUES(${c.column}))`;
  }
}

/** The whole `ON DUPLICATE KEY UPDATE` list of an exact merging upsert. */
export function upsertMergeList(): string {
  return TIMESLICE_COLUMNS.map(upsertMergeExpr).join(', ');
}

/** `SUM(col)`, `MIN(col)` or `MAX(col)`: the aggregate that merges many rows of one group. */
export function aggregateExpr(c: TimesliceColumn, alias = false): string {
  const e = `${AGGREGATE[c.merge]}(${c.column})`;
  return alias ? `${e} AS ${c.column}` : e;
}

/** Every value column's aggregate, comma-separated (rollup SELECT list, dashboard read). */
export function aggregateList(alias = false): string {
  return TIMESLICE_COLUMNS.map((c) => aggregateExpr(c, alias)).join(', ');
}

/** The merge of two timeslices, by the table (the reference the SQL forms are tested against). */
export function mergeByTable(a: Timeslice, b: Timeslice): Timeslice {
  const out = { ...a };
  for (const c of TIMESLICE_COLUMNS) {
    const x = a[c.field];
    const y = b[c.field];
    out[c.field] = c.merge === 'sum' ? x + y : c.merge === 'min' ? Math.min(x, y) : Math.max(x, y);
  }
  return out;
}

/** A timeslice from a database row keyed by column name (numbers or numeric strings). */
export function timesliceFromRow(row: Record<string, unknown>): Timeslice {
  const out = {} as Timeslice;
  for (const c of TIMESLICE_COLUMNS) out[c.field] = Number(row[c.column]);
  return out;
}
