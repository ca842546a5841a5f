import { RetryableError } from '../errors.js';

/**
 * Whether an error thrown by the database driver means "the server cannot be reached or answer now"
 * (may pass: 503) rather than a bug (500). Decided on the driver's error codes only, never on message
 * text: network errors, a lost or refused connection, too many connections, a closed pool, lock-wait
 * and statement timeouts, and any error the driver marks fatal (the connection is unusable).
 */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR', 'PROTOCOL_ENQUEUE_AFTER_QUIT',
  'ER_CON_COUNT_ERROR', 'ER_TOO_MANY_USER_CONNECTIONS', 'ER_LOCK_WAIT_TIMEOUT', 'ER_STATEMENT_TIMEOUT', 'ER_QUERY_TIMEOUT',
  'ER_SERVER_SHUTDOWN', 'ER_CONNECTION_KILLED',
]);

export function isStorageUnavailable(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const e = err as { code?: unknown; fatal?: unknown; cause?: unknown };
  if (e.fatal === true) return true;
  if (typeof e.code === 'string' && UNAVAILABLE_CODES.has(e.code)) return true;
  if (err instanceof AggregateError) return err.errors.some(isStorageUnavailable);
  return e.cause !== undefined && e.cause !== err ? isStorageUnavailable(e.cause) : false;
}

/**
 * `err` as the answer a client should see: a driver error meaning unavailability becomes a
 * RetryableError (503 + Retry-After) whose message names the problem (`what`), with the driver's
 * text (SQL, table names) kept in `cause` for the log; anything else is returned unchanged.
 */
export function unavailableAsRetryable(err: unknown, what: string, retryAfterSeconds = 10): unknown {
  if (err instanceof RetryableError || !isStorageUnavailable(err)) return err;
  return Object.assign(new RetryableError(what, retryAfterSeconds), { cause: err });
}
