import { createBulkPool, type BulkPool } from './bulk-pool.js';
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
  /** The bound of every statement of this pool that sets no timeout of its own (default REQUEST_STATEMENT_TIMEOUT_MS). */
  statementTimeoutMs?: number;
  /** The bound of the pool's `jobs` view (default JOB_STATEMENT_TIMEOUT_MS). */
  jobStatementTimeoutMs?: number;
  /** Several statements in one query (only the `batches` view sets it). */
  multipleStatements?: boolean;
}

/**
 * Every database wait is bounded, and the bound is a property of the POOL, not of an async context:
 * every statement run on a connection of a pool made by createPool that sets no `timeout` of its own
 * (mysql2's per-statement option on query/execute) fails after the pool's `statementTimeoutMs` with
 * PROTOCOL_SEQUENCE_TIMEOUT (a 503 with Retry-After at the edge, lib/errors.ts), and the connection
 * that waited is destroyed (a frozen server cannot hold it). Request paths (harvests, OTLP exports,
 * dashboard reads, the writer) use pools with the request bound, REQUEST_STATEMENT_TIMEOUT_MS.
 * Work that legitimately runs long statements (rollups, seals, purges, moves, DROP TABLE, migrations,
 * ledger sweeps, the CLI, bench seeding) runs on a pool's `jobs` view (or a ShardRegistry's `jobs`):
 * the same server through a pool of its own with the job bound (APM_JOB_STATEMENT_TIMEOUT_MS).
 * (Until #20 the request bound was an async-context scope around each request; running one turns on
 * the async hook machinery for the whole process, every promise paying for it: 6-8 % of the
 * collector's CPU. A pool's bound costs nothing per promise.)
 */
/** Default bound for request paths: with the 3 s connect timeout, a 503 comes within 10 s. */
export const REQUEST_STATEMENT_TIMEOUT_MS = 5000;

/** Default bound for jobs (APM_JOB_STATEMENT_TIMEOUT_MS): long enough for a rollup or a table copy. */
export const JOB_STATEMENT_TIMEOUT_MS = 300_000;

/** Connections of a pool's `jobs` view (migrations, ledger sweeps: one or two at a time). */
const JOB_CONNECTION_LIMIT = 4;

type Callback = (err: (Error & { code?: string }) | null, ...rest: unknown[]) => void;

/** Gives every statement of `conn` without a timeout of its own the bound `ms` (see above). */
function boundStatements(conn: any, ms: number): void {
  const destroyOnTimeout = (done: Callback): Callback => (err, ...rest) => {
    if (err?.code === 'PROTOCOL_SEQUENCE_TIMEOUT') conn.destroy();
    done(err, ...rest);
  };
  for (const method of ['query', 'execute'] as const) {
    const original = conn[method];
    if (typeof original !== 'function') continue;
    conn[method] = function (this: unknown, sql: any, values?: any, cb?: any) {
      if (sql && typeof sql === 'object' && typeof sql.start === 'function') {
        // A command object made by the pool (pool.query): set its timeout before it starts.
        if (!sql.timeout) sql.timeout = ms;
        if (typeof sql.onResult === 'function') sql.onResult = destroyOnTimeout(sql.onResult);
        return original.call(conn, sql, values, cb);
      }
      const options = typeof sql === 'string' ? { sql, timeout: ms } : { ...sql, timeout: sql.timeout || ms };
      let guard = destroyOnTimeout;
      if (method === 'execute') {
        // An execute is prepared first (once per connection and text), and mysql2 gives the hidden
        // PREPARE no timeout of its own: one watchdog bounds the whole call instead of the driver's timer.
        const bound: number = options.timeout;
        delete options.timeout;
        guard = (done) => watchdog(conn, destroyOnTimeout(done), bound);
      }
      if (typeof values === 'function') return original.call(conn, options, guard(values));
      return original.call(conn, options, values, typeof cb === 'function' ? guard(cb) : cb);
    };
  }
}

/**
 * Calls `done` with PROTOCOL_SEQUENCE_TIMEOUT and destroys `conn` when the statement has not answered
 * within `ms` (a destroyed mysql2 connection never answers its queued commands, so the watchdog answers
 * for them); otherwise passes the answer on once, and the timer is cleared.
 */
function watchdog(conn: any, done: Callback, ms: number): Callback {
  let settled = false;
  const timer = setTimeout(() => {
    if (settled) return;
    settled = true;
    conn.destroy();
    done(Object.assign(new Error(`Query inactivity timeout (no answer within ${ms} ms, statement preparation included)`), { code: 'PROTOCOL_SEQUENCE_TIMEOUT', fatal: true }));
  }, ms);
  return (err, ...rest) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    done(err, ...rest);
  };
}

