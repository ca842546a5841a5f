import type { Pool } from 'mysql2/promise';
import type { RollupState } from './shard-database.js';
import { tableSpanStart, templateName, type TableKind } from './table-naming.js';

export interface ListTablesFilter {
  accountId?: number;
  kind?: TableKind;
  /** Tables whose span overlaps [from, to). */
  from?: number;
  to?: number;
  states?: RollupState[];
}

/**
 * Pure: the WHERE clause of a registry read. Every filter is a prefix or range of one of the
 * registry's indexes: (account_id, kind, period_start), (rollup_state, kind, period_start) and
 * (kind, period_start, account_id) (shard migration 0008), so the periodic jobs read by state without
 * scanning the registry. A span overlaps [from, to) when it starts before `to` and ends after `from`;
 * spans are at most a year long, so "starts after from − 366 days" bounds the range before the exact
 * test the caller makes on the span's end.
 */
export function registryWhere(f: ListTablesFilter): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.accountId !== undefined) {
    where.push('account_id = ?');
    params.push(f.accountId);
  }
  if (f.kind) {
    where.push('kind = ?');
    params.push(f.kind);
  }
  if (f.states?.length) {
    where.push(`rollup_state IN (${f.states.map(() => '?').join(', ')})`);
    params.push(...f.states);
  }
  if (f.to !== undefined) {
    where.push('period_start < ?');
    params.push(f.to);
  }
  if (f.from !== undefined) {
    where.push('period_start > ?');
    params.push(f.from - 366 * 86400);
  }
  return { sql: where.length ? `WHERE ${where.join(' AND ')}` : '', params };
}

/**
 * The registry row of a period table, creating row and table when missing. One round trip for a table
 * that exists (pre-created before its hour): the row and whether the table is there (an
 * information_schema lookup by exact name, which opens no table). Otherwise the row is inserted when
 * missing and the table created: three round trips. No lock: every statement is idempotent, the row
 * comes first and CREATE TABLE IF NOT EXISTS is atomic, so racing processes all end with the same row
 * and one table LIKE the template version in that row (a row whose table a crash never made is healed).
 */
export async function registerTable(pool: Pool, t: { name: string; accountId: number; kind: TableKind; t: number; newestVersion: number }): Promise<any> {
  const read = async () =>
    (
      await pool.query<any[]>(
        'SELECT r.*, (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?) AS present FROM table_registry r WHERE r.name = ?',
        [t.name, t.name],
      )
    )[0][0];
  let row = await read();
  if (row && Number(row.present) > 0) return row;
  if (!row) {
    await pool.query('INSERT IGNORE INTO table_registry (name, account_id, kind, period_start, template_version) VALUES (?, ?, ?, ?, ?)', [
      t.name, t.accountId, t.kind, tableSpanStart(t.kind, t.t), t.newestVersion,
    ]);
    row = await read();
    if (!row) throw new Error(`cannot create table ${t.name}: its registry row vanished (dropped meanwhile)`);
  }
  await pool.query(`CREATE TABLE IF NOT EXISTS ${t.name} LIKE ${templateName(t.kind, Number(row.template_version))}`);
  return row;
}
