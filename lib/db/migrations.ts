import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pool as PromisePool } from 'mysql2/promise';

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

/**
 * Applies schema/<folder>/NNNN-*.sql in order (up to NNNN = `until` when given: tests of older
 * versions), once each, recorded in schema_migrations. A named lock
 * keeps concurrent processes from migrating the same server at once.
 */
export async function migrate(pool: PromisePool, folder: 'shard' | 'directory', opts: { until?: string } = {}): Promise<string[]> {
  const dir = path.join(schemaDir(), folder);
  const files = fs
    .readdirSync(dir)
    .filter((f) => /^[0-9]{4}-[a-z0-9-]+\.sql$/.test(f))
    .sort()
    .filter((f) => opts.until === undefined || f.slice(0, 4) <= opts.until);
  const conn = await pool.getConnection();
  const applied: string[] = [];
  try {
    const [lock] = await conn.query<any[]>('SELECT GET_LOCK(CONCAT(DATABASE(), ?), 60) AS got', ['.migrate']);
    if (lock[0]?.got !== 1) throw new Error('cannot migrate: another process holds the migration lock for 60 s');
    try {
      await conn.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR(128) NOT NULL PRIMARY KEY, applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP) ENGINE=InnoDB',
      );
      const [rows] = await conn.query<any[]>('SELECT name FROM schema_migrations');
      const done = new Set(rows.map((r) => String(r.name)));
      for (const file of files) {
        if (done.has(file)) continue;
        for (const stmt of splitStatements(fs.readFileSync(path.join(dir, file), 'utf8'))) {
          try {
            await conn.query(stmt);
          } catch (err) {
            if (!ALREADY_DONE.has((err as { errno?: number }).errno ?? 0)) {
              throw new Error(`cannot apply migration ${folder}/${file}: ${(err as Error).message}`);
            }
          }
        }
        await conn.query('INSERT INTO schema_migrations (name) VALUES (?)', [file]);
        applied.push(file);
      }
    } finally {
      await conn.query('SELECT RELEASE_LOCK(CONCAT(DATABASE(), ?))', ['.migrate']);
    }
  } finally {
    conn.release();
  }
  return applied;
}
