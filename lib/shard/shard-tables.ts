import { LRUCache } from 'lru-cache';
import { sql, type Kysely } from 'kysely';
import type { RollupState, ShardDatabase, TableInfo } from './shard-database.js';
import type { ShardTemplates } from './shard-templates.js';
import { registerTable, registryQuery, type ListTablesFilter, type RegistryRow } from './table-registry.js';
import { nextTableSpanStart, tableName, type TableKind } from './table-naming.js';

export type { ListTablesFilter } from './table-registry.js';

/**
 * The per-period tables of one shard and their registry (`table_registry`): creation LIKE the newest
 * template exactly once across racing processes and the indexed registry reads (lib/shard/
 * table-registry.ts, pure and unit-tested), look-ups, rollup states and drops (kysely, typed rows). DDL
 * is built from names of lib/shard/table-naming.ts (integers and fixed prefixes only). The cache of
 * tables this process wrote or read is LRU-bounded.
 */
export class ShardTables {
  /**
   * One entry per table this process wrote or read (account × hour adds up): LRU-bounded by bytes and
   * so by count (≥ 96 bytes an entry: at most ~175,000). No `max`: lru-cache preallocates `max` slots.
   */
  readonly #cache = new LRUCache<string, Promise<TableInfo>>({ maxSize: 16 * 1024 * 1024, sizeCalculation: (_v, k) => k.length + 96 });

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

  /** The table's entry if this process has it cached (resolved or being created), without creating it. */
  cached(accountId: number, kind: TableKind, t: number): Promise<TableInfo> | undefined {
    return this.#cache.get(tableName(kind, accountId, t));
  }

  /** The registry row and the table, created when missing (lib/shard/table-registry.ts registerTable). */
  async #create(accountId: number, kind: TableKind, t: number, name: string): Promise<TableInfo> {
    return this.infoOf(await registerTable(this.db, { name, accountId, kind, t, newestVersion: this.templates.newest(kind) }));
  }

  infoOf(r: Pick<RegistryRow, 'name' | 'account_id' | 'kind' | 'period_start' | 'template_version' | 'rollup_state'> & { sealed_through?: number | null }): TableInfo {
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
      listsPeriods: this.templates.listsPeriods(kind, version),
      ...(r.sealed_through === null || r.sealed_through === undefined ? {} : { sealedThrough: Number(r.sealed_through) }),
    };
  }

  /** The registry's record of a table (fresh from the database), or undefined. */
  async info(name: string): Promise<TableInfo | undefined> {
    const row = await this.db.selectFrom('table_registry').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? this.infoOf(row) : undefined;
  }

  /** Registered tables, oldest first (a WHERE on the registry's indexes: registryQuery). */
  async list(f: ListTablesFilter = {}): Promise<TableInfo[]> {
    const rows = await registryQuery(this.db, f).orderBy('period_start').orderBy('name').execute();
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
