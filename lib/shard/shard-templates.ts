import type { Pool as PromisePool, RowDataPacket } from 'mysql2/promise';
import { parseTemplateName, templateName, type TableKind, TABLE_KINDS } from './table-naming.js';

/**
 * The template tables of one shard (`template_<kind>_v<k>`): which versions exist and their columns,
 * read from information_schema after every migration. New tables are created LIKE the newest version;
 * readers build a table's SELECT list from the columns of the version recorded for it.
 */
export class ShardTemplates {
  /** kind → version → column names. */
  #byKind = new Map<TableKind, Map<number, readonly string[]>>();
  /** template name → index name ('PRIMARY' included) → its columns, in key order. */
  #indexes = new Map<string, ReadonlyMap<string, readonly string[]>>();

  constructor(private readonly shardId: number) {}

  /** Reads every template table's columns (after a migration added one). */
  async load(pool: PromisePool): Promise<void> {
    const [rows] = await pool.query<Array<RowDataPacket & { t: string; c: string }>>(
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
    const [keys] = await pool.query<Array<RowDataPacket & { t: string; i: string; c: string }>>(
      `SELECT TABLE_NAME AS t, INDEX_NAME AS i, COLUMN_NAME AS c FROM information_schema.STATISTICS
       WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'template\\_%' ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
    );
    const indexes = new Map<string, Map<string, string[]>>();
    for (const r of keys) {
      const byIndex = indexes.get(String(r.t)) ?? new Map<string, string[]>();
      indexes.set(String(r.t), byIndex);
      byIndex.set(String(r.i), [...(byIndex.get(String(r.i)) ?? []), String(r.c)]);
    }
    this.#byKind = templates;
    this.#indexes = indexes;
  }

  newest(kind: TableKind): number {
    const versions = [...(this.#byKind.get(kind)?.keys() ?? [])];
    if (versions.length === 0) throw new Error('BUG: templates not loaded; call migrate() or loadTemplates() first');
    return Math.max(...versions);
  }

  /** The primary key of a template version's tables, in key order (a copy pages through it in that order). */
  primaryKeyOf(kind: TableKind, version: number): readonly string[] {
    const key = this.#indexes.get(templateName(kind, version))?.get('PRIMARY');
    if (!key) throw new Error(`BUG: template ${templateName(kind, version)} is unknown on shard ${this.shardId}`);
    return key;
  }

  /**
   * Whether a chart read of this template's tables (one agent, some metrics, a window of periods) lists
   * the periods: its primary key starts with the period and no secondary key starts with agent_id, so a
   * range of periods would read every agent's rows of the window (minute tables from v4 on, shard
   * migration 0012; dashboard/series-sql.ts).
   */
  listsPeriods(kind: TableKind, version: number): boolean {
    if (this.primaryKeyOf(kind, version)[0] !== 'period') return false;
    for (const [index, columns] of this.#indexes.get(templateName(kind, version))!) if (index !== 'PRIMARY' && columns[0] === 'agent_id') return false;
    return true;
  }

  columnsOf(kind: TableKind, version: number): readonly string[] {
    const cols = this.#byKind.get(kind)?.get(version);
    if (!cols) throw new Error(`BUG: template ${templateName(kind, version)} is unknown on shard ${this.shardId}`);
    return cols;
  }
}
