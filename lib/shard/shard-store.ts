import type { Kysely } from 'kysely';
import type { Pool as PromisePool } from 'mysql2/promise';
import type { DbPool } from '../db/connect.js';
import { migrate } from '../db/migrations.js';
import { KeyedSerializer, withLockRetry } from '../db/deadlock-retry.js';
import { reserveIds } from './id-allocator.js';
import { registerTable, registryWhere, type ListTablesFilter } from './table-registry.js';
import { MetricDictionary, type MetricIdsOptions, type MetricName } from './metric-dictionary.js';
import type { RollupState, ShardDatabase, TableInfo } from './shard-database.js';
import { assertId, ledgerTableName, nextTableSpanStart, parseLedgerTableName, parseTemplateName, tableName, templateName, type TableKind, TABLE_KINDS } from './table-naming.js';

export interface AgentIdentity {
  applicationId: number;
  host: string;
  pid: number;
  language: string;
}

export type { ListTablesFilter } from './table-registry.js';

/**
 * One shard server's database: template tables, the table registry, the per-account dictionary
 * and agents. Caches are per process; every creation path is race-safe across processes.
 */
export class ShardStore {
  readonly dictionary: MetricDictionary;
  readonly #tables = new Map<string, Promise<TableInfo>>();
  readonly #agents = new Map<string, number>();
  readonly #serial = new KeyedSerializer();
  /** kind → version → column names. */
  #templates = new Map<TableKind, Map<number, readonly string[]>>();

  constructor(
    readonly shardId: number,
    readonly db: DbPool<ShardDatabase>,
    opts: { maxMetricsPerApplication: number },
  ) {
    this.dictionary = new MetricDictionary(db.promise, opts.maxMetricsPerApplication);
  }

  get pool(): PromisePool {
    return this.db.promise;
  }
  get kysely(): Kysely<ShardDatabase> {
    return this.db.kysely;
  }

  /** Applies pending schema/shard migrations and loads the template definitions. */
  async migrate(opts: { until?: string } = {}): Promise<string[]> {
    const applied = await migrate(this.pool, 'shard', opts);
    await this.loadTemplates();
    return applied;
  }

  /** Reads every template table's columns from information_schema (after a migration added one). */
  async loadTemplates(): Promise<void> {
    const [rows] = await this.pool.query<any[]>(
      `SELECT TABLE_NAME AS t, COLUMN_NAME AS c FROM information_schema.COLUMNS
       WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'template\\_%' ORDER BY TABLE_NAME, ORDINAL_POSITION`,
    );
    const templates = new Map<TableKind, Map<number, string[]>>();
    for (const r of rows) {
      const parsed = parseTemplateName(String(r.t));
      if (!parsed) continue;
      const byVersion = templates.get(parsed.kind) ?? new Map<number, string[]>();
      templates.set(parsed.kind, byVersion);
      const cols = byVersion.get(parsed.version) ?? [];
      cols.push(String(r.c));
      byVersion.set(parsed.version, cols);
    }
    for (const kind of TABLE_KINDS) if (!templates.get(kind)?.size) throw new Error(`cannot use shard ${this.shardId}: no template for ${kind} tables (not migrated?)`);
    this.#templates = templates;
  }

