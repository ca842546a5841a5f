import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { parseDistTableName } from '../distribution/dist-tables.js';
import { parseLedgerTableName, parseTableName, parseTemplateName } from '../shard/table-naming.js';
import { greatestUpsertSql, ident } from './row-hash-sql.js';
import { checksum, copyRows, primaryKey, sameChecksum, tableColumns, type Checksum, type Queryable } from './table-sync.js';

/**
 * The per-account rows a move carries besides the per-period tables: every table of the shard
 * database with an `account_id` column (dictionary, agents, id counters, rollup days, harvest records,
 * write ledgers, and whatever a later migration adds), found in information_schema so a new table is
 * never forgotten.
 *
 * How each is copied:
 * - insert-only (rows are only ever added: dictionary, application names, agents, write ledgers):
 *   INSERT IGNORE, cheap to repeat; a copy that still differs afterwards is replaced whole;
 * - counters (`account_counters`): the greatest value wins on both sides, so an id handed out on
 *   either shard is never handed out again;
 * - replace (anything else, e.g. `rollup_days`, `harvest_records`): the target's rows are replaced.
 */
export type RowTableMode = 'insert-only' | 'counters' | 'replace';

export interface AccountRowTable {
  name: string;
  columns: string[];
  keys: string[];
  mode: RowTableMode;
  /** Insert-only tables: the column stamped at insert (`committed_at`, `created_at`), for delta copies. */
  insertedAt?: string;
}

const INSERT_ONLY = new Set(['metric_names', 'application_metrics', 'agents']);
/** Tables with an account_id column that a move handles itself, or that must stay per shard. */
const NOT_ROWS = new Set(['table_registry', 'account_fences', 'schema_migrations']);

/** How a table's account rows move; 'skip' for tables that are not per-account rows. */
export function classifyRowTable(name: string): RowTableMode | 'skip' {
  if (NOT_ROWS.has(name) || parseTableName(name) || parseTemplateName(name) || parseDistTableName(name) || name.startsWith('template_dist_')) return 'skip';
  if (name === 'account_counters') return 'counters';
  if (INSERT_ONLY.has(name) || parseLedgerTableName(name) !== undefined) return 'insert-only';
  return 'replace';
}

/**
 * The shard's tables that may hold per-account rows: every table but the per-period and template ones,
 * by name only. information_schema.TABLES reading TABLE_NAME alone lists the database directory without
 * opening a table ("Skip_open_table"), where a COLUMNS scan would open all of a shard's 300,000 tables.
 */
export async function candidateRowTables(db: Queryable): Promise<string[]> {
  const [rows] = await db.query<Array<RowDataPacket & { t: string }>>(
    "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME NOT LIKE 'ts\\_%' AND TABLE_NAME NOT LIKE 'th\\_%' AND TABLE_NAME NOT LIKE 'td\\_%' AND TABLE_NAME NOT LIKE 'dm\\_%' AND TABLE_NAME NOT LIKE 'dh\\_%' AND TABLE_NAME NOT LIKE 'dd\\_%' ORDER BY TABLE_NAME",
  );
  return rows.map((r) => String(r.t)).filter((name) => classifyRowTable(name) !== 'skip');
}

/** Every per-account row table of the shard behind `db`, with columns and primary key. */
export async function accountRowTables(db: Queryable): Promise<AccountRowTable[]> {
  const out: AccountRowTable[] = [];
  for (const name of await candidateRowTables(db)) {
    const mode = classifyRowTable(name);
    if (mode === 'skip') continue;
    const [columns, keys] = await Promise.all([tableColumns(db, name), primaryKey(db, name)]);
    if (!columns.includes('account_id')) continue;
    if (keys.length === 0) throw new Error(`cannot move rows of table ${name}: it has no primary key`);
    const insertedAt = mode === 'insert-only' ? ['committed_at', 'created_at'].find((c) => columns.includes(c)) : undefined;
    out.push({ name, columns, keys, mode, ...(insertedAt ? { insertedAt } : {}) });
  }
  return out;
}

