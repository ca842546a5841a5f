import type { RowDataPacket } from 'mysql2/promise';
import { parseTableName } from '../lib/shard/table-naming.js';
import type { ReadSegment } from './read-plan.js';
import { aggregateList, KEY_COLUMNS, TIMESLICE_COLUMNS, VALUE_COLUMNS } from '../lib/timeslice/timeslice-columns.js';

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
  /** NULL only in the row that asks for a read without the sealed hints (isStaleHintRow). */
  metric_id: number | null;
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

/**
 * Most primary-key lookups (minutes × metric ids) one SELECT of a listed minute table asks for. Past
 * optimizer_max_sel_arg_weight (32,000) MariaDB keeps only (period, agent_id) of the ranges and reads
 * every metric the agent has in those minutes; well below it, each statement's range analysis stays
 * small. series-reader.ts sizes its chunks of metric ids by it.
 */
export const MAX_LISTED_LOOKUPS = 6000;

/**
 * Whether a segment's rows are read by listing its minutes: a minute table whose template has no key that
 * serves a range of periods for one agent (ReadSegment.listsPeriods: the primary key (period, agent_id,
 * metric_id) alone, template v4 on), so `period IN (…)` makes each (minute, agent, metric) a primary-key
 * lookup instead of reading every agent's rows of the window.
 */
export function listsMinutes(seg: Pick<ReadSegment, 'kind' | 'listsPeriods'>): boolean {
  return seg.kind === 'minute' && seg.listsPeriods === true;
}

/** The minute starts in [from, to). */
export function minutesIn(from: number, to: number): number[] {
  const out: number[] = [];
  for (let m = Math.ceil(from / 60) * 60; m < to; m += 60) out.push(m);
  return out;
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
    const listed = listsMinutes(seg);
    // A period condition and its values: the range, or (listed) the minutes from `from` on.
    const periods = (from: number): [string, number[]] => {
      if (!listed) return ['period >= ? AND period < ?', [from, seg.to]];
      const minutes = minutesIn(from, seg.to);
      return [`period IN (${minutes.map(() => '?').join(', ')})`, minutes];
    };
    if (q.application && seg.kind === 'minute') {
      const sealed = `COALESCE((SELECT sealed_through FROM table_registry WHERE name = ?), 0)`;
      const [all, allValues] = periods(seg.from);
      if (allValues.length > 0) {
        parts.push(`${select}WHERE agent_id = ? AND ${ids} AND ${all} AND period < ${sealed} ${group}`);
        parameters.push(...head, q.agentId, ...q.metricIds, ...allValues, seg.table);
      }
      // Listed: the agents' rows only of the minutes the registry did not have sealed when listed (it only
      // grows), and a row of NULLs if the statement finds sealed_through below that after all (the reader
      // then reads again without the hint; never with routing as it is, where both reads meet one server).
      const open = listed && seg.sealedThrough !== undefined && seg.sealedThrough > seg.from ? seg.sealedThrough : seg.from;
      const [unsealed, unsealedValues] = periods(open);
      if (unsealedValues.length > 0) {
        parts.push(
          `${select}WHERE agent_id IN (SELECT id FROM agents WHERE account_id = ? AND application_id = ?) AND ${ids} ` +
            `AND ${unsealed} AND period >= ${sealed} ${group}`,
        );
        parameters.push(...head, q.application.accountId, q.application.applicationId, ...q.metricIds, ...unsealedValues, seg.table);
      }
      if (open > seg.from) {
        parts.push(`SELECT ${nullRow()} FROM DUAL WHERE ${sealed} < ?`);
        parameters.push(seg.table, Math.ceil(open / 60) * 60);
      }
      continue;
    }
    const [range, rangeValues] = periods(seg.from);
    if (rangeValues.length === 0) continue;
    parts.push(`${select}WHERE agent_id = ? AND ${ids} AND ${range} ${group}`);
    parameters.push(...head, q.agentId, ...q.metricIds, ...rangeValues);
  }
  return parts.length === 0 ? undefined : { sql: parts.join('\nUNION ALL\n'), parameters };
}

/** A row of a compiled series query meaning "read again without the sealed hints" (metric_id NULL). */
export function isStaleHintRow(r: SeriesRow): boolean {
  return r.metric_id === null;
}

function nullRow(): string {
  return ['metric_id', 'bucket', ...TIMESLICE_COLUMNS.map((c) => c.column)].map((c) => `NULL AS ${c}`).join(', ');
}

function checkReadable(seg: ReadSegment): void {
  const parsed = parseTableName(seg.table);
  if (!parsed || parsed.kind !== seg.kind) throw new Error(`BUG: ${JSON.stringify(seg.table)} is not a ${seg.kind} table name`);
  const missing = READ_COLUMNS.filter((c) => !seg.columns.includes(c));
  if (missing.length > 0) {
    throw new Error(`cannot read table ${seg.table}: its template version ${seg.version} lacks column(s) ${missing.join(', ')}`);
  }
}