/** A connection pool with both APIs: `promise` for our SQL, `kysely` for typed queries. */
export interface DbPool<DB> {
  address: ServerAddress;
  promise: PromisePool;
  kysely: Kysely<DB>;
  /** The bound of every statement of this pool that sets no timeout of its own. */
  statementTimeoutMs: number;
  /**
   * The same server and database with the job bound, for long statements (migrations, DROP TABLE):
   * a small pool of its own, opened on first use and ended with this one; this pool itself when its
   * bound is the job bound already.
   */
  readonly jobs: DbPool<DB>;
  /**
   * The same server, database and bound with several statements allowed in one query (the shard
   * writer's one-round-trip transactions, lib/shard/shard-writer-one-trip.ts, whose every value is
   * escaped by the driver or a number checked finite): a pool of its own, opened on first use and ended
   * with this one. Nothing else may use it. (A method, not a getter: a getter that throws once the pool
   * has ended would break code that walks an object's properties, like a test's deep comparison.)
   */
  batches(): DbPool<DB>;
  /**
   * The same server and database through our own client of MariaDB's protocol (lib/db/wire), for the
   * shard writer's bulk trips (lib/db/bulk-pool.ts): opened on first use and ended with this one.
   * Nothing else may use it.
   */
  bulk(): BulkPool;
  /** Ends this pool and its jobs, batches and bulk views. */
  end(): Promise<void>;
}

/** The kysely instance of each pool made by createPool (keyed by its promise API). */
const typedViews = new WeakMap<PromisePool, Kysely<unknown>>();

/**
 * The typed (kysely) view of a pool made by createPool, for code handed only its promise API: the same
 * connections, so statement timeouts and transactions behave as with the pool itself. DB names the
 * database the caller knows the pool serves (DirectoryDatabase or ShardDatabase).
 */
export function typedDb<DB>(pool: PromisePool): Kysely<DB> {
  let view = typedViews.get(pool);
  if (!view) {
    // A pool not made by createPool (none in the code base today): a view over its callback pool.
    view = new Kysely<unknown>({ dialect: new MysqlDialect({ pool: pool.pool as unknown as mysql.Pool }) });
    typedViews.set(pool, view);
  }
  return view as Kysely<DB>;
}

/** Every pool's query format: a text without values as is, else mysql2's own format (stringifyObjects off, the pool's timezone). */
function textAsIs(sql: string, values: unknown, timezone?: string): string {
  if (values === undefined || values === null || (Array.isArray(values) && values.length === 0)) return sql;
  return mysql.format(sql, values as never, false, timezone ?? 'Z');
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
    multipleStatements: opts.multipleStatements === true,
    // mysql2 runs every query text through its placeholder scan, values or not: a writer transaction's
    // text (hundreds of kB of upserts, quoted hex blobs) was scanned char by char for nothing (5 % of the
    // collector's CPU). Every pool: with no values the text is sent as is; with values, the driver's format.
    // (Typed as returning void in mysql2's typings; the driver uses the text it returns, and passes the timezone third.)
    queryFormat: textAsIs as (query: string, values: unknown) => void,
    charset: 'utf8mb4_bin',
  });
  const statementTimeoutMs = opts.statementTimeoutMs ?? REQUEST_STATEMENT_TIMEOUT_MS;
  const jobStatementTimeoutMs = opts.jobStatementTimeoutMs ?? JOB_STATEMENT_TIMEOUT_MS;
  pool.on('connection', (conn) => boundStatements(conn, statementTimeoutMs));
  const kysely = new Kysely<DB>({ dialect: new MysqlDialect({ pool }) });
  const promise = pool.promise();
  typedViews.set(promise, kysely as Kysely<unknown>);
  let ended: Promise<void> | undefined;
  let jobs: DbPool<DB> | undefined;
  let batches: DbPool<DB> | undefined;
  let bulk: BulkPool | undefined;
  const self: DbPool<DB> = {
    address,
    promise,
    kysely,
    statementTimeoutMs,
    get jobs(): DbPool<DB> {
      if (statementTimeoutMs === jobStatementTimeoutMs) return self;
      if (ended) throw new Error(`cannot use the jobs view of the pool for ${formatAddress(address)}: the pool was ended`);
      jobs ??= createPool<DB>(address, { ...opts, statementTimeoutMs: jobStatementTimeoutMs, connectionLimit: Math.min(JOB_CONNECTION_LIMIT, opts.connectionLimit ?? 8) });
      return jobs;
    },
    batches(): DbPool<DB> {
      if (opts.multipleStatements === true) return self;
      if (ended) throw new Error(`cannot use the batches view of the pool for ${formatAddress(address)}: the pool was ended`);
      batches ??= createPool<DB>(address, { ...opts, multipleStatements: true });
      return batches;
    },
    bulk(): BulkPool {
      if (ended) throw new Error(`cannot use the bulk view of the pool for ${formatAddress(address)}: the pool was ended`);
      bulk ??= createBulkPool(address, {
        user: opts.user,
        password: opts.password,
        ...(opts.database ? { database: opts.database } : {}),
        connectionLimit: opts.connectionLimit ?? 8,
        connectTimeoutMs: opts.connectTimeout ?? 3000,
      });
      return bulk;
    },
    end() {
      // kysely only ends the pool if it ever ran a query itself, so end the raw pool too.
      ended ??= Promise.all([
        jobs?.end(),
        batches?.end(),
        bulk?.end(),
        kysely
          .destroy()
          .catch(() => undefined)
          .then(() => {
            if ((pool as unknown as { _closed?: boolean })._closed) return;
            return new Promise<void>((r) => pool.end(() => r()));
          }),
      ]).then(() => undefined);
      return ended;
    },
  };
  return self;
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
