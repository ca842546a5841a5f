import type { TimesliceRow } from '../timeslice/timeslice.js';
import { KEY_COLUMNS, upsertMergeList, VALUE_COLUMNS } from '../timeslice/timeslice-columns.js';

/**
 * Pure SQL text for the shard writer. Identifiers come from lib/shard/table-naming.ts (integers and
 * fixed prefixes only); values are numbers checked finite here, so the text is safe to send as is,
 * which is much faster than binding thousands of placeholders.
 */
const COLUMNS = [...KEY_COLUMNS, ...VALUE_COLUMNS].join(', ');

// The merge of lib/timeslice/timeslice-columns.ts; VALUES(col) is understood by MariaDB and MySQL 8 alike.
const MERGE = upsertMergeList();

function num(n: number, what: string): string {
  if (!Number.isFinite(n)) throw new Error(`BUG: ${what} must be finite, got ${n}`);
  return String(n);
}

function int(n: number, what: string): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`BUG: ${what} must be a non-negative integer, got ${n}`);
  return String(n);
}

/** True when every value of the row can be written (the checks valuesTuple makes, without the text). */
export function isWritableRow(r: TimesliceRow): boolean {
  return (
    Number.isSafeInteger(r.metricId) && r.metricId >= 0 &&
    Number.isSafeInteger(r.agentId) && r.agentId >= 0 &&
    Number.isSafeInteger(r.period) && r.period >= 0 &&
    Number.isSafeInteger(r.callCount) && r.callCount >= 0 &&
    Number.isFinite(r.totalTime) && Number.isFinite(r.exclusiveTime) && Number.isFinite(r.minTime) &&
    Number.isFinite(r.maxTime) && Number.isFinite(r.sumOfSquares)
  );
}

export function valuesTuple(r: TimesliceRow): string {
  return (
    `(${int(r.metricId, 'metric id')},${int(r.agentId, 'agent id')},${int(r.period, 'period')},` +
    `${int(r.callCount, 'call count')},${num(r.totalTime, 'total time')},${num(r.exclusiveTime, 'exclusive time')},` +
    `${num(r.minTime, 'min time')},${num(r.maxTime, 'max time')},${num(r.sumOfSquares, 'sum of squares')})`
  );
}

/** One multi-row upsert that merges exactly into existing rows. */
export function upsertSql(table: string, rows: readonly TimesliceRow[]): string {
  if (rows.length === 0) throw new Error('BUG: upsert of no rows');
  return `INSERT INTO ${table} (${COLUMNS}) VALUES ${rows.map(valuesTuple).join(',')} ON DUPLICATE KEY UPDATE ${MERGE}`;
}

export function ledgerDdl(table: string): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${table} (account_id INT UNSIGNED NOT NULL, dedupe_key BINARY(32) NOT NULL, ` +
    'committed_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), PRIMARY KEY (account_id, dedupe_key)) ENGINE=InnoDB'
  );
}
