import type { ServerAddress } from './connect.js';
import { WireConnection } from './wire/wire-connection.js';

export type { WireConnection as BulkConnection } from './wire/wire-connection.js';

/**
 * A shard's pool for the writer's bulk trips (issue #20; lib/shard/shard-writer-bulk-trip.ts), through
 * our own client of MariaDB's protocol (lib/db/wire/): MariaDB's bulk execution (COM_STMT_BULK_EXECUTE)
 * runs one prepared statement over an array of rows sent as binary values, which the server does not
 * parse (mysql2 cannot ask for it: the server grants it only to a client that announces it in its
 * handshake). Nothing else uses this pool.
 *
 * Bounded: at most `connectionLimit` connections; waiting for one (at most WAITERS_PER_CONNECTION callers
 * a connection) and connecting, by `connectTimeoutMs`;
 * every command by the caller's watchdog (`bounded`, below), which destroys the connection and so fails
 * what it waited for. Idle connections are kept (the most recent used first); one that ends, however,
 * leaves the pool at once.
 */
export interface BulkPool {
  /**
   * A connection, or undefined when the server cannot run bulk statements (not MariaDB 10.2.7 or later:
   * MySQL 8 has no bulk execution) or the account logs in by a method the bulk client does not speak;
   * the writer then sends its rows as text. Known from the first connection, then remembered.
   */
  connection(): Promise<WireConnection | undefined>;
  end(): Promise<void>;
}

export interface BulkPoolOptions {
  user: string;
  password: string;
  database?: string;
  connectionLimit: number;
  connectTimeoutMs: number;
}

/** Callers that may wait for a connection, per connection of the pool (beyond them, refused at once). */
export const WAITERS_PER_CONNECTION = 4;

export function createBulkPool(address: ServerAddress, o: BulkPoolOptions): BulkPool {
  let capable: boolean | undefined;
  let ended = false;
  let open = 0;
  const idle: WireConnection[] = [];
  const waiters: { resolve: (c: WireConnection) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  const where = `${address.host}:${address.port}`;

  const give = (c: WireConnection): void => {
    if (ended) return void c.close();
    const w = waiters.shift();
    if (w) {
      clearTimeout(w.timer);
      w.resolve(c);
    } else idle.push(c);
  };
  const died = (c: WireConnection): void => {
    open--;
    const i = idle.indexOf(c);
    if (i >= 0) idle.splice(i, 1);
    // A waiter gets a new connection in the ended one's place.
    const w = ended ? undefined : waiters.shift();
    if (w) {
      clearTimeout(w.timer);
      connect().then(w.resolve, w.reject);
    }
  };
  const connect = async (): Promise<WireConnection> => {
    open++;
    let c: WireConnection;
    try {
      c = await WireConnection.connect({ host: address.host, port: address.port, user: o.user, password: o.password, ...(o.database ? { database: o.database } : {}), connectTimeoutMs: o.connectTimeoutMs });
    } catch (err) {
      open--;
      throw err;
    }
    c.onRelease = give;
    c.onDeath = died;
    return c;
  };

  return {
    async connection() {
      if (ended) throw new Error(`cannot use the bulk pool for ${where}: the pool was ended`);
      if (capable === false) return undefined;
      let c = idle.pop();
      if (!c && open < o.connectionLimit) {
        try {
          c = await connect();
        } catch (err) {
          // An account that logs in by a method the bulk client does not speak (ed25519, PAM): the
          // writer sends its rows as text instead, as on MySQL.
          if ((err as { code?: string }).code !== 'ER_NOT_SUPPORTED_AUTH_MODE') throw err;
          capable = false;
          return undefined;
        }
      }
      if (!c && waiters.length >= WAITERS_PER_CONNECTION * o.connectionLimit) {
        throw new Error(`cannot get a connection of the bulk pool for ${where}: all ${o.connectionLimit} are busy and ${waiters.length} callers already wait`);
      }
      c ??= await new Promise<WireConnection>((resolve, reject) => {
        const timer = setTimeout(() => {
          const i = waiters.findIndex((w) => w.timer === timer);
          if (i >= 0) waiters.splice(i, 1);
          reject(new Error(`cannot get a connection of the bulk pool for ${where} within ${o.connectTimeoutMs} ms: all ${o.connectionLimit} are busy`));
        }, o.connectTimeoutMs);
        waiters.push({ resolve, reject, timer });
      });
      if (capable === undefined) capable = c.greeting.bulk;
      if (capable) return c;
      await c.close();
      return undefined;
    },
    async end() {
      ended = true;
      for (const w of waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new Error(`cannot use the bulk pool for ${where}: the pool was ended`));
      }
      await Promise.all(idle.splice(0).map((c) => c.close()));
    },
  };
}

/**
 * Runs `work` on `conn` and destroys the connection when it has not finished within `ms`: the commands
 * it waits for then fail (the server rolls back what the connection left uncommitted).
 */
export async function bounded<T>(conn: WireConnection, ms: number, work: () => Promise<T>): Promise<T> {
  const timer = setTimeout(() => conn.destroy(), ms);
  try {
    return await work();
  } finally {
    clearTimeout(timer);
  }
}
