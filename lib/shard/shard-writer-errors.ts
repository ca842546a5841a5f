import { InputError, RetryableError } from '../errors.js';

/**
 * Why a write statement failed, decided from the driver's error fields (never from message text):
 * - 'connection': the server is unreachable or the connection broke (the shard is marked down briefly);
 * - 'transient': deadlock, lock wait timeout, a ledger key raced, a statement timeout: run it again;
 * - 'missing-table': a table this process had cached was dropped or moved: look it up again;
 * - 'data': the values themselves cannot be stored (out of range, e.g. a DOUBLE sum overflowing when
 *   merged with the stored row, MariaDB error 1690): retrying cannot help, the request at fault is
 *   isolated and refused for good;
 * - 'other': anything else (retryable for the whole batch, as before).
 */
export type WriteFailure = 'connection' | 'transient' | 'missing-table' | 'data' | 'other';

const TRANSIENT = new Set([1213 /* deadlock */, 1205 /* lock wait timeout */, 1062 /* ledger key raced */, 1969 /* MariaDB statement timeout */, 3024 /* MySQL statement timeout */]);
const DATA = new Set([1690 /* value out of range */, 1264 /* out of range for column */, 1366 /* incorrect value */, 1406 /* data too long */, 1048 /* NULL */, 1292 /* truncated */, 1265 /* data truncated */, 1365 /* division by zero */]);
const CONNECTION = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', 'PROTOCOL_SEQUENCE_TIMEOUT']);

export function classifyWriteError(err: unknown): WriteFailure {
  if (err instanceof MergeOverflowError) return 'data';
  const e = err as { errno?: number; code?: string; sqlState?: string; fatal?: boolean };
  if (CONNECTION.has(e.code ?? '') || e.fatal === true) return 'connection';
  const errno = e.errno ?? 0;
  if (errno === 1146) return 'missing-table';
  if (TRANSIENT.has(errno)) return 'transient';
  if (DATA.has(errno) || (e.sqlState ?? '').startsWith('22')) return 'data';
  return 'other';
}

/** Rows of one batch whose merge in memory is not finite (two large values of one key added). */
export class MergeOverflowError extends Error {
  override readonly name = 'MergeOverflowError';
}

/**
 * A request whose values cannot be stored, found by isolating it in a transaction of its own: a
 * permanent refusal (400), so the client drops it instead of resending it forever. Names the problem,
 * not the SQL (the details go to the log of the caller, if any).
 */
export class UnwritableDataError extends InputError {
  constructor(accountId: number) {
    super(
      `cannot write metric data of account ${accountId}: a value is out of range once merged with what is stored ` +
        'for the same metric, agent and minute (e.g. a sum above the largest double); nothing of this request was written',
    );
  }
}

export function retryableOf(shardId: number, err: unknown): RetryableError {
  if (err instanceof RetryableError) return err;
  const code = (err as { code?: string }).code;
  // The message names the problem, not the SQL (issue #18.9): the driver's code is enough to act on.
  // The driver's error (with its SQL) stays in `cause`, for the logs.
  return Object.assign(new RetryableError(`cannot write to shard ${shardId}: the shard database failed${code ? ` (${code})` : ''}; retry`, 5), { cause: err });
}
