/**
 * Pure SQL text for comparing and copying tables between two shard servers. Identifiers are checked
 * here (column names come from information_schema, table names from lib/shard/table-naming.ts or the
 * fixed per-account tables); every value is a parameter.
 *
 * The comparison of a table (or of one account's rows in it) is its row count plus the BIT_XOR of a
 * 64-bit hash of every row: the first 16 hex digits of MD5 over the row's columns, each QUOTE()d (so
 * NULL differs from 'NULL' and no separator can be forged) and joined with '|'. It is order-free, runs
 * inside the server (only two numbers travel), works the same in MariaDB and MySQL 8, and a DOUBLE is
 * rendered in its shortest exact form, so two values compare equal only if they are the same double.
 */
import type { RowDataPacket } from 'mysql2/promise';

export interface Where {
  sql: string;
  params: unknown[];
}

/** The row of checksumSql: `n` rows, hash `h` (a BIGINT UNSIGNED: a string past 2^53). */
export interface ChecksumRow extends RowDataPacket {
  n: number;
  h: string | number;
}

/** A row of periodChecksumSql: period `p`, its `n` rows and their hash `h`. */
export interface PeriodChecksumRow extends ChecksumRow {
  p: number;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export function ident(name: string): string {
  if (!IDENT.test(name)) throw new Error(`BUG: ${JSON.stringify(name)} is not a plain SQL identifier`);
  return `\`${name}\``;
}

/** 64-bit hash of one row as an unsigned integer expression. */
export function rowHashExpr(columns: readonly string[]): string {
  if (columns.length === 0) throw new Error('BUG: a row hash needs at least one column');
  const joined = `CONCAT_WS('|', ${columns.map((c) => `QUOTE(${ident(c)})`).join(', ')})`;
  return `CAST(CONV(SUBSTRING(MD5(${joined}), 1, 16), 16, 10) AS UNSIGNED)`;
}

function whereClause(where?: Where): string {
  return where ? ` WHERE ${where.sql}` : '';
}

/** `n` rows and their hash `h` (BIT_XOR of row hashes, 0 for no rows). */
export function checksumSql(table: string, columns: readonly string[], where?: Where): string {
  return `SELECT COUNT(*) AS n, COALESCE(BIT_XOR(${rowHashExpr(columns)}), 0) AS h FROM ${ident(table)}${whereClause(where)}`;
}

/** The same per value of `period` (per-period tables): which minutes, hours or days differ. */
export function periodChecksumSql(table: string, columns: readonly string[]): string {
  return `SELECT period AS p, COUNT(*) AS n, BIT_XOR(${rowHashExpr(columns)}) AS h FROM ${ident(table)} GROUP BY period`;
}

/**
 * Keyset pagination: rows whose key is greater than `after` in key order, written as nested OR/AND
 * (both servers turn it into an index range), e.g. keys (a, b): a > ? OR (a = ? AND b > ?).
 */
export function keysetWhere(keys: readonly string[], after: readonly unknown[]): Where {
  if (keys.length === 0 || keys.length !== after.length) throw new Error(`BUG: keyset of ${keys.length} keys after ${after.length} values`);
  const build = (i: number): Where => {
    const k = ident(keys[i]!);
    if (i === keys.length - 1) return { sql: `${k} > ?`, params: [after[i]] };
    const inner = build(i + 1);
    return { sql: `(${k} > ? OR (${k} = ? AND ${inner.sql}))`, params: [after[i], after[i], ...inner.params] };
  };
  return build(0);
}

export function andWhere(...parts: Array<Where | undefined>): Where | undefined {
  const list = parts.filter((p): p is Where => p !== undefined);
  if (list.length === 0) return undefined;
  return { sql: list.map((p) => `(${p.sql})`).join(' AND '), params: list.flatMap((p) => p.params) };
}

/** One chunk of rows in key order, after `after` (undefined: from the start). */
export function chunkSql(table: string, columns: readonly string[], keys: readonly string[], limit: number, where?: Where, after?: readonly unknown[]): Where {
  if (!Number.isSafeInteger(limit) || limit <= 0) throw new Error(`BUG: chunk limit must be a positive integer, got ${limit}`);
  const w = andWhere(where, after ? keysetWhere(keys, after) : undefined);
  return {
    sql: `SELECT ${columns.map(ident).join(', ')} FROM ${ident(table)}${whereClause(w)} ORDER BY ${keys.map(ident).join(', ')} LIMIT ${limit}`,
    params: w?.params ?? [],
  };
}

/** `period IN (…)` of the given periods (a per-period table's rows to repair). */
export function periodsWhere(periods: readonly number[]): Where {
  if (periods.length === 0) throw new Error('BUG: no period to select');
  return { sql: `period IN (${periods.map(() => '?').join(', ')})`, params: [...periods] };
}

/** DELETE of the rows of `table` that `where` selects. */
export function deleteSql(table: string, where: Where): Where {
  return { sql: `DELETE FROM ${ident(table)} WHERE ${where.sql}`, params: where.params };
}

/** Multi-row INSERT (IGNORE) for mysql2's nested-array expansion of `VALUES ?`. */
export function insertSql(table: string, columns: readonly string[], mode: 'insert' | 'ignore'): string {
  return `INSERT${mode === 'ignore' ? ' IGNORE' : ''} INTO ${ident(table)} (${columns.map(ident).join(', ')}) VALUES ?`;
}

/** Upsert that keeps the greatest value of every non-key column (per-account id counters). */
export function greatestUpsertSql(table: string, columns: readonly string[], keys: readonly string[]): string {
  const rest = columns.filter((c) => !keys.includes(c));
  if (rest.length === 0) return insertSql(table, columns, 'ignore');
  return `${insertSql(table, columns, 'insert')} ON DUPLICATE KEY UPDATE ${rest.map((c) => `${ident(c)} = GREATEST(${ident(c)}, VALUES(${ident(c)}))`).join(', ')}`;
}

/** One row when `table` holds any (whether a leftover table on a move's target is empty). */
export function anyRowSql(table: string): string {
  return `SELECT 1 FROM ${ident(table)} LIMIT 1`;
}
