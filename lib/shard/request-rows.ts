import { PayloadTooLargeError } from '../errors.js';

/**
 * A request the shard writer could never take: more rows than may wait per shard
 * (APM_WRITER_MAX_PENDING_ROWS) would be refused with 503 for ever once anything else waits. The
 * edges check before storing anything (not even a dictionary name) and answer 413 naming the bound.
 */
export function checkRequestRows(what: string, rows: number, maxRows: number): void {
  if (rows > maxRows) {
    throw new PayloadTooLargeError(`cannot accept ${what}: it makes ${rows} rows, more than the ${maxRows} one request may write (APM_WRITER_MAX_PENDING_ROWS); send it in smaller parts`);
  }
}
