import type { Pending } from './shard-writer-types.js';

/** One shard's queue of requests waiting for a transaction, and what is in flight. */
export class ShardQueue {
  queue: Pending[] = [];
  pendingRows = 0;
  inFlight = 0;
  /** Accounts a transaction in flight holds: their other requests wait for the next transaction. */
  busyAccounts = new Set<number>();
  timer: NodeJS.Timeout | undefined;
  /** Date.now() until which writes are refused at once (the shard's connection failed). */
  downUntil = 0;

  add(p: Pending): void {
    this.queue.push(p);
    this.pendingRows += p.req.rows.length;
  }

  /** Removes the requests still queued past their deadline and returns them (never one in a transaction). */
  expire(now: number): Pending[] {
    if (this.queue.length === 0) return [];
    const expired: Pending[] = [];
    const keep: Pending[] = [];
    for (const p of this.queue) {
      if (p.deadline < now) {
        this.pendingRows -= p.req.rows.length;
        expired.push(p);
      } else keep.push(p);
    }
    if (expired.length > 0) this.queue = keep;
    return expired;
  }
}

/** The request's earliest row time, which names its ledger table (a loop: a spread overflows the stack past ~125k rows). */
export function earliestT(rows: readonly { t: number }[]): number {
  let min = Infinity;
  for (const w of rows) if (w.t < min) min = w.t;
  return min === Infinity ? 0 : min;
}
