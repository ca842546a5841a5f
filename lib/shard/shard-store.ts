import type { Kysely } from 'kysely';
import { ledgerDrop, ledgerLastCommit, type LedgerLastRow } from './ledger-sql.js';
import type { Pool as PromisePool, RowDataPacket } from 'mysql2/promise';
import type { BulkConnection } from '../db/bulk-pool.js';
import type { DbPool } from '../db/connect.js';
import { migrate } from '../db/migrations.js';
import { MetricDictionary, type MetricIdsOptions, type MetricName } from './metric-dictionary.js';
import { ShardAgents, type AgentIdentity } from './shard-agents.js';
import type { RollupState, ShardDatabase, TableInfo } from './shard-database.js';
import { ShardTables, type ListTablesFilter } from './shard-tables.js';
import { ShardTemplates } from './shard-templates.js';
import { assertId, ledgerTableName, parseLedgerTableName, type TableKind } from './table-naming.js';

export type { AgentIdentity } from './shard-agents.js';
export type { ListTablesFilter } from './shard-tables.js';

/**
 * One shard server's database, by concern: its templates (shard-templates.ts), the per-period tables
 * and their registry (shard-tables.ts), the per-account dictionary (metric-dictionary.ts) and agents
 * (shard-agents.ts), and the write ledgers. Caches are per process and bounded; every creation path is
 * race-safe across processes.
 */
export class ShardStore {
  readonly dictionary: MetricDictionary;
  readonly templates: ShardTemplates;
  readonly tables: ShardTables;
  readonly agents: ShardAgents;

  /** A read replica's store (read-only): a registered table missing there means the replica is behind. */
  readonly replica: boolean;

  constructor(
    readonly shardId: number,
    readonly db: DbPool<ShardDatabase>,
    opts: { maxMetricsPerApplication: number; replica?: boolean },
  ) {
    this.replica = opts.replica === true;
    this.dictionary = new MetricDictionary(db.kysely, opts.maxMetricsPerApplication);
    this.templates = new ShardTemplates(shardId);
    this.tables = new ShardTables(db.kysely, this.templates);
    this.agents = new ShardAgents(db.kysely);
  }

  get pool(): PromisePool {
    return this.db.promise;
  }
  /** The shard writer's pool for one-round-trip transactions (several statements per query): nothing else uses it. */
  get batchPool(): PromisePool {
    return this.db.batches().promise;
  }
  /**
   * A connection of the shard writer's bulk pool (lib/db/bulk-pool.ts), or undefined when the server
   * cannot run bulk statements (MySQL): nothing else uses it.
   */
  bulkConnection(): Promise<BulkConnection | undefined> {
    return this.db.bulk().connection();
  }
  get kysely(): Kysely<ShardDatabase> {
    return this.db.kysely;
  }

  /**
   * Applies pending schema/shard migrations and loads the template definitions: DDL and information_schema
   * reads (slow on a shard of many tables), so with the job bound (lib/db/connect.ts).
   */
  async migrate(opts: { until?: string } = {}): Promise<string[]> {
    const applied = await migrate(this.db.jobs.promise, 'shard', opts);
    await this.templates.load(this.db.jobs.promise);
    return applied;
  }

  /** Reads every template table's columns from information_schema (after a migration added one). */
  loadTemplates(): Promise<void> {
    return this.templates.load(this.pool);
  }
  newestTemplateVersion(kind: TableKind): number {
    return this.templates.newest(kind);
  }
  columnsOf(kind: TableKind, version: number): readonly string[] {
    return this.templates.columnsOf(kind, version);
  }
  primaryKeyOf(kind: TableKind, version: number): readonly string[] {
    return this.templates.primaryKeyOf(kind, version);
  }