const byAccount = (accountId: number) => ({ sql: 'account_id = ?', params: [accountId] });

export function rowChecksum(db: Queryable, t: AccountRowTable, accountId: number): Promise<Checksum> {
  return checksum(db, t.name, t.columns, byAccount(accountId));
}

/** Creates a table missing on the target with the source's definition (write ledgers of other days). */
async function ensureTableLike(src: Queryable, dst: Queryable, name: string): Promise<void> {
  const [rows] = await src.query<Array<RowDataPacket & { 'Create Table': string }>>(`SHOW CREATE TABLE ${ident(name)}`);
  const ddl = String(rows[0]!['Create Table']).replace(/^CREATE TABLE /, 'CREATE TABLE IF NOT EXISTS ');
  await dst.query(ddl);
}

export async function deleteAccountRows(db: Queryable, table: string, accountId: number): Promise<number> {
  let total = 0;
  for (;;) {
    const [res] = await db.query<ResultSetHeader>(`DELETE FROM ${ident(table)} WHERE account_id = ? LIMIT 10000`, [accountId]);
    total += Number(res.affectedRows);
    if (Number(res.affectedRows) < 10000) return total;
  }
}

export interface RowsCopy {
  table: string;
  /** Rows copied by this call. */
  rows: number;
  /** The account's rows in the source table when compared (not for counters). */
  sourceRows?: number;
  /** The comparison after the copy: equal (or, for counters, the target at least the source). */
  equal: boolean;
}

/**
 * Copies one table's rows of the account and compares both sides afterwards. Counters are "equal" when
 * the target holds at least the source's values (it may hold more from an earlier stay). `since` (Unix
 * seconds, the source's clock) copies only rows of insert-only tables stamped since then: the rows a
 * pre-copy may have missed (the caller leaves a margin for transactions in flight at the pre-copy).
 */
export async function copyAccountRows(src: Queryable, dst: Queryable, t: AccountRowTable, accountId: number, o: { chunkRows: number; replace?: boolean; since?: number }): Promise<RowsCopy> {
  await ensureTableLike(src, dst, t.name);
  const delta = o.since !== undefined && t.insertedAt !== undefined && o.replace !== true && t.mode === 'insert-only';
  const where = delta ? { sql: `account_id = ? AND ${ident(t.insertedAt!)} >= FROM_UNIXTIME(?)`, params: [accountId, o.since] } : byAccount(accountId);
  const spec = { table: t.name, columns: t.columns, keys: t.keys, where };
  if (t.mode === 'counters') {
    const rows = await copyRows(src, dst, spec, { mode: 'insert', chunkRows: o.chunkRows, insert: greatestUpsertSql(t.name, t.columns, t.keys) });
    return { table: t.name, rows, equal: await countersCovered(src, dst, t, accountId) };
  }
  const replace = o.replace === true || t.mode === 'replace';
  if (replace) await deleteAccountRows(dst, t.name, accountId);
  const rows = await copyRows(src, dst, spec, { mode: replace ? 'insert' : 'ignore', chunkRows: o.chunkRows });
  const [s, d] = await Promise.all([rowChecksum(src, t, accountId), rowChecksum(dst, t, accountId)]);
  return { table: t.name, rows, sourceRows: s.rows, equal: sameChecksum(s, d) };
}

async function countersCovered(src: Queryable, dst: Queryable, t: AccountRowTable, accountId: number): Promise<boolean> {
  const read = async (db: Queryable) => {
    const [rows] = await db.query<Array<RowDataPacket & Record<string, unknown>>>(`SELECT * FROM ${ident(t.name)} WHERE account_id = ?`, [accountId]);
    return rows[0];
  };
  const [s, d] = await Promise.all([read(src), read(dst)]);
  if (!s) return true;
  if (!d) return false;
  return t.columns.every((c) => t.keys.includes(c) || Number(d[c]) >= Number(s[c]));
}
