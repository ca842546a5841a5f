import mariadb, { type Pool, type PoolConnection, type QueryOptions } from 'mariadb';
import type { ServerAddress } from './connect.js';

/**
 * A shard's pool for the writer's bulk upserts (issue #20; lib/shard/shard-writer-bulk-trip.ts), through
 * MariaDB's own Node connector: the one driver that speaks COM_STMT_BULK_EXECUTE, MariaDB's execution of
 * one prepared statement over an array of rows, sent as binary values (mysql2 cannot: the server grants
 * bulk execution only to a client that announces it in its handshake, in a field mysql2 leaves zero).
 * The server then parses no row's text: measured here, 4.5 against 2.1 µs of server CPU a row
 * (docs/benchmark.md, "Bulk upserts"). Nothing else uses this pool.
 *
 * Every wait is bounded: acquiring a connection by the pool's connect bound, every command by the
 * caller's watchdog (`bounded`, below), which destroys the connection and so fails what it waited for.
 */
export interface BulkPool {
  /**
   * A connection, or undefined when the server cannot run bulk statements (not MariaDB 10.2.7 or later:
   * MySQL 8 has no bulk execution; the writer then sends its rows as text). Known from the first
   * connection, then remembered.
   */
  connection(): Promise<PoolConnection | undefined>;
  end(): Promise<void>;
}

export interface BulkPoolOptions {
  user: string;
  password: string;
  database?: string;
  connectionLimit: number;
  connectTimeoutMs: number;
}

export function createBulkPool(address: ServerAddress, o: BulkPoolOptions): BulkPool {
  let pool: Pool | undefined;
  let capable: boolean | undefined;
  let ended = false;
  return {
    async connection() {
      if (ended) throw new Error(`cannot use the bulk pool for ${address.host}:${address.port}: the pool was ended`);
      if (capable === false) return undefined;
      pool ??= mariadb.createPool({
        host: address.host,
        port: address.port,
        user: o.user,
        password: o.password,
        ...(o.database ? { database: o.database } : {}),
        connectionLimit: o.connectionLimit,
        minimumIdle: 0,
        connectTimeout: o.connectTimeoutMs,
        acquireTimeout: o.connectTimeoutMs,
        // The writer sends its checks as one multi-statement text (lib/shard/shard-writer-one-trip.ts).
        multipleStatements: true,
        bulk: true,
        // The writer ends every trip with its own COMMIT or ROLLBACK and `SET autocommit = 1` before it
        // releases the connection, and destroys it when that failed: the pool's own ROLLBACK on release
        // (sent whenever a command was still queued) would be a second round trip a trip waits for.
        noControlAfterUse: true,
        collation: 'UTF8MB4_BIN',
        // Answers as the writer reads them: numbers, never BigInt objects.
        bigIntAsNumber: true,
        insertIdAsNumber: true,
      });
      const conn = await pool.getConnection();
      if (capable === undefined) capable = conn.info !== null && conn.info.isMariaDB() && conn.info.hasMinVersion(10, 2, 7);
      if (capable) return conn;
      await conn.release();
      return undefined;
    },
    async end() {
      ended = true;
      await pool?.end().catch(() => undefined);
    },
  };
}

/** Options of a bulk statement: the server's answers summed into one (the rows' own answers are not read). */
export function bulkOptions(sql: string): QueryOptions {
  return { sql, fullResult: false } as QueryOptions;
}

/**
 * Runs `work` on `conn` and destroys the connection when it has not finished within `ms`: the commands
 * it waits for then fail (the server rolls back what the connection left uncommitted).
 */
export async function bounded<T>(conn: PoolConnection, ms: number, work: () => Promise<T>): Promise<T> {
  const timer = setTimeout(() => conn.destroy(), ms);
  try {
    return await work();
  } finally {
    clearTimeout(timer);
  }
}
