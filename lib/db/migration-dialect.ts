import { Kysely, MysqlDialect, sql, type DatabaseIntrospector, type SchemaMetadata, type TableMetadata } from 'kysely';
import type mysql from 'mysql2';

/**
 * kysely's Migrator learns whether its two tables exist by asking the dialect's introspector for every
 * table of the database (Migrator.#doesTableExist, kysely 0.28), which on MySQL and MariaDB is a join of
 * information_schema.COLUMNS and TABLES over the whole schema: it opens every table of the shard. With
 * a shard's hundreds of thousands of tables (issue #19's 1,500 accounts) that took longer than any
 * start-up may: 29,250 tables (150 accounts) still had not answered after 5 minutes. This dialect's
 * introspector lists only the tables it is built for, looked up by name (information_schema.TABLES by
 * TABLE_NAME opens nothing); the Migrator uses it for nothing else.
 */
class NamedTablesIntrospector implements DatabaseIntrospector {
  constructor(
    private readonly db: Kysely<unknown>,
    private readonly names: readonly string[],
  ) {}

  async getSchemas(): Promise<SchemaMetadata[]> {
    const { rows } = await sql<{ name: string }>`SELECT DATABASE() AS name`.execute(this.db);
    return rows.filter((r) => r.name !== null);
  }

  async getTables(): Promise<TableMetadata[]> {
    const { rows } = await sql<{ name: string; schema: string; type: string }>`
      SELECT TABLE_NAME AS name, TABLE_SCHEMA AS \`schema\`, TABLE_TYPE AS type FROM information_schema.TABLES
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (${sql.join(this.names)})`.execute(this.db);
    return rows.map((r) => ({ name: r.name, schema: r.schema, isView: r.type === 'VIEW', columns: [] }));
  }

  async getMetadata(): Promise<{ tables: TableMetadata[] }> {
    return { tables: await this.getTables() };
  }
}

/** A kysely over `pool` (its statement bounds are the pool's) whose introspector sees only `tables`. */
export function migrationDb(pool: mysql.Pool, tables: readonly string[]): Kysely<unknown> {
  class Dialect extends MysqlDialect {
    override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
      return new NamedTablesIntrospector(db, tables);
    }
  }
  return new Kysely<unknown>({ dialect: new Dialect({ pool }) });
}
