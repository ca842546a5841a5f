import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Migrator, sql, type Migration, type MigrationProvider } from 'kysely';
import { REQUEST_STATEMENT_TIMEOUT_MS } from './connect.js';
import { migrationDb } from './migration-dialect.js';
import type mysql from 'mysql2';
import type { Pool as PromisePool, PoolConnection, RowDataPacket } from 'mysql2/promise';

/** schema/ at the package root, whether we run from source (tests) or from dist/ (npm start). */
export function schemaDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'schema', 'shard'))) return path.join(dir, 'schema');
    dir = path.dirname(dir);
  }
  throw new Error('BUG: cannot find the schema/ folder');
}

/** Splits a migration file into statements: ";" at the end of a line ends one; "--" lines are comments. */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let cur: string[] = [];
  for (const line of sql.split('\n')) {
    if (/^\s*--/.test(line)) continue;
    cur.push(line);
    if (/;\s*$/.test(line)) {
      const stmt = cur.join('\n').trim().replace(/;\s*$/, '');
      if (stmt) out.push(stmt);
      cur = [];
    }
  }
  const rest = cur.join('\n').trim();
  if (rest) out.push(rest);
  return out;
}

// Re-running a statement whose effect is already there (after a crash mid-migration) is fine.
const ALREADY_DONE = new Set([1060 /* duplicate column */, 1061 /* duplicate key name */, 1050 /* table exists */]);

/** kysely's bookkeeping table (its default name): one row per applied migration file. */
const MIGRATION_TABLE = 'kysely_migration';
/** Its lock table (kysely's default name, given explicitly: the introspector looks for both by name). */
const MIGRATION_LOCK_TABLE = 'kysely_migration_lock';
/** Where releases before kysely's Migrator recorded applied files; adopted once, then dropped. */
const LEGACY_TABLE = 'schema_migrations';

/** Each schema/<folder>/NNNN-*.sql file as a kysely Migration named by its file name. */
class SqlFileMigrations implements MigrationProvider {
  constructor(private readonly dir: string, private readonly files: readonly string[], private readonly folder: string) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const out: Record<string, Migration> = {};
    for (const file of this.files) {
      const statements = splitStatements(fs.readFileSync(path.join(this.dir, file), 'utf8'));
      out[file] = {
        up: async (db) => {
          for (const stmt of statements) {
            try {
              await sql.raw(stmt).execute(db);
            } catch (err) {
              if (!ALREADY_DONE.has((err as { errno?: number }).errno ?? 0)) throw new Error(`cannot apply migration ${this.folder}/${file}: ${(err as Error).message}`);
            }
          }
        },
      };
    }
    return out;
  }
}

/**
 * Applies schema/<folder>/NNNN-*.sql in file-name order (up to NNNN = `until` when given: tests of
 * older versions), once each, with kysely's Migrator (its table `kysely_migration`, its lock). The
 * files are plain SQL so a DBA can read the schema; a statement whose effect is already there (a crash
 * mid-migration) is skipped. Our own named lock around it lets exactly one process adopt the records of
 * releases before the Migrator (`schema_migrations`). Returns the files applied now. DDL can take long:
 * callers pass a pool with the job bound (DbPool.jobs, lib/db/connect.ts).
 */
export async function migrate(pool: PromisePool, folder: 'shard' | 'directory', opts: { until?: string } = {}): Promise<string[]> {
  const dir = path.join(schemaDir(), folder);
  const files = fs
    .readdirSync(dir)
    .filter((f) => /^[0-9]{4}-[a-z0-9-]+\.sql$/.test(f))
    .sort()
    .filter((f) => opts.until === undefined || f.slice(0, 4) <= opts.until);
  const conn = await pool.getConnection();
  try {
    const lockSql = 'SELECT GET_LOCK(CONCAT(DATABASE(), ?), 60) AS got';
    const [lock] = await conn.query<Array<RowDataPacket & { got: number | null }>>({ sql: lockSql, timeout: 60_000 + REQUEST_STATEMENT_TIMEOUT_MS }, ['.migrate']);
    if (lock[0]?.got !== 1) throw new Error('cannot migrate: another process holds the migration lock for 60 s');
    try {
      await adoptLegacyRecords(conn);
      // Over the caller's pool (never destroyed here: the caller owns it), seeing only the Migrator's tables.
      const db = migrationDb(pool.pool as unknown as mysql.Pool, [MIGRATION_TABLE, MIGRATION_LOCK_TABLE]);
      const migrator = new Migrator({
        db,
        provider: new SqlFileMigrations(dir, files, folder),
        migrationTableName: MIGRATION_TABLE,
        migrationLockTableName: MIGRATION_LOCK_TABLE,
        allowUnorderedMigrations: true,
      });
      const last = files[files.length - 1];
      const { error, results } = last === undefined ? { error: undefined, results: [] } : await migrator.migrateTo(last);
      if (error) throw error instanceof Error ? error : new Error(`cannot migrate ${folder}: ${String(error)}`);
      return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
    } finally {
      await conn.query('SELECT RELEASE_LOCK(CONCAT(DATABASE(), ?))', ['.migrate']);
    }
  } finally {
    conn.release();
  }
}

/** Copies the applied files recorded by releases before the Migrator into its table, then drops the old one. */
async function adoptLegacyRecords(conn: PoolConnection): Promise<void> {
  const [legacy] = await conn.query<RowDataPacket[]>('SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [LEGACY_TABLE]);
  if (legacy.length === 0) return;
  // The definition kysely's Migrator gives its table (it creates it only when missing).
  await conn.query(`CREATE TABLE IF NOT EXISTS ${MIGRATION_TABLE} (name VARCHAR(255) NOT NULL PRIMARY KEY, timestamp VARCHAR(255) NOT NULL)`);
  await conn.query(`INSERT IGNORE INTO ${MIGRATION_TABLE} (name, timestamp) SELECT name, DATE_FORMAT(applied_at, '%Y-%m-%dT%H:%i:%s.000Z') FROM ${LEGACY_TABLE}`);
  await conn.query(`DROP TABLE ${LEGACY_TABLE}`);
}
