/**
 * Errors are data at the edge: each class maps to one HTTP status (httpStatusOf is the one mapping).
 * Messages read `cannot <verb> <what>: <why>`.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  readonly status: number = 400;
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

/** The one error → HTTP status mapping. Anything unknown is a bug: 500. */
export function httpStatusOf(err: unknown): number {
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
  if (httpStatusOf(err) !== 500 && err instanceof Error) return err.message;
  return 'internal error';
}
