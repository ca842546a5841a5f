import { Readable } from 'node:stream';
import type { Pool, PoolConnection, ResultSetHeader } from 'mysql2/promise';
import type { Log } from '../log/log.js';
import type { TimesliceRow } from '../timeslice/timeslice.js';
import { KEY_COLUMNS, VALUE_COLUMNS } from '../timeslice/timeslice-columns.js';
import { putNumber } from './number-text.js';

/**
 * `LOAD DATA LOCAL INFILE` from memory for append-only rows (issue #20): the rows of a table that are
 * all new keys go to the server as tab-separated text streamed from a Buffer, which costs the server
 * less than parsing and executing a multi-row upsert. No file is ever read: the stream factory is
 * given to the LOAD statement only (the pools have none, so mysql2 answers any other file request of
 * a server with an empty file and an error), and it refuses any file name but ours.
 *
 * With LOCAL, a duplicate key is skipped with a warning and a value that does not fit is clamped with
 * a warning, instead of failing: a load counts only when every row was inserted and there was no
 * warning. Otherwise the caller rolls back to the savepoint taken before the first load and writes
 * those tables with the exact merging upsert.
 */

const COLUMNS = [...KEY_COLUMNS, ...VALUE_COLUMNS].join(', ');
const FILE = 'apm-rows';
const SAVEPOINT = 'apm_before_load';

/** Errors of a server that refuses LOCAL INFILE (MariaDB 1148, 10.5+: 4166; MySQL 8: 3948, 3950; 2068 client side). */
const REFUSED = new Set([1148, 4166, 3948, 3950, 2068]);

/** Pools whose server refused LOCAL INFILE once: they upsert for the rest of their life. */
const refusedPools = new WeakSet<object>();

/** Longest text of one row: 9 numbers of at most 24 characters (String(-1.2345678901234567e-308)), tabs, newline. */
const MAX_ROW_BYTES = 9 * 25;
const TAB = 0x09;
const NEWLINE = 0x0a;

/** Writes `n` as String(n) would (number-text.ts), then the byte `after`; returns the offset after both. */
function putField(buf: Buffer, o: number, n: number, after: number): number {
  o = putNumber(buf, o, n, false);
  buf[o] = after;
  return o + 1;
}

/** The key columns of a row (metric, agent, period), each followed by a tab. */
function putKey(buf: Buffer, o: number, r: TimesliceRow): number {
  o = putField(buf, o, r.metricId, TAB);
  o = putField(buf, o, r.agentId, TAB);
  return putField(buf, o, r.period, TAB);
}

/** The value columns of a row, tab-separated, then the newline. */
function putValues(buf: Buffer, o: number, r: TimesliceRow): number {
  o = putField(buf, o, r.callCount, TAB);
  o = putField(buf, o, r.totalTime, TAB);
  o = putField(buf, o, r.exclusiveTime, TAB);
  o = putField(buf, o, r.minTime, TAB);
  o = putField(buf, o, r.maxTime, TAB);
  return putField(buf, o, r.sumOfSquares, NEWLINE);
}

/** The rows as LOAD DATA's default text format: tab-separated fields, one line each, numbers only. */
export function loadText(rows: readonly TimesliceRow[]): Buffer {
  // Written straight into one buffer: no per-row strings, no concatenated text to flatten and copy.
  const buf = Buffer.allocUnsafe(rows.length * MAX_ROW_BYTES);
  let o = 0;
  for (const r of rows) o = putValues(buf, putKey(buf, o, r), r);
  return buf.subarray(0, o);
}

export function loadSql(table: string): string {
  return `LOAD DATA LOCAL INFILE '${FILE}' INTO TABLE ${table} CHARACTER SET latin1 FIELDS TERMINATED BY '\\t' ESCAPED BY '' LINES TERMINATED BY '\\n' (${COLUMNS})`;
}

export type LoadOutcome = 'loaded' | 'not-new' | 'refused';

/** Whether loads may be tried on this pool (the setting is on and its server never refused). */
export function mayLoad(enabled: boolean, pool: Pool): boolean {
  return enabled && !refusedPools.has(pool);
}

