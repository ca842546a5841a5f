import type { PoolConnection, ResultSetHeader } from 'mysql2/promise';
import { distIdentifier, distTableName, ensureDistTable, existingDistTables } from '../lib/distribution/dist-tables.js';
import type { ShardStore } from '../lib/shard/shard-store.js';

/**
 * Distributions roll up with the timeslices (the same transaction of rollHour / rollDay, so both or
 * neither are rolled): minute rows of the hour → one row per (metric, agent, bucket) at the hour in the
 * month's dh_ table; hour rows of the day → the year's dd_ table. Merge = SUM(count) per bucket, which
 * is exact for this scheme. Idempotent like the timeslice rollup: a rolled row REPLACES the target row,
 * and the source of a period only grows.
 */
export interface DistRollup {
  source: string;
  target: string;
}

const SOURCE_KIND = { hour: 'minute', day: 'hour' } as const;

/** Before the transaction (DDL commits): the target table, when the period has a source table. */
export async function prepareDistRollup(store: ShardStore, accountId: number, kind: 'hour' | 'day', period: number): Promise<DistRollup | undefined> {
  const source = distTableName(SOURCE_KIND[kind], accountId, period);
  if (!(await existingDistTables(store, [source])).has(source)) return undefined;
  return { source, target: await ensureDistTable(store, accountId, kind, period) };
}

export function distRollupStatement(r: DistRollup, from: number, to: number): { sql: string; params: number[] } {
  return {
    sql:
      `INSERT INTO ${distIdentifier(r.target)} (metric_id, agent_id, period, bucket, count) ` +
      `SELECT metric_id, agent_id, ?, bucket, SUM(count) FROM ${distIdentifier(r.source)} WHERE period >= ? AND period < ? ` +
      'GROUP BY metric_id, agent_id, bucket ON DUPLICATE KEY UPDATE count = VALUES(count)',
    params: [from, from, to],
  };
}

/** Inside the period's rollup transaction. Returns the rows written. */
export async function rollDistributions(conn: PoolConnection, r: DistRollup | undefined, from: number, to: number): Promise<number> {
  if (!r) return 0;
  const s = distRollupStatement(r, from, to);
  const [res] = await conn.query<ResultSetHeader>(s.sql, s.params);
  const m = /Records:\s*(\d+)/.exec(String(res?.info ?? ''));
  return m ? Number(m[1]) : Number(res?.affectedRows ?? 0);
}
