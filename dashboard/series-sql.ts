import { parseTableName } from '../lib/shard/table-naming.js';
import type { ReadSegment } from './read-plan.js';
import { aggregateList, KEY_COLUMNS, VALUE_COLUMNS } from '../lib/timeslice/timeslice-columns.js';

/**
 * Pure compilation of the SQL that reads a read plan's segments: one statement, a UNION ALL of one
 * aggregate SELECT per segment, summing rows into buckets exactly as mergeTimeslices does (counts,
 * totals and sums of squares add; min takes the least, max the greatest). Values are parameters;
 * table names come only from the registry and are checked against the naming module.
 */
export interface CompiledQuery {
  sql: string;
  parameters: unknown[];
}

/** Columns read from every template version; a version lacking one cannot be read. */
export const READ_COLUMNS: readonly string[] = [...KEY_COLUMNS, ...VALUE_COLUMNS];

export interface SeriesQuery {
  segments: readonly ReadSegment[];
  /** The application's pseudo-agent. */
  agentId: number;
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
    if (q.sumMetrics) parameters.push(q.metricIds[0]);
    if (q.bucket !== 'total') parameters.push(q.bucket, q.bucket);
    parts.push(
      `SELECT ${q.sumMetrics ? '? AS metric_id' : 'metric_id'}, ${bucket} AS bucket, ${aggregateList(true)} FROM \`${seg.table}\` ` +
        `WHERE agent_id = ? AND metric_id IN (${q.metricIds.map(() => '?').join(', ')}) AND period >= ? AND period < ? ` +
        (q.sumMetrics ? 'GROUP BY bucket' : 'GROUP BY metric_id, bucket'),
    );
    parameters.push(q.agentId, ...q.metricIds, seg.from, seg.to);
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
