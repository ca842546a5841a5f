import mysql from 'mysql2';
import type { Pool as PromisePool } from 'mysql2/promise';
import { Kysely, MysqlDialect } from 'kysely';

export interface ServerAddress {
  host: string;
  port: number;
}

/** Parses "host:port" (IPv6 as "[::1]:3306"); throws InputError-style message on junk. */
export function parseAddress(text: string): ServerAddress {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new Error(`cannot parse server address ${JSON.stringify(text)}: expected host:port`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

export function formatAddress(a: ServerAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export interface Credentials {
  user: string;
  password: string;
}

export interface PoolOptions extends Credentials {
  database?: string;
  connectionLimit?: number;
  /** Milliseconds to wait for a connection before failing (keeps 503s quick when a shard is down). */
  connectTimeout?: number;
}

/** A connection pool with both APIs: `promise` for our SQL, `kysely` for typed queries. */
export interface DbPool<DB> {
  address: ServerAddress;
  promise: PromisePool;
  kysely: Kysely<DB>;
  end(): Promise<void>;
}

export function createPool<DB>(address: ServerAddress, opts: PoolOptions): DbPool<DB> {
  const pool = mysql.createPool({
    host: address.host,
    port: address.port,
    user: opts.user,
    password: opts.password,
    ...(opts.database ? { database: opts.database } : {}),
    connectionLimit: opts.connectionLimit ?? 8,
    connectTimeout: opts.connectTimeout ?? 3000,
    waitForConnections: true,
    queueLimit: 1000,
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: false,
    dateStrings: true,
    multipleStatements: false,
    charset: 'utf8mb4_bin',
  });
  const kysely = new Kysely<DB>({ dialect: new MysqlDialect({ pool }) });
  let ended: Promise<void> | undefined;
  return {
    address,
    promise: pool.promise(),
    kysely,
    end() {
      // kysely only ends the pool if it ever ran a query itself, so end the raw pool too.
      ended ??= kysely
        .destroy()
        .catch(() => undefined)
        .then(() => {
          if ((pool as unknown as { _closed?: boolean })._closed) return;
          return new Promise<void>((r) => pool.end(() => r()));
        });
      return ended;
    },
  };
}

/** Creates `database` if missing (utf8mb4, binary collation: metric names compare byte for byte). */
export async function ensureDatabase(address: ServerAddress, creds: Credentials, database: string): Promise<void> {
  if (!/^[A-Za-z0-9_]{1,64}$/.test(database)) throw new Error(`cannot create database ${JSON.stringify(database)}: name must be [A-Za-z0-9_]`);
  const pool = createPool(address, { user: creds.user, password: creds.password, connectionLimit: 1 });
  try {
    await pool.promise.query(`CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } finally {
    await pool.end();
  }
}
