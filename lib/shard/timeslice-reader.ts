import type { Pool as PromisePool } from 'mysql2/promise';
import type { TableInfo } from './shard-database.js';
import { tableName } from './table-naming.js';

export interface ReadFilter {
  metricIds: readonly number[];
  /** Omit for every agent. */
  agentIds?: readonly number[];
  /** Row periods in [from, to), Unix seconds. */
  from: number;
  to: number;
}

export interface ReadRow {
  metricId: number;
  agentId: number;
  period: number;
  callCount: number;
  totalTime: number;
  exclusiveTime: number;
  minTime: number;
  maxTime: number;
  sumOfSquares: number;
  /** Periods that contributed (hour/day tables from template v2); null where the table's version lacks it. */
  periods: number | null;
}

const BASE = ['metric_id', 'agent_id', 'period', 'call_count', 'total_time', 'exclusive_time', 'min_time', 'max_time', 'sum_of_squares'];

/**
 * SELECT list of one table by its template version's columns (from the registry): columns a
 * version lacks read as NULL, so tables of several live versions UNION together.
 */
export function selectList(t: TableInfo): string {
  for (const c of BASE) if (!t.columns.includes(c)) throw new Error(`BUG: table ${t.name} (v${t.version}) lacks column ${c}`);
  return [...BASE, t.columns.includes('periods') ? 'periods' : 'NULL AS periods'].join(', ');
}

/** One UNION ALL over the given tables (any mix of template versions) for the filter. */
export function readSql(tables: readonly TableInfo[], f: ReadFilter): { sql: string; params: unknown[] } {
  if (tables.length === 0 || f.metricIds.length === 0) throw new Error('BUG: read of no tables or no metrics');
  const parts: string[] = [];
  const params: unknown[] = [];
  for (const t of tables) {
    const name = tableName(t.kind, t.accountId, t.start); // rebuilt from integers, never taken from input
    let where = `metric_id IN (${f.metricIds.map(() => '?').join(', ')})`;
    params.push(...f.metricIds);
    if (f.agentIds) {
      where += ` AND agent_id IN (${f.agentIds.map(() => '?').join(', ')})`;
      params.push(...f.agentIds);
    }
    where += ' AND period >= ? AND period < ?';
    params.push(f.from, f.to);
    parts.push(`SELECT ${selectList(t)} FROM ${name} WHERE ${where}`);
  }
  return { sql: parts.join(' UNION ALL '), params };
}

export async function readTimeslices(pool: PromisePool, tables: readonly TableInfo[], f: ReadFilter): Promise<ReadRow[]> {
  if (tables.length === 0 || f.metricIds.length === 0) return [];
  const { sql, params } = readSql(tables, f);
  const [rows] = await pool.query<any[]>(sql, params);
  return rows.map((r) => ({
    metricId: Number(r.metric_id),
    agentId: Number(r.agent_id),
    period: Number(r.period),
    callCount: Number(r.call_count),
    totalTime: Number(r.total_time),
    exclusiveTime: Number(r.exclusive_time),
    minTime: Number(r.min_time),
    maxTime: Number(r.max_time),
    sumOfSquares: Number(r.sum_of_squares),
    periods: r.periods === null ? null : Number(r.periods),
  }));
}
