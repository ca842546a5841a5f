import type { TimesliceRow } from '../timeslice/timeslice.js';
import { KEY_COLUMNS, upsertMergeList, VALUE_COLUMNS } from '../timeslice/timeslice-columns.js';
import { MAX_NUMBER_BYTES, putNumber } from './number-text.js';

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

/** Longest text of one row's tuple: nine numbers, their separators and the parentheses. */
const MAX_TUPLE_BYTES = 9 * (MAX_NUMBER_BYTES + 1) + 2;
const COMMA = 0x2c;

/** The tuple's fields in column order: integers (ids, period, count), then the doubles (as double literals). */
const INTEGER_FIELDS = ['metricId', 'agentId', 'period', 'callCount'] as const;
const DOUBLE_FIELDS = ['totalTime', 'exclusiveTime', 'minTime', 'maxTime', 'sumOfSquares'] as const;

/** `(metric,agent,period,count,total,exclusive,min,max,sumsq)` at `o`; returns the offset after it. */
function putTuple(buf: Buffer, o: number, r: TimesliceRow): number {
  buf[o++] = 0x28; // (
  for (const f of INTEGER_FIELDS) {
    o = putNumber(buf, o, r[f], false);
    buf[o++] = COMMA;
  }
  for (const f of DOUBLE_FIELDS) {
    o = putNumber(buf, o, r[f], true);
    buf[o++] = COMMA;
  }
  buf[o - 1] = 0x29; // ) in place of the last comma
  return o;
}

/**
 * One multi-row upsert that merges exactly into existing rows. The text is written straight into one
 * buffer (number-text.ts; doubles as double literals) and read back as one one-byte string: no string
 * per number or per row. Every row must pass isWritableRow (the writer checks at write() and after
 * merging): a row that does not is a bug.
 */
export function upsertSql(table: string, rows: readonly TimesliceRow[]): string {
  if (rows.length === 0) throw new Error('BUG: upsert of no rows');
  const head = `INSERT INTO ${table} (${COLUMNS}) VALUES `;
  const tail = ` ON DUPLICATE KEY UPDATE ${MERGE}`;
  const buf = Buffer.allocUnsafe(head.length + rows.length * (MAX_TUPLE_BYTES + 1) + tail.length);
  let o = buf.write(head, 0, 'latin1');
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (!isWritableRow(r)) valuesTuple(r); // throws the BUG message naming the bad value
    if (i > 0) buf[o++] = COMMA;
    o = putTuple(buf, o, r);
  }
  o += buf.write(tail, o, 'latin1');
  return buf.toString('latin1', 0, o);
}

export function ledgerDdl(table: string): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${table} (account_id INT UNSIGNED NOT NULL, dedupe_key BINARY(32) NOT NULL, ` +
    'committed_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), PRIMARY KEY (account_id, dedupe_key)) ENGINE=InnoDB'
  );
}
