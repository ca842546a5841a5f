import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import { REQUEST_STATEMENT_TIMEOUT_MS } from '../db/connect.js';

/** A statement that did not answer in time: it was cancelled on the server (KILL QUERY). */
export class QueryTimeoutError extends Error {}

/**
 * One statement with a deadline that cancels it on the server, so a slow statement never keeps
 * running (and piling up) after its caller gave up:
 * - on MariaDB the statement runs under `SET STATEMENT max_statement_time = s FOR …`: the server
 *   interrupts it itself at the deadline, even when the client cannot reach it any more;
 * - at the deadline the client also sends `KILL QUERY <connection id>` on another connection (MySQL 8,
 *   or a statement max_statement_time does not cover) and rejects with QueryTimeoutError at once.
 * Waiting for a pool connection counts against the same deadline. The connection goes back to the
 * pool only once its statement has ended (interrupted statements end at once).
 */
export async function boundedQuery<T = RowDataPacket[]>(pool: Pool, sql: string, params: unknown[], ms: number, o: { mariadb: boolean; what: string }): Promise<T> {
  const deadline = Date.now() + ms;
  const conn = await beforeDeadline(pool.getConnection(), deadline, o.what, (c) => c.release());
  const left = Math.max(1, deadline - Date.now());
  const text = o.mariadb ? `SET STATEMENT max_statement_time = ${(left / 1000).toFixed(3)} FOR ${sql}` : sql;
  // The driver's own bound comes after ours (and after KILL QUERY had its chance): it only ends a
  // statement of a server that no longer answers at all, destroying that connection.
  const running = conn.query({ sql: text, timeout: left + REQUEST_STATEMENT_TIMEOUT_MS }, params);
  const settled = running.then(
    () => conn.release(),
    () => conn.release(),
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      pool.query(`KILL QUERY ${Number(conn.threadId)}`).catch(() => undefined);
      reject(new QueryTimeoutError(`cannot ${o.what}: no answer within ${ms} ms (statement cancelled)`));
    }, left);
  });
  try {
    const [rows] = await Promise.race([running, timeout]);
    return rows as T;
  } catch (err) {
    // max_statement_time fired first (MariaDB 1969 ER_STATEMENT_TIMEOUT): the same timeout, said the same way.
    if ((err as { errno?: number }).errno === 1969) throw new QueryTimeoutError(`cannot ${o.what}: no answer within ${ms} ms (statement cancelled)`);
    throw err;
  } finally {
    clearTimeout(timer);
    void settled;
  }
}

/** p, or a rejection at the deadline; a value p yields after the deadline is handed to `late` (released). */
export function beforeDeadline<T>(p: Promise<T>, deadline: number, what: string, late: (v: T) => void = () => undefined): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let expired = false;
  return Promise.race([
    p.then(
      (v) => {
        if (expired) late(v);
        return v;
      },
      (err) => {
        throw err;
      },
    ),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => {
        expired = true;
        reject(new QueryTimeoutError(`cannot ${what}: no answer within the deadline`));
      }, Math.max(0, deadline - Date.now()));
    }),
  ]).finally(() => clearTimeout(timer));
}

export type { PoolConnection };
