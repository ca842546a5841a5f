/** What the batch picker needs of a queued write. */
export interface Batchable {
  req: { accountId: number; rows: readonly unknown[] };
}

export interface TakenBatch<T> {
  batch: T[];
  rest: T[];
  rows: number;
}

/**
 * Picks the next transaction's requests: whole requests in queue order up to `batchRows` rows (at
 * least one), skipping every request of an account that a transaction in flight holds (`busy`).
 * Keeping each account in one transaction at a time means concurrent transactions never wait on
 * each other's row locks: the application-wide rows of an account are written by all its agents,
 * and those rows are merged in memory inside one transaction instead.
 */
export function takeBatch<T extends Batchable>(queue: readonly T[], busy: ReadonlySet<number>, batchRows: number): TakenBatch<T> {
  const batch: T[] = [];
  const rest: T[] = [];
  let rows = 0;
  let full = false;
  for (const p of queue) {
    const n = p.req.rows.length;
    if (full || busy.has(p.req.accountId) || (batch.length > 0 && rows + n > batchRows)) {
      rest.push(p);
      // The first request that does not fit closes the batch: later ones keep their place in line.
      if (!busy.has(p.req.accountId)) full = true;
      continue;
    }
    batch.push(p);
    rows += n;
  }
  return { batch, rest, rows };
}

/**
 * Rows the next transaction should take: the queued rows spread over the free connections (at least a
 * quarter of `batchRows`, at most `batchRows`). A shard server works a transaction's rows on one
 * thread, so one large batch while connections sit idle leaves the server's other cores unused: measured
 * on 2 cores, two transactions of ~600 rows in flight instead of one of ~1,200 gave 4-5 % more rows/s
 * end to end (docs/benchmark.md).
 */
export function batchTarget(pendingRows: number, freeConnections: number, batchRows: number): number {
  const spread = Math.ceil(pendingRows / Math.max(1, freeConnections));
  return Math.min(batchRows, Math.max(Math.ceil(batchRows / 4), spread));
}

/** What splitting a batch by dedupe key needs of a queued write. */
export interface Keyed {
  req: { accountId: number };
  digest: Buffer | undefined;
}

/**
 * Two deliveries with one dedupe key in one batch: the first leads (it is written), the later ones
 * follow its outcome. Keys are compared as bytes per account (a string only for keyed requests).
 */
export function splitFollowers<T extends Keyed>(batch: readonly T[]): { leaders: T[]; leaderOf: Map<T, T> } {
  const first = new Map<string, T>();
  const leaderOf = new Map<T, T>();
  const leaders: T[] = [];
  for (const p of batch) {
    const k = p.digest ? `${p.req.accountId}:${p.digest.toString('latin1')}` : undefined;
    const lead = k === undefined ? undefined : first.get(k);
    if (lead) leaderOf.set(p, lead);
    else {
      if (k !== undefined) first.set(k, p);
      leaders.push(p);
    }
  }
  return { leaders, leaderOf };
}
