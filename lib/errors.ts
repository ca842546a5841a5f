/**
 * Errors are data at the edge: each class maps to one HTTP status (httpStatusOf is the one mapping).
 * Messages read `cannot <verb> <what>: <why>`.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  readonly status: number = 400;
}

/** A conflict with the state of things (an unfinished move, accounts still on a shard): HTTP 409. */
export class ConflictError extends InputError {
  override readonly status: number = 409;
}

export class PayloadTooLargeError extends Error {
  override readonly name = 'PayloadTooLargeError';
  readonly status = 413;
}

export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(message: string, readonly status: 401 | 403 = 401) {
    super(message);
  }
}

export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
  readonly status = 404;
}

/** Trouble that may pass: the client should keep its data and retry after `retryAfterSeconds`. */
export class RetryableError extends Error {
  override readonly name = 'RetryableError';
  constructor(
    message: string,
    readonly retryAfterSeconds = 5,
    readonly status: 503 | 429 = 503,
  ) {
    super(message);
  }
}

/** Error codes of a database server that is down, frozen or out of reach (mysql2, node:net). */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_CON_COUNT_ERROR', 'ER_SERVER_SHUTDOWN', 'ER_LOCK_WAIT_TIMEOUT',
  'ER_STATEMENT_TIMEOUT', 'ER_QUERY_TIMEOUT',
]);

/** A database that cannot answer now (down, frozen, timed out): the client should retry later. */
export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) || err.message === 'Queue limit reached.' || err.message === 'Pool is closed.';
}

/** Seconds a client should wait before retrying (Retry-After), or undefined when retrying is no use. */
export function retryAfterOf(err: unknown): number | undefined {
  if (err instanceof RetryableError) return err.retryAfterSeconds;
  return isUnavailable(err) ? 5 : undefined;
}

/** The one error → HTTP status mapping. An unreachable database is 503; anything unknown is a bug: 500. */
export function httpStatusOf(err: unknown): number {
  if (isUnavailable(err)) return 503;
  if (
    err instanceof InputError ||
    err instanceof PayloadTooLargeError ||
    err instanceof AuthError ||
    err instanceof NotFoundError ||
    err instanceof RetryableError
  ) {
    return err.status;
  }
  return 500;
}

/** Message safe to send to a client: our own messages as they are, anything else hidden. */
export function publicMessageOf(err: unknown): string {
  if (isUnavailable(err)) return 'storage is unavailable for now; retry later';
  if (httpStatusOf(err) !== 500 && err instanceof Error) return err.message;
  return 'internal error';
}
