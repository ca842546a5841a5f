import type { Pool as PromisePool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import {
  checksumSql, chunkSql, deleteSql, ident, insertSql, periodChecksumSql, periodsWhere, type ChecksumRow, type PeriodChecksumRow, type Where,
} from './row-hash-sql.js';

/** A pool or one connection: anything that runs a query. */
export type Queryable = Pick<PoolConnection | PromisePool, 'query'>;

export interface Checksum {
  rows: number;
  /** BIT_XOR of the rows' 64-bit hashes, as a decimal string. */
  hash: string;
}

export function sameChecksum(a: Checksum, b: Checksum): boolean {
  return a.rows === b.rows && a.hash === b.hash;
}

export async function checksum(db: Queryable, table: string, columns: readonly string[], where?: Where): Promise<Checksum> {
  const [[row]] = await db.query<ChecksumRow[]>(checksumSql(table, columns, where), where?.params ?? []);
  return { rows: Number(row!.n), hash: String(row!.h) };
}

/** period → "rows:hash" of a per-period table. */
export async function periodChecksums(db: Queryable, table: string, columns: readonly string[]): Promise<Map<number, string>> {
  const [rows] = await db.query<PeriodChecksumRow[]>(periodChecksumSql(table, columns));
  return new Map(rows.map((r) => [Number(r.p), `${r.n}:${r.h}`]));
}

/** Periods whose rows differ between the two sides (present on one side only included). */
export function differingPeriods(src: ReadonlyMap<number, string>, dst: ReadonlyMap<number, string>): number[] {
  const out = new Set<number>();
  for (const [p, v] of src) if (dst.get(p) !== v) out.add(p);
  for (const p of dst.keys()) if (!src.has(p)) out.add(p);
  return [...out].sort((a, b) => a - b);
}

export interface CopySpec {
  table: string;
  columns: readonly string[];
  /** Primary-key columns, in index order (the copy walks the key). */
  keys: readonly string[];
  where?: Where;
}

export interface CopyOptions {
  mode: 'insert' | 'ignore';
  chunkRows: number;
  /** Insert statement override (e.g. the counters' GREATEST upsert); gets mysql2's `VALUES ?`. */
  insert?: string;
  onRows?: (n: number) => void;
  signal?: AbortSignal;
}

/**
 * mysql2's text-protocol float parser (3.x, packet.js parseFloat) builds values digit by digit and
 * misreads some 17-digit doubles (9.092989999999999 comes back as 9.09299). Every read that copies or
 * compares values passes this typeCast: DOUBLE and FLOAT columns parsed by Number(), which is exact.
 */
export function exactDoubles(field: { type: string; string(): string | null }, next: () => unknown): unknown {
  if (field.type === 'DOUBLE' || field.type === 'FLOAT') {
    const text = field.string();
    return text === null ? null : Number(text);
  }
  return next();
}

/**
 * Copies the rows of `spec` from src to dst in key order, `chunkRows` at a time (memory stays bounded
 * by one chunk). Values travel as mysql2 gives them, doubles read exactly (exactDoubles; they print
 * in shortest exact form), strings for BIGINTs past 2^53 and for timestamps, Buffers for binary
 * columns. Returns rows copied.
 */
export async function copyRows(src: Queryable, dst: Queryable, spec: CopySpec, o: CopyOptions): Promise<number> {
  const keyIdx = spec.keys.map((k) => {
    const i = spec.columns.indexOf(k);
    if (i < 0) throw new Error(`BUG: key column ${k} of ${spec.table} is not among its columns`);
    return i;
  });
  const insert = o.insert ?? insertSql(spec.table, spec.columns, o.mode);
  let after: unknown[] | undefined;
  let copied = 0;
  for (;;) {
    o.signal?.throwIfAborted();
    const q = chunkSql(spec.table, spec.columns, spec.keys, o.chunkRows, spec.where, after);
    // rowsAsArray: each row is an array of the columns' values in `spec.columns` order.
    const [result] = await src.query<RowDataPacket[]>({ sql: q.sql, values: q.params, rowsAsArray: true, typeCast: exactDoubles });
    const rows = result as unknown as unknown[][];
    if (rows.length === 0) return copied;
    await dst.query(insert, [rows]);
    copied += rows.length;
    o.onRows?.(rows.length);
    const last = rows[rows.length - 1]!;
    after = keyIdx.map((i) => last[i]);
    if (rows.length < o.chunkRows) return copied;
  }
}

export interface PeriodTable {
  name: string;
  /** The template the table is created from on the target (the source's recorded version). */
  template: string;
  columns: readonly string[];
  /** Primary key in key order, which a copy pages through (default (metric_id, agent_id, period)); distribution tables add bucket. */
  keys?: readonly string[];
}

export interface SyncResult {
  action: 'equal' | 'copied' | 'repaired';
  /** Rows copied to the target (0 when equal). */
  copied: number;
  /** Periods rewritten by a repair. */
  periods: number;
  /** Checksum of the source when last compared. */
  source: Checksum;
  /** True when the last comparison found both sides equal. */
  equal: boolean;
}

const PER_PERIOD_KEYS = ['metric_id', 'agent_id', 'period'] as const;

/**
 * Makes the target's copy of a per-period table equal to the source's: created LIKE the same template
 * version when missing, copied whole when empty, otherwise only the periods whose per-period checksum
 * differs are deleted and copied again. With `verify`, compares once more after copying (the caller
 * uses it when the source cannot change: the result's `equal` is then the proof).
 */
export async function syncPeriodTable(src: Queryable, dst: Queryable, t: PeriodTable, o: { chunkRows: number; verify: boolean; onRows?: (n: number) => void; signal?: AbortSignal }): Promise<SyncResult> {
  await dst.query(`CREATE TABLE IF NOT EXISTS ${ident(t.name)} LIKE ${ident(t.template)}`);
  const [s, d] = await Promise.all([checksum(src, t.name, t.columns), checksum(dst, t.name, t.columns)]);
  if (sameChecksum(s, d)) return { action: 'equal', copied: 0, periods: 0, source: s, equal: true };
  const spec: CopySpec = { table: t.name, columns: t.columns, keys: t.keys ?? PER_PERIOD_KEYS };
  const copy = { mode: 'insert' as const, chunkRows: o.chunkRows, ...(o.onRows ? { onRows: o.onRows } : {}), ...(o.signal ? { signal: o.signal } : {}) };
  let result: SyncResult;
  if (d.rows === 0) {
    const copied = await copyRows(src, dst, spec, copy);
    result = { action: 'copied', copied, periods: 0, source: s, equal: false };
  } else {
    const [sp, dp] = await Promise.all([periodChecksums(src, t.name, t.columns), periodChecksums(dst, t.name, t.columns)]);
    const periods = differingPeriods(sp, dp);
    let copied = 0;
    for (let i = 0; i < periods.length; i += 500) {
      const part = periods.slice(i, i + 500);
      const where = periodsWhere(part);
      const del = deleteSql(t.name, where);
      await dst.query(del.sql, del.params);
      copied += await copyRows(src, dst, { ...spec, where }, copy);
    }
    result = { action: 'repaired', copied, periods: periods.length, source: s, equal: false };
  }
  if (!o.verify) return result;
  const [s2, d2] = await Promise.all([checksum(src, t.name, t.columns), checksum(dst, t.name, t.columns)]);
  return { ...result, source: s2, equal: sameChecksum(s2, d2) };
}

/** A column name read from information_schema. */
interface ColumnNameRow extends RowDataPacket {
  c: string;
}

/** Column names of a table in the current database, in order. */
export async function tableColumns(db: Queryable, table: string): Promise<string[]> {
  const [rows] = await db.query<ColumnNameRow[]>(
    'SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [table],
  );
  return rows.map((r) => String(r.c));
}

/** Primary-key columns of a table in the current database, in index order. */
export async function primaryKey(db: Queryable, table: string): Promise<string[]> {
  const [rows] = await db.query<ColumnNameRow[]>(
    "SELECT COLUMN_NAME AS c FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX",
    [table],
  );
  return rows.map((r) => String(r.c));
}
