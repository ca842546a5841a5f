import type { RowDataPacket } from 'mysql2/promise';
import { parseTableName } from '../lib/shard/table-naming.js';
import type { ReadSegment } from './read-plan.js';
import { aggregateList, KEY_COLUMNS, VALUE_COLUMNS } from '../lib/timeslice/timeslice-columns.js';

/**
 * Pure compilation of the SQL that reads a read plan's segments: one statement, a UNION ALL of one
 * aggregate SELECT per segment (two for an application-wide read of a minute table: its sealed minutes
 * from the pseudo-agent's rows, the others summed over the application's agents; one statement is one
 * snapshot, so a seal committing meanwhile cannot make a minute counted twice or not at all), summing rows into buckets exactly as mergeTimeslices does (counts,
 * totals and sums of squares add; min takes the least, max the greatest). Values are parameters;
 * table names come only from the registry and are checked against the naming module.
 */
export interface CompiledQuery {
  sql: string;
  parameters: unknown[];
}

/**
 * A row of a compiled series query: the metric, the bucket start and the aggregates of READ_COLUMNS'
 * values (read with timesliceFromRow; SUMs of integer columns come back as DECIMAL strings).
 */
export interface SeriesRow extends RowDataPacket {
  metric_id: number;
  bucket: number | string;
}

/** Columns read from every template version; a version lacking one cannot be read. */
export const READ_COLUMNS: readonly string[] = [...KEY_COLUMNS, ...VALUE_COLUMNS];

export interface SeriesQuery {
  segments: readonly ReadSegment[];
  /** The application's pseudo-agent (or, for a per-agent read, the agent). */
  agentId: number;
  /**
   * An application-wide read: minute segments read the pseudo-agent's rows of sealed minutes and sum
   * the application's agents (the pseudo-agent included) for the minutes not sealed yet (see
   * applicationMinuteParts). Absent: the rows of `agentId` alone.
   */
  application?: { accountId: number; applicationId: number };
  metricIds: readonly number[];
  /** Seconds per bucket (buckets start at multiples of it), or 'total' for one bucket per metric. */
  bucket: number | 'total';
  /** Sum the metrics together (one row per bucket, under metric_id = metricIds[0]) instead of one row per metric. */
  sumMetrics?: boolean;
}

/** Undefined when there is nothing to read (no segment or no metric). */
export function compileSeriesQuery(q: SeriesQuery): CompiledQuery | undefined {
  if (q.segments.length === 0 || q.metricIds.length === 0) return undefined;
  const parts: string[] = [];
  const parameters: unknown[] = [];
  for (const seg of q.segments) {
    checkReadable(seg);
    const bucket = q.bucket === 'total' ? '0' : '(period DIV ?) * ?';
    const select = `SELECT ${q.sumMetrics ? '? AS metric_id' : 'metric_id'}, ${bucket} AS bucket, ${aggregateList(true)} FROM \`${seg.table}\` `;
    const head: unknown[] = [];
    if (q.sumMetrics) head.push(q.metricIds[0]);
    if (q.bucket !== 'total') head.push(q.bucket, q.bucket);
    const ids = `metric_id IN (${q.metricIds.map(() => '?').join(', ')})`;
    const group = q.sumMetrics ? 'GROUP BY bucket' : 'GROUP BY metric_id, bucket';
    if (q.application && seg.kind === 'minute') {
      const sealed = `COALESCE((SELECT sealed_through FROM table_registry WHERE name = ?), 0)`;
      parts.push(`${select}WHERE agent_id = ? AND ${ids} AND period >= ? AND period < ? AND period < ${sealed} ${group}`);
      parts.push(
        `${select}WHERE agent_id IN (SELECT id FROM agents WHERE account_id = ? AND application_id = ?) AND ${ids} ` +
          `AND period >= ? AND period < ? AND period >= ${sealed} ${group}`,
      );
      parameters.push(...head, q.agentId, ...q.metricIds, seg.from, seg.to, seg.table);
      parameters.push(...head, q.application.accountId, q.application.applicationId, ...q.metricIds, seg.from, seg.to, seg.table);
      continue;
    }
    parts.push(`${select}WHERE agent_id = ? AND ${ids} AND period >= ? AND period < ? ${group}`);
    parameters.push(...head, q.agentId, ...q.metricIds, seg.from, seg.to);
  }
  return { sql: parts.join('\nUNION ALL\n'), parameters };
}

function checkReadable(seg: ReadSegment): void {
  const parsed = parseTableName(seg.table);
  if (!parsed || parsed.kind !== seg.kind) throw new Error(`BUG: ${JSON.stringify(seg.table)} is not a ${seg.kind} table name`);
  const missing = READ_COLUMNS.filter((c) => !seg.columns.includes(c));
  if (missing.length > 0) {
    throw new Error(`cannot read table ${seg.table}: its template version ${seg.version} lacks column(s) ${missing.join(', ')}`);
  }
}
