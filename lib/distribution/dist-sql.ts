import { distIdentifier } from './dist-tables.js';

/**
 * The SQL of the per-period distribution tables (dm_/dh_/dd_, schema/shard/0009): their names vary by
 * account and span, so their statements are built here (names through dist-tables.ts, integers only),
 * never inline in the writer or the readers. Fixed tables (dist_tables, the registry) are typed kysely
 * statements where they are used.
 */

/** One bucket count to add to a distribution table (integers, checked by the writer). */
export interface DistUpsertRow {
  metricId: number;
  agentId: number;
  period: number;
  bucket: number;
  count: number;
}

/** Adds `rows` to a distribution table's counts: one multi-row upsert (integers only, inlined). */
export function distUpsertSql(table: string, rows: readonly DistUpsertRow[]): string {
  for (const r of rows) {
    for (const v of [r.metricId, r.agentId, r.period, r.bucket, r.count]) if (!Number.isSafeInteger(v)) throw new Error(`BUG: distribution row value ${v} is not an integer`);
  }
  return (
    `INSERT INTO ${distIdentifier(table)} (metric_id, agent_id, period, bucket, count) VALUES ${rows.map((r) => `(${r.metricId},${r.agentId},${r.period},${r.bucket},${r.count})`).join(',')} ` +
    'ON DUPLICATE KEY UPDATE count = count + VALUES(count)'
  );
}

/** A row of distReadSql: bucket counts of one output step. */
export interface DistBucketRow {
  t: number | string;
  bucket: number | string;
  n: number | string;
}

/**
 * Bucket counts of one metric of one agent per output step of `step` seconds, over segments (each a
 * distribution table and the window [from, to) read from it), as one UNION ALL.
 */
export function distReadSql(segments: ReadonlyArray<{ table: string; from: number; to: number }>, step: number, metricId: number, agentId: number): { sql: string; params: unknown[] } {
  if (!Number.isSafeInteger(step) || step <= 0) throw new Error(`BUG: distribution step ${step} is not a positive integer`);
  const parts = segments.map(
    (s) =>
      `SELECT (period DIV ${step}) * ${step} AS t, bucket, SUM(count) AS n FROM ${distIdentifier(s.table)} ` +
      'WHERE metric_id = ? AND agent_id = ? AND period >= ? AND period < ? GROUP BY t, bucket',
  );
  return { sql: parts.join('\nUNION ALL\n'), params: segments.flatMap((s) => [metricId, agentId, s.from, s.to]) };
}