export async function savepoint(conn: PoolConnection): Promise<void> {
  await conn.query(`SAVEPOINT ${SAVEPOINT}`);
}

export async function rollbackToSavepoint(conn: PoolConnection): Promise<void> {
  await conn.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
}

/**
 * Loads `rows` (all checked finite, keys distinct) into `table`: 'loaded' when every row went in with
 * no warning; 'not-new' when a key existed or a value was adjusted (the caller rolls back and
 * upserts); 'refused' when the server does not allow LOCAL INFILE (the pool is marked, logged once).
 * Any other error is thrown as is (the transaction fails as an upsert would).
 */
export async function loadRows(conn: PoolConnection, pool: Pool, table: string, rows: readonly TimesliceRow[], log?: Log): Promise<LoadOutcome> {
  const data = loadText(rows);
  const infileStreamFactory = (path: string): Readable => {
    if (path !== FILE) return Readable.from((async function* () { throw new Error(`refusing the server's request for file ${JSON.stringify(path)}`); })());
    return Readable.from([data]);
  };
  try {
    const [res] = await conn.query<ResultSetHeader>({ sql: loadSql(table), infileStreamFactory });
    return Number(res.affectedRows) === rows.length && Number(res.warningStatus) === 0 ? 'loaded' : 'not-new';
  } catch (err) {
    const errno = (err as { errno?: number }).errno ?? 0;
    if (!REFUSED.has(errno)) throw err;
    if (!refusedPools.has(pool)) {
      refusedPools.add(pool);
      log?.warn('the shard server refuses LOAD DATA LOCAL INFILE (local_infile off): the writer upserts every row on this pool', { errno });
    }
    return 'refused';
  }
}

export interface TableRows {
  name: string;
  rows: readonly TimesliceRow[];
  /** Every row is an agent's row of an unsealed minute (no application row added): try LOAD DATA. */
  loadable: boolean;
}

export interface WriteTablesDeps {
  batchRows: number;
  loadData: boolean;
  log?: Log;
  upsert: (conn: PoolConnection, table: string, rows: readonly TimesliceRow[]) => Promise<void>;
}

/** Rows written by each path, and the loads abandoned for the upsert. */
export interface WrittenRows {
  loaded: number;
  upserted: number;
  fallbacks: number;
}

/**
 * Writes every table's rows in order: loadable tables by LOAD DATA while every load succeeds, the
 * rest by upsert. A savepoint is taken once, before the first load; when a load is not clean, the
 * transaction rolls back to it and every table written since is written again by upsert (exact
 * merges; data errors surface as from any upsert), and so are all tables after it.
 */
export async function writeTables(conn: PoolConnection, pool: Pool, tables: readonly TableRows[], deps: WriteTablesDeps): Promise<WrittenRows> {
  const out: WrittenRows = { loaded: 0, upserted: 0, fallbacks: 0 };
  let loading = mayLoad(deps.loadData, pool) && tables.some((t) => t.loadable && t.rows.length > 0);
  let since = -1; // index of the first table written after the savepoint
  const upsertAll = async (t: TableRows) => {
    for (let i = 0; i < t.rows.length; i += deps.batchRows) await deps.upsert(conn, t.name, t.rows.slice(i, i + deps.batchRows));
    out.upserted += t.rows.length;
  };
  for (let k = 0; k < tables.length; k++) {
    const t = tables[k]!;
    if (t.rows.length === 0) continue;
    if (!(loading && t.loadable)) {
      await upsertAll(t);
      continue;
    }
    if (since < 0) {
      await savepoint(conn);
      since = k;
    }
    const outcome = await loadRows(conn, pool, t.name, t.rows, deps.log);
    if (outcome === 'loaded') {
      out.loaded += t.rows.length;
      continue;
    }
    if (outcome === 'not-new') out.fallbacks++;
    loading = false;
    await rollbackToSavepoint(conn);
    out.loaded = 0;
    out.upserted = 0;
    for (let j = 0; j < since; j++) out.upserted += tables[j]!.rows.length;
    for (let j = since; j <= k; j++) await upsertAll(tables[j]!);
  }
  return out;
}
