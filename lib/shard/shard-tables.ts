import { LRUCache } from 'lru-cache';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { RollupState, ShardDatabase, TableInfo } from './shard-database.js';
import type { ShardTemplates } from './shard-templates.js';
import { nextTableSpanStart, tableName, tableSpanStart, templateName, type TableKind } from './table-naming.js';

export interface ListTablesFilter {
  accountId?: number;
  kind?: TableKind;
  /** Tables whose span overlaps [from, to). */
  from?: number;
  to?: number;
  states?: RollupState[];
}

type RegistryRow = Selectable<ShardDatabase['table_registry']>;

/**
 * The per-period tables of one shard and their registry (`table_registry`): creation LIKE the newest
 * template exactly once across racing processes, look-ups, rollup states, drops. Registry statements go
 * through kysely with typed rows; DDL is built here from names of lib/shard/table-naming.ts (integers
 * and fixed prefixes only). The cache of tables this process wrote or read is LRU-bounded.
 */
export class ShardTables {
  /** One entry per table this process wrote or read (account × hour adds up): LRU-bounded. */
  readonly #cache = new LRUCache<string, Promise<TableInfo>>({ max: 200_000 });

  constructor(
    private readonly db: Kysely<ShardDatabase>,
    private readonly templates: ShardTemplates,
  ) {}

  /**
   * The table of `kind` holding account's rows at time t, created LIKE the newest template exactly
   * once even when several processes race, and recorded in the registry.
   */
  ensure(accountId: number, kind: TableKind, t: number): Promise<TableInfo> {
    const name = tableName(kind, accountId, t);
    let p = this.#cache.get(name);
    if (!p) {
      p = this.#create(accountId, kind, t, name);
      this.#cache.set(name, p);
      p.catch(() => this.#cache.delete(name));
    }
    return p;
  }

  /**
   * One round trip for a table that exists (pre-created before its hour): the registry row and whether
   * the table is there (an information_schema lookup by exact name, which opens no table). Otherwise
   * the row is inserted when missing and the table created: three round trips. No lock: every
   * statement is idempotent, the registry row comes first and CREATE TABLE IF NOT EXISTS is atomic, so
   * racing processes all end with the same row and one table LIKE the template version in that row (a
   * row whose table a crash never made is healed here).
   */
  async #create(accountId: number, kind: TableKind, t: number, name: string): Promise<TableInfo> {
    const read = () =>
      this.db
        .selectFrom('table_registry as r')
        .selectAll('r')
        .select(sql<number>`(SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ${name})`.as('present'))
        .where('r.name', '=', name)
        .executeTakeFirst();
    let row = await read();
    if (row && Number(row.present) > 0) return this.infoOf(row);
    if (!row) {
      await this.db
        .insertInto('table_registry')
        .ignore()
        .values({ name, account_id: accountId, kind, period_start: tableSpanStart(kind, t), template_version: this.templates.newest(kind) })
        .execute();
      row = await read();
      if (!row) throw new Error(`cannot create table ${name}: its registry row vanished (dropped meanwhile)`);
    }
    const info = this.infoOf(row);
    await sql.raw(`CREATE TABLE IF NOT EXISTS ${name} LIKE ${templateName(kind, info.version)}`).execute(this.db);
    return info;
  }

  infoOf(r: Pick<RegistryRow, 'name' | 'account_id' | 'kind' | 'period_start' | 'template_version' | 'rollup_state'>): TableInfo {
    const kind = r.kind;
    const start = Number(r.period_start);
    const version = Number(r.template_version);
    return {
      name: String(r.name),
      accountId: Number(r.account_id),
      kind,
      start,
      end: nextTableSpanStart(kind, start),
      version,
      columns: this.templates.columnsOf(kind, version),
      rollupState: r.rollup_state,
    };
  }

  /** The registry's record of a table (fresh from the database), or undefined. */
  async info(name: string): Promise<TableInfo | undefined> {
    const row = await this.db.selectFrom('table_registry').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? this.infoOf(row) : undefined;
  }

  /** Registered tables, oldest first. */
  async list(f: ListTablesFilter = {}): Promise<TableInfo[]> {
    let q = this.db.selectFrom('table_registry').selectAll();
    if (f.accountId !== undefined) q = q.where('account_id', '=', f.accountId);
    if (f.kind) q = q.where('kind', '=', f.kind);
    if (f.states?.length) q = q.where('rollup_state', 'in', f.states);
    // A span overlaps [from, to) when it starts before `to` and ends after `from`; spans are at most a
    // year long, so "starts after from - 1 year" bounds the index range before the exact test below.
    if (f.to !== undefined) q = q.where('period_start', '<', f.to);
    if (f.from !== undefined) q = q.where('period_start', '>', f.from - 366 * 86400);
    const rows = await q.orderBy('period_start').orderBy('name').execute();
    return rows.map((r) => this.infoOf(r)).filter((t) => f.from === undefined || t.end > f.from);
  }

  async setRollupState(name: string, state: RollupState): Promise<void> {
    await this.db
      .updateTable('table_registry')
      .set({ rollup_state: state, rolled_at: state === 'done' ? sql<string>`CURRENT_TIMESTAMP(3)` : sql<string>`rolled_at` })
      .where('name', '=', name)
      .execute();
    const cached = this.#cache.get(name);
    if (cached) cached.then((i) => (i.rollupState = state)).catch(() => undefined);
  }

  /** Drops a table and its registry row (purge, moves). The caller decides that it may go. */
  async drop(name: string): Promise<void> {
    const info = await this.info(name);
    if (!info) return;
    await sql.raw(`DROP TABLE IF EXISTS ${tableName(info.kind, info.accountId, info.start)}`).execute(this.db);
    await this.db.deleteFrom('table_registry').where('name', '=', name).execute();
    this.#cache.delete(name);
  }

  /** Forgets cached tables (after another process dropped or moved some). */
  forget(accountId?: number): void {
    if (accountId === undefined) this.#cache.clear();
    else for (const k of [...this.#cache.keys()]) if (k.split('_')[1] === String(accountId)) this.#cache.delete(k);
  }
}
