import { DummyDriver, Kysely, MysqlAdapter, MysqlIntrospector, MysqlQueryCompiler, type Compilable } from 'kysely';
import type { Pool as PromisePool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';

/**
 * A kysely builder that only compiles (MySQL dialect, no connection): typed statements for code that
 * runs them on a mysql2 connection it already holds inside its own transaction (the shard writer's
 * fence reads, id reservations). Statements on a pool go through the pool's own kysely (typedDb).
 */
export function queryBuilder<DB>(): Kysely<DB> {
  return new Kysely<DB>({
    dialect: {
      createAdapter: () => new MysqlAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new MysqlIntrospector(db),
      createQueryCompiler: () => new MysqlQueryCompiler(),
    },
  });
}

type Runner = Pick<PoolConnection | PromisePool, 'query'>;

/** Runs a compiled SELECT on `conn`: its rows, typed by the query. */
export async function selectOn<O>(conn: Runner, q: Compilable<O>): Promise<O[]> {
  const c = q.compile();
  const [rows] = await conn.query<RowDataPacket[]>(c.sql, c.parameters as unknown[]);
  return rows as unknown as O[];
}

/** Runs a compiled INSERT/UPDATE/DELETE on `conn`: the server's result header (affectedRows, insertId). */
export async function writeOn(conn: Runner, q: Compilable<unknown>): Promise<ResultSetHeader> {
  const c = q.compile();
  const [res] = await conn.query<ResultSetHeader>(c.sql, c.parameters as unknown[]);
  return res;
}
