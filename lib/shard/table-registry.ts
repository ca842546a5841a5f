import { sql, type Kysely, type Selectable } from 'kysely';
import type { RollupState, ShardDatabase } from './shard-database.js';
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
 * Pure: the registry read of a filter (a typed statement, not yet run). Every filter is a prefix or
 * range of one of the registry's indexes: (account_id, kind, period_start), (rollup_state, kind,
 * period_start) and (kind, period_start, account_id) (shard migration 0008), so the periodic jobs read
 * by state without scanning the registry. A span overlaps [from, to) when it starts before `to` and
 * ends after `from`; spans are at most a year long, so "starts after from − 366 days" bounds the range
 * before the exact test the caller makes on the span's end.
 */
export function registryQuery(db: Kysely<ShardDatabase>, f: ListTablesFilter) {
  let q = db.selectFrom('table_registry').selectAll();
  if (f.accountId !== undefined) q = q.where('account_id', '=', f.accountId);
  if (f.kind) q = q.where('kind', '=', f.kind);
  if (f.states?.length) q = q.where('rollup_state', 'in', f.states);
  if (f.to !== undefined) q = q.where('period_start', '<', f.to);
  if (f.from !== undefined) q = q.where('period_start', '>', f.from - 366 * 86400);
  return q;
}

export type RegistryRow = Selectable<ShardDatabase['table_registry']>;

/**
 * The registry row of a period table, creating row and table when missing. One round trip for a table
 * that exists (pre-created before its hour): the row and whether the table is there (an
 * information_schema lookup by exact name, which opens no table). Otherwise the row is inserted when
 * missing and the table created: three round trips. No lock: every statement is idempotent, the row
 * comes first and CREATE TABLE IF NOT EXISTS is atomic, so racing processes all end with the same row
 * and one table LIKE the template version in that row (a row whose table a crash never made is healed).
 */
export async function registerTable(db: Kysely<ShardDatabase>, t: { name: string; accountId: number; kind: TableKind; t: number; newestVersion: number }): Promise<RegistryRow> {
  const read = () =>
    db
      .selectFrom('table_registry as r')
      .selectAll('r')
      .select(sql<number>`(SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ${t.name})`.as('present'))
      .where('r.name', '=', t.name)
      .executeTakeFirst();
  let row = await read();
  if (row && Number(row.present) > 0) return row;
  if (!row) {
    await db
      .insertInto('table_registry')
      .ignore()
      .values({ name: t.name, account_id: t.accountId, kind: t.kind, period_start: tableSpanStart(t.kind, t.t), template_version: t.newestVersion })
      .execute();
    row = await read();
    if (!row) throw new Error(`cannot create table ${t.name}: its registry row vanished (dropped meanwhile)`);
  }
  // DDL from names of table-naming.ts (integers and fixed prefixes only).
  await sql.raw(`CREATE TABLE IF NOT EXISTS ${t.name} LIKE ${templateName(t.kind, Number(row.template_version))}`).execute(db);
  return row;
}
