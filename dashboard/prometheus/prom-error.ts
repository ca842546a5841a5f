/**
 * Errors answered in the Prometheus HTTP API's shape, `{"status":"error","errorType":…,"error":…}`,
 * with Prometheus's own status for each type: bad_data 400 (bad parameters, parse errors, bounds on
 * the query's shape), 422 for a well-formed query this API does not evaluate (named in the message)
 * and for "execution" errors (too many series or samples), timeout 503, internal 500.
 */
export type PromErrorType = 'unauthorized' | 'bad_data' | 'execution' | 'timeout' | 'canceled' | 'internal' | 'unavailable' | 'not_found';

export class PromError extends Error {
  override readonly name = 'PromError';
  constructor(
    readonly errorType: PromErrorType,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export const badData = (message: string) => new PromError('bad_data', message, 400);

/** A valid query using a part of PromQL this API does not evaluate: never answered with a wrong number. */
export const unsupported = (what: string) => new PromError('bad_data', `unsupported in this API: ${what} (see docs/api.md, "Prometheus-compatible query API")`, 422);

export const execution = (message: string) => new PromError('execution', message, 422);

export const timeout = (message: string) => new PromError('timeout', message, 503);
