import {
  DummyDriver, Kysely, MysqlAdapter, MysqlIntrospector, MysqlQueryCompiler, sql,
  type Compilable, type CompiledQuery, type DatabaseConnection, type Driver, type QueryResult,
} from 'kysely';
import type { Pool as PromisePool, PoolConnection, QueryOptions, ResultSetHeader, RowDataPacket } from 'mysql2/promise';

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

/** Per-statement options: `timeoutMs` fails the statement after that long (mysql2's query timeout). */
export interface RunOptions {
  timeoutMs?: number;
}

const optionsOf = (sql: string, o: RunOptions): QueryOptions => (o.timeoutMs === undefined ? { sql } : { sql, timeout: o.timeoutMs });

/** Runs a compiled SELECT on `conn`: its rows, typed by the query. */
export async function selectOn<O>(conn: Runner, q: Compilable<O>, o: RunOptions = {}): Promise<O[]> {
  const c = q.compile();
  const [rows] = await conn.query<RowDataPacket[]>(optionsOf(c.sql, o), c.parameters as unknown[]);
  return rows as unknown as O[];
}

/** Runs a compiled INSERT/UPDATE/DELETE on `conn`: the server's result header (affectedRows, insertId). */
export async function writeOn(conn: Runner, q: Compilable<unknown>, o: RunOptions = {}): Promise<ResultSetHeader> {
  const c = q.compile();
  const [res] = await conn.query<ResultSetHeader>(optionsOf(c.sql, o), c.parameters as unknown[]);
  return res;
}

/**
 * A kysely instance (MySQL dialect) whose every statement is run by `run`, each on its own: for views
 * such as a read replica's listing store that falls back to the primary statement by statement.
 * Transactions and streaming are refused (such a view is for single reads).
 */
export function statementKysely<DB>(run: (q: CompiledQuery) => Promise<QueryResult<unknown>>): Kysely<DB> {
  const connection: DatabaseConnection = {
    executeQuery: <R>(q: CompiledQuery) => run(q) as Promise<QueryResult<R>>,
    streamQuery: () => {
      throw new Error('BUG: streaming is not supported on a statement-by-statement view');
    },
  };
  const refuse = async () => {
    throw new Error('BUG: transactions are not supported on a statement-by-statement view');
  };
  const driver: Driver = {
    init: async () => undefined,
    acquireConnection: async () => connection,
    beginTransaction: refuse,
    commitTransaction: refuse,
    rollbackTransaction: refuse,
    releaseConnection: async () => undefined,
    destroy: async () => undefined,
  };
  return new Kysely<DB>({
    dialect: {
      createAdapter: () => new MysqlAdapter(),
      createDriver: () => driver,
      createIntrospector: (db) => new MysqlIntrospector(db),
      createQueryCompiler: () => new MysqlQueryCompiler(),
    },
  });
}

/**
 * Runs `fn` in a transaction on one connection of `db`, as the code did with mysql2 before kysely: a
 * failed ROLLBACK (the connection broke or was destroyed by its statement timeout) is ignored, so the
 * caller sees the error that ended the transaction. (kysely's own transaction() throws the ROLLBACK's
 * error instead.)
 */
export function inTransaction<DB, T>(db: Kysely<DB>, fn: (trx: Kysely<DB>) => Promise<T>): Promise<T> {
  return db.connection().execute(async (conn) => {
    await sql`START TRANSACTION`.execute(conn);
    try {
      const result = await fn(conn);
      await sql`COMMIT`.execute(conn);
      return result;
    } catch (err) {
      await sql`ROLLBACK`.execute(conn).catch(() => undefined);
      throw err;
    }
  });
}
