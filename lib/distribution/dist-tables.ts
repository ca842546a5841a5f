import type { ShardStore } from '../shard/shard-store.js';
import { parseTableName, tableName, tableSpanStart, type TableKind } from '../shard/table-naming.js';

/**
 * Distribution tables (schema/shard/0009): one per account per span, like the timeslice tables, with
 * prefixes of their own: dm_ (minute rows, per hour), dh_ (hour rows, per month), dd_ (day rows, per
 * year). Names are built from integers and fixed prefixes only (safe in SQL), through table-naming.
 */
const PREFIX: Record<TableKind, string> = { minute: 'dm', hour: 'dh', day: 'dd' };
const TS_PREFIX: Record<TableKind, string> = { minute: 'ts', hour: 'th', day: 'td' };
export const DIST_TEMPLATE_VERSION = 1;

export function distTableName(kind: TableKind, accountId: number, t: number): string {
  return PREFIX[kind] + tableName(kind, accountId, t).slice(2);
}

/** The distribution table beside a timeslice table (same kind, account and span). */
export function distTableOf(timesliceTable: string): string | undefined {
  const p = parseTableName(timesliceTable);
  return p ? distTableName(p.kind, p.accountId, p.start) : undefined;
}

export function parseDistTableName(name: string): ReturnType<typeof parseTableName> {
  const kind = (Object.keys(PREFIX) as TableKind[]).find((k) => name.startsWith(`${PREFIX[k]}_`));
  if (!kind) return undefined;
  const p = parseTableName(TS_PREFIX[kind] + name.slice(2));
  return p && p.kind === kind ? p : undefined;
}

/** Backquoted name of a distribution table; anything else is a bug. */
export function distIdentifier(name: string): string {
  if (!parseDistTableName(name)) throw new Error(`BUG: ${JSON.stringify(name)} is not a distribution table name`);
  return `\`${name}\``;
}

const known = new WeakMap<ShardStore, Map<string, Promise<string>>>();

/**
 * The distribution table of `kind` holding account's rows at t, created LIKE its template and
 * registered (idempotent and race-safe: CREATE TABLE IF NOT EXISTS, INSERT IGNORE). Call it outside a
 * transaction: DDL commits implicitly.
 */
export function ensureDistTable(store: ShardStore, accountId: number, kind: TableKind, t: number): Promise<string> {
  const cache = known.get(store) ?? new Map<string, Promise<string>>();
  known.set(store, cache);
  const name = distTableName(kind, accountId, t);
  let p = cache.get(name);
  if (!p) {
    p = (async () => {
      await store.pool.query(`CREATE TABLE IF NOT EXISTS \`${name}\` LIKE template_dist_${kind}_v${DIST_TEMPLATE_VERSION}`);
      await store.kysely
        .insertInto('dist_tables')
        .ignore()
        .values({ name, account_id: accountId, kind, period_start: tableSpanStart(kind, t), template_version: DIST_TEMPLATE_VERSION })
        .execute();
      return name;
    })();
    cache.set(name, p);
    p.catch(() => cache.delete(name));
  }
  return p;
}

/** Registered distribution tables among `names`. */
export async function existingDistTables(store: ShardStore, names: readonly string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const rows = await store.kysely.selectFrom('dist_tables').select('name').where('name', 'in', [...names]).execute();
  return new Set(rows.map((r) => String(r.name)));
}

/** Drops the distribution table beside a dropped timeslice table (purge), if there is one. */
export async function dropDistTableOf(store: ShardStore, timesliceTable: string): Promise<void> {
  const name = distTableOf(timesliceTable);
  if (!name) return;
  await store.pool.query(`DROP TABLE IF EXISTS ${distIdentifier(name)}`);
  await store.kysely.deleteFrom('dist_tables').where('name', '=', name).execute();
  known.get(store)?.delete(name);
}

/** Forgets a cached table (another process dropped it). */
export function forgetDistTable(store: ShardStore, name: string): void {
  known.get(store)?.delete(name);
}