  newestTemplateVersion(kind: TableKind): number {
    const versions = [...(this.#templates.get(kind)?.keys() ?? [])];
    if (versions.length === 0) throw new Error('BUG: templates not loaded; call migrate() or loadTemplates() first');
    return Math.max(...versions);
  }

  columnsOf(kind: TableKind, version: number): readonly string[] {
    const cols = this.#templates.get(kind)?.get(version);
    if (!cols) throw new Error(`BUG: template ${templateName(kind, version)} is unknown on shard ${this.shardId}`);
    return cols;
  }

  /**
   * The table of `kind` holding account's rows at time t, created LIKE the newest template exactly
   * once even when several processes race (a named lock per table), and recorded in the registry.
   */
  ensureTable(accountId: number, kind: TableKind, t: number): Promise<TableInfo> {
    const name = tableName(kind, accountId, t);
    let p = this.#tables.get(name);
    if (!p) {
      p = this.#create(accountId, kind, t, name);
      this.#tables.set(name, p);
      p.catch(() => this.#tables.delete(name));
    }
    return p;
  }

  async #create(accountId: number, kind: TableKind, t: number, name: string): Promise<TableInfo> {
    return this.#infoOf(await registerTable(this.pool, { name, accountId, kind, t, newestVersion: this.newestTemplateVersion(kind) }));
  }

  #infoOf(r: any): TableInfo {
    const kind = r.kind as TableKind;
    const start = Number(r.period_start);
    const version = Number(r.template_version);
    return {
      name: String(r.name),
      accountId: Number(r.account_id),
      kind,
      start,
      end: nextTableSpanStart(kind, start),
      version,
      columns: this.columnsOf(kind, version),
      rollupState: r.rollup_state as RollupState,
    };
  }

  /** The registry's record of a table (fresh from the database), or undefined. */
  async tableInfo(name: string): Promise<TableInfo | undefined> {
    const [rows] = await this.pool.query<any[]>('SELECT * FROM table_registry WHERE name = ?', [name]);
    return rows[0] ? this.#infoOf(rows[0]) : undefined;
  }

  /** Registered tables, oldest first. */
  async listTables(f: ListTablesFilter = {}): Promise<TableInfo[]> {
    const where = registryWhere(f);
    const [rows] = await this.pool.query<any[]>(`SELECT * FROM table_registry ${where.sql} ORDER BY period_start, name`, where.params);
    return rows.map((r) => this.#infoOf(r)).filter((t) => f.from === undefined || t.end > f.from);
  }

  async setRollupState(name: string, state: RollupState): Promise<void> {
    await this.pool.query('UPDATE table_registry SET rollup_state = ?, rolled_at = IF(? = \'done\', CURRENT_TIMESTAMP(3), rolled_at) WHERE name = ?', [state, state, name]);
    const cached = this.#tables.get(name);
    if (cached) cached.then((i) => (i.rollupState = state)).catch(() => undefined);
  }

  /** Drops a table and its registry row (purge, moves). The caller decides that it may go. */
  async dropTable(name: string): Promise<void> {
    const info = await this.tableInfo(name);
    if (!info) return;
    await this.pool.query(`DROP TABLE IF EXISTS ${tableName(info.kind, info.accountId, info.start)}`);
    await this.pool.query('DELETE FROM table_registry WHERE name = ?', [name]);
    this.#tables.delete(name);
  }

  /** Forgets cached tables (after another process dropped or moved some). */
  forgetTables(accountId?: number): void {
    if (accountId === undefined) this.#tables.clear();
    else for (const k of this.#tables.keys()) if (k.split('_')[1] === String(accountId)) this.#tables.delete(k);
  }

  metricIds(accountId: number, names: readonly MetricName[], opts?: MetricIdsOptions): Promise<number[]> {
    assertId('account id', accountId);
    return this.dictionary.ids(accountId, names, opts);
  }

  /** id → (name, scope) for the given ids of an account. */
  async metricNames(accountId: number, ids: readonly number[]): Promise<Map<number, MetricName>> {
    if (ids.length === 0) return new Map();
    const [rows] = await this.pool.query<any[]>(
      `SELECT id, name, scope FROM metric_names WHERE account_id = ? AND id IN (${ids.map(() => '?').join(', ')})`,
      [accountId, ...ids],
    );
    return new Map(rows.map((r) => [Number(r.id), { name: String(r.name), scope: String(r.scope) }]));
  }

  /** Metric ids of an account by exact names (any scope unless given) or by name prefix. */
  async findMetrics(accountId: number, f: { names?: readonly string[]; prefix?: string; scope?: string; limit?: number }): Promise<Array<MetricName & { id: number }>> {
    const where = ['account_id = ?'];
    const params: unknown[] = [accountId];
    if (f.names) {
      if (f.names.length === 0) return [];
      where.push(`name IN (${f.names.map(() => '?').join(', ')})`);
      params.push(...f.names);
    }
    if (f.prefix !== undefined) {
      where.push('name LIKE ?');
      params.push(f.prefix.replace(/[\\%_]/g, (c) => `\\${c}`) + '%');
    }
    if (f.scope !== undefined) {
      where.push('scope = ?');
      params.push(f.scope);
    }
    const [rows] = await this.pool.query<any[]>(
      `SELECT id, name, scope FROM metric_names WHERE ${where.join(' AND ')} ORDER BY name, scope LIMIT ${Math.max(1, Math.min(f.limit ?? 10000, 100000))}`,
      params,
    );
    return rows.map((r) => ({ id: Number(r.id), name: String(r.name), scope: String(r.scope) }));
  }

  /** The agent's id, created on first sight. */
  async agentId(accountId: number, a: AgentIdentity): Promise<number> {
    assertId('account id', accountId);
    const k = `${accountId}\u0000${a.applicationId}\u0000${a.host}\u0000${a.pid}\u0000${a.language}`;
    const cached = this.#agents.get(k);
    if (cached !== undefined) return cached;
    const select = async () => {
      const [rows] = await this.pool.query<any[]>(
        'SELECT id FROM agents WHERE account_id = ? AND application_id = ? AND host = ? AND pid = ? AND language = ?',
        [accountId, a.applicationId, a.host, a.pid, a.language],
      );
      return rows[0] ? Number(rows[0].id) : undefined;
    };
    // First sight: one registration per agent identity at a time in this process (all agents of an
    // application register its pseudo-agent at once), retried when another process deadlocks us.
    const id = await this.#serial.run(k, async () => {
      const found = this.#agents.get(k) ?? (await select());
      if (found !== undefined) return found;
      await withLockRetry(async () => {
        const conn = await this.pool.getConnection();
        try {
          const reserved = await reserveIds(conn, accountId, 'agent', 1);
          await conn.query('INSERT IGNORE INTO agents (account_id, id, application_id, host, pid, language) VALUES (?, ?, ?, ?, ?, ?)', [
            accountId, reserved, a.applicationId, a.host, a.pid, a.language,
          ]);
        } finally {
          conn.release();
        }
      });
      const made = await select();
      if (made === undefined) throw new Error('BUG: agent row missing after insert');
      return made;
    });
    if (this.#agents.size > 1_000_000) this.#agents.clear();
    this.#agents.set(k, id);
    return id;
  }

  /** The application-wide pseudo-agent (host '', pid 0, language ''): rows merged across all agents. */
  applicationAgentId(accountId: number, applicationId: number): Promise<number> {
    return this.agentId(accountId, { applicationId, host: '', pid: 0, language: '' });
  }

  async listAgents(accountId: number, applicationId?: number): Promise<Array<AgentIdentity & { id: number }>> {
    const [rows] = await this.pool.query<any[]>(
      `SELECT id, application_id, host, pid, language FROM agents WHERE account_id = ?${applicationId !== undefined ? ' AND application_id = ?' : ''} ORDER BY id`,
      applicationId !== undefined ? [accountId, applicationId] : [accountId],
    );
    return rows.map((r) => ({ id: Number(r.id), applicationId: Number(r.application_id), host: r.host, pid: Number(r.pid), language: r.language }));
  }

  /**
   * Drops write-ledger tables whose data day and last commit are both more than keepDays before now
   * (retries come within minutes; late data for an old day keeps its ledger alive).
   */
  async dropOldLedgers(now: number, keepDays = 3): Promise<string[]> {
    const [rows] = await this.pool.query<any[]>(
      "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'wl\\_%'",
    );
    const cutoff = Math.floor(now / 86400) * 86400 - keepDays * 86400;
    const dropped: string[] = [];
    for (const r of rows) {
      const day = parseLedgerTableName(String(r.t));
      if (day === undefined || day >= cutoff) continue;
      const [last] = await this.pool.query<any[]>(`SELECT UNIX_TIMESTAMP(MAX(committed_at)) AS last FROM ${ledgerTableName(day)}`);
      if (last[0]?.last !== null && Number(last[0]?.last) >= now - keepDays * 86400) continue;
      await this.pool.query(`DROP TABLE IF EXISTS ${ledgerTableName(day)}`);
      dropped.push(ledgerTableName(day));
    }
    return dropped;
  }

  async close(): Promise<void> {
    await this.db.end();
  }
}