  // The per-period tables and their registry: lib/shard/shard-tables.ts.
  ensureTable(accountId: number, kind: TableKind, t: number): Promise<TableInfo> {
    return this.tables.ensure(accountId, kind, t);
  }
  /** ensureTable's answer when this process has the table cached; undefined (nothing created) when not. */
  cachedTable(accountId: number, kind: TableKind, t: number): Promise<TableInfo> | undefined {
    return this.tables.cached(accountId, kind, t);
  }
  tableInfo(name: string): Promise<TableInfo | undefined> {
    return this.tables.info(name);
  }
  listTables(f: ListTablesFilter = {}): Promise<TableInfo[]> {
    return this.tables.list(f);
  }
  setRollupState(name: string, state: RollupState): Promise<void> {
    return this.tables.setRollupState(name, state);
  }
  dropTable(name: string): Promise<void> {
    return this.tables.drop(name);
  }
  forgetTables(accountId?: number): void {
    this.tables.forget(accountId);
  }

  metricIds(accountId: number, names: readonly MetricName[], opts?: MetricIdsOptions): Promise<number[]> {
    assertId('account id', accountId);
    return this.dictionary.ids(accountId, names, opts);
  }

  /** id → (name, scope) for the given ids of an account. */
  async metricNames(accountId: number, ids: readonly number[]): Promise<Map<number, MetricName>> {
    if (ids.length === 0) return new Map();
    const rows = await this.kysely.selectFrom('metric_names').select(['id', 'name', 'scope']).where('account_id', '=', accountId).where('id', 'in', [...ids]).execute();
    return new Map(rows.map((r) => [Number(r.id), { name: String(r.name), scope: String(r.scope) }]));
  }

  /** Metric ids of an account by exact names (any scope unless given) or by name prefix. */
  async findMetrics(accountId: number, f: { names?: readonly string[]; prefix?: string; scope?: string; limit?: number }): Promise<Array<MetricName & { id: number }>> {
    let q = this.kysely.selectFrom('metric_names').select(['id', 'name', 'scope']).where('account_id', '=', accountId);
    if (f.names) {
      if (f.names.length === 0) return [];
      q = q.where('name', 'in', [...f.names]);
    }
    if (f.prefix !== undefined) q = q.where('name', 'like', f.prefix.replace(/[\\%_]/g, (c) => `\\${c}`) + '%');
    if (f.scope !== undefined) q = q.where('scope', '=', f.scope);
    const rows = await q.orderBy('name').orderBy('scope').limit(Math.max(1, Math.min(f.limit ?? 10000, 100000))).execute();
    return rows.map((r) => ({ id: Number(r.id), name: String(r.name), scope: String(r.scope) }));
  }

  // Agents: lib/shard/shard-agents.ts.
  agentId(accountId: number, a: AgentIdentity): Promise<number> {
    return this.agents.id(accountId, a);
  }
  applicationAgentId(accountId: number, applicationId: number): Promise<number> {
    return this.agents.applicationAgent(accountId, applicationId);
  }
  listAgents(accountId: number, applicationId?: number): Promise<Array<AgentIdentity & { id: number }>> {
    return this.agents.list(accountId, applicationId);
  }

  /**
   * Drops write-ledger tables whose data day and last commit are both more than keepDays before now
   * (retries come within minutes; late data for an old day keeps its ledger alive).
   */
  async dropOldLedgers(now: number, keepDays = 3): Promise<string[]> {
    // A sweep (DROP TABLE of a day's ledger) is a job: the job bound (lib/db/connect.ts).
    const pool = this.db.jobs.promise;
    // Raw: information_schema and per-day ledger tables are outside the typed schema.
    const [rows] = await pool.query<Array<RowDataPacket & { t: string }>>(
      "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'wl\\_%'",
    );
    const cutoff = Math.floor(now / 86400) * 86400 - keepDays * 86400;
    const dropped: string[] = [];
    for (const r of rows) {
      const day = parseLedgerTableName(String(r.t));
      if (day === undefined || day >= cutoff) continue;
      const lastCommit = ledgerLastCommit(ledgerTableName(day));
      const [last] = await pool.query<LedgerLastRow[]>(lastCommit.sql, lastCommit.params);
      if (last[0]?.last !== null && Number(last[0]?.last) >= now - keepDays * 86400) continue;
      await pool.query(ledgerDrop(ledgerTableName(day)).sql);
      dropped.push(ledgerTableName(day));
    }
    return dropped;
  }

  async close(): Promise<void> {
    await this.db.end();
  }
}
