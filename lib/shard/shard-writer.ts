import { createHash } from 'node:crypto';
import { RetryableError } from '../errors.js';
import { WriterFences } from './writer-fences.js';
import type { ShardRegistry } from './shard-registry.js';
import { batchTarget, splitFollowers, takeBatch } from './shard-writer-batch.js';
import { commitBatch, type CommitDeps } from './shard-writer-commit.js';
import { WriteLedger } from './shard-writer-ledger.js';
import { writerMetrics, type WriterMetrics } from './shard-writer-metrics.js';
import { earliestT, ShardQueue } from './shard-writer-queue.js';
import { isWritableRow, valuesTuple } from './shard-writer-sql.js';
import { LedgerSweeper } from './shard-writer-sweep.js';
import type { Pending, WriteOutcome, WriteRequest, WriterOptions } from './shard-writer-types.js';

export type { WriteGuard, WriteOutcome, WriteRequest, WriteRow, WriterOptions } from './shard-writer-types.js';

/**
 * The shared batched writer. Rows of many concurrent requests are grouped per shard into
 * transactions of about `batchRows` rows (never splitting a request), merged per (table, metric,
 * agent, period) in memory, and written as upserts that merge exactly with what is stored (on MariaDB
 * as bulk statements of binary values: shard-writer-bulk-trip.ts; else multi-row upsert text, and on
 * the stepwise path append-only tables by LOAD DATA LOCAL INFILE from memory: shard-writer-load.ts).
 * A request's promise resolves only after its transaction committed. Back-pressure: past
 * `maxPendingRows` queued rows per shard, or when the shard is unreachable, writes fail at once with
 * RetryableError (503); a request still queued at its deadline fails the same way. A request that
 * entered a transaction is never failed while its outcome is unknown. A request whose values cannot be
 * stored fails alone with UnwritableDataError (400); the rest of its batch commits
 * (shard-writer-commit.ts). The parts: queue (shard-writer-queue.ts), batch picking
 * (shard-writer-batch.ts), transaction (shard-writer-transaction.ts), ledger (shard-writer-ledger.ts),
 * commit verification (shard-writer-verify.ts), ledger sweeping (shard-writer-sweep.ts), metrics.
 */
export class ShardWriter {
  readonly #queues = new Map<number, ShardQueue>();
  #stopped = false;
  readonly #sweeper: NodeJS.Timeout;
  readonly #m: WriterMetrics;
  readonly #deps: CommitDeps;

  constructor(shards: ShardRegistry, private readonly o: WriterOptions) {
    this.#m = writerMetrics(o.registry);
    const ledger = new WriteLedger();
    this.#deps = {
      shards,
      // Online account moves: see lib/shard/account-fence.ts (the fence the writer needs lives beside it).
      fences: new WriterFences(),
      ledger,
      sweeper: new LedgerSweeper(ledger, o.now),
      metrics: this.#m,
      batchRows: o.batchRows,
      loadData: o.loadData ?? true,
      oneTrip: o.oneTrip ?? true,
      bulk: o.bulk ?? true,
      ...(o.log ? { log: o.log } : {}),
      now: o.now,
    };
    this.#sweeper = setInterval(() => this.#expire(), 250);
    this.#sweeper.unref();
  }

  /** Queues the request; resolves once committed ('duplicate' when its dedupe key was already). */
  write(req: WriteRequest): Promise<WriteOutcome> {
    if (this.#stopped) return Promise.reject(new RetryableError('cannot write: the writer is stopping', 5));
    // A malformed row is a caller's bug: fail that request alone, never the batch it would join.
    for (const w of req.rows) {
      if (!isWritableRow(w.row)) {
        try {
          valuesTuple(w.row); // throws the BUG message naming the bad value
        } catch (err) {
          return Promise.reject(err);
        }
      }
      const app = w.applicationAgentId;
      if (app !== undefined && (w.kind !== 'minute' || !Number.isSafeInteger(app) || app < 0 || app === w.row.agentId)) {
        return Promise.reject(new Error(`BUG: application agent ${app} of a ${w.kind} row of agent ${w.row.agentId}`));
      }
    }
    const q = this.#queue(req.shardId);
    if (Date.now() < q.downUntil) {
      this.#m.requests.inc({ outcome: 'shard_down' });
      return Promise.reject(new RetryableError(`cannot write to shard ${req.shardId}: it is unreachable`, 10));
    }
    if (q.pendingRows + req.rows.length > this.o.maxPendingRows && q.pendingRows > 0) {
      this.#m.requests.inc({ outcome: 'overloaded' });
      return Promise.reject(new RetryableError(`cannot write to shard ${req.shardId}: ${q.pendingRows} rows are already waiting`, 5));
    }
    return new Promise<WriteOutcome>((resolve, reject) => {
      const digest = req.dedupeKey === undefined ? undefined : createHash('sha256').update(req.dedupeKey).digest();
      q.add({ req, digest, ledgerT: earliestT(req.rows), deadline: Date.now() + this.o.timeoutMs, resolve, reject });
      this.#m.pending.set({ shard: String(req.shardId) }, q.pendingRows);
      this.#schedule(req.shardId, q);
    });
  }

  /** Rows queued for a shard (for self-metrics and the benchmark). */
  pendingRows(shardId: number): number {
    return this.#queues.get(shardId)?.pendingRows ?? 0;
  }

  #queue(shardId: number): ShardQueue {
    let q = this.#queues.get(shardId);
    if (!q) this.#queues.set(shardId, (q = new ShardQueue()));
    return q;
  }

  #schedule(shardId: number, q: ShardQueue): void {
    if (q.inFlight >= this.o.connections) return;
    if (q.pendingRows >= this.o.batchRows || this.o.flushMs === 0 || this.#stopped) {
      void this.#flush(shardId, q);
    } else {
      q.timer ??= setTimeout(() => {
        q.timer = undefined;
        void this.#flush(shardId, q);
      }, this.o.flushMs);
    }
  }

  #expire(): void {
    const now = Date.now();
    for (const [shardId, q] of this.#queues) {
      for (const p of q.expire(now)) {
        this.#m.requests.inc({ outcome: 'timeout' });
        p.reject(new RetryableError(`cannot write to shard ${shardId}: not committed within ${this.o.timeoutMs} ms`, 5));
      }
    }
  }

  async #flush(shardId: number, q: ShardQueue): Promise<void> {
    while (q.queue.length > 0 && q.inFlight < this.o.connections) {
      const { batch, rest, rows } = takeBatch(q.queue, q.busyAccounts, batchTarget(q.pendingRows, this.o.connections - q.inFlight, this.o.batchRows));
      if (batch.length === 0) return; // every queued account is in a transaction: its end reschedules
      q.queue = rest;
      q.pendingRows -= rows;
      this.#m.pending.set({ shard: String(shardId) }, q.pendingRows);
      const accounts = new Set(batch.map((p) => p.req.accountId));
      for (const a of accounts) q.busyAccounts.add(a);
      q.inFlight++;
      void this.#commit(shardId, q, batch).finally(() => {
        q.inFlight--;
        for (const a of accounts) q.busyAccounts.delete(a);
        if (q.queue.length > 0) this.#schedule(shardId, q);
      });
    }
  }

  async #commit(shardId: number, q: ShardQueue, batch: Pending[]): Promise<void> {
    // Two deliveries with the same key in one batch: the later one follows the first one's outcome.
    const { leaders, leaderOf } = splitFollowers(batch);
    const { settled, connectionLost } = await commitBatch(this.#deps, shardId, leaders);
    if (connectionLost) q.downUntil = Date.now() + 1000;
    for (const p of batch) {
      const s = settled.get(leaderOf.get(p) ?? p);
      if (!s) {
        p.reject(new Error('BUG: a request of the batch was not settled'));
      } else if ('error' in s) {
        this.#m.requests.inc({ outcome: s.reason });
        p.reject(s.error);
      } else {
        // A follower's rows are its leader's: once those are committed, the follower is a duplicate.
        const outcome = s.outcome === 'committed' && leaderOf.has(p) ? 'duplicate' : s.outcome;
        this.#m.requests.inc({ outcome });
        p.resolve(outcome);
      }
    }
  }

  /** Flushes everything queued, waits for transactions in flight, then refuses new writes. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#sweeper);
    for (;;) {
      let busy = false;
      for (const [shardId, q] of this.#queues) {
        if (q.timer) {
          clearTimeout(q.timer);
          q.timer = undefined;
        }
        if (q.queue.length > 0) void this.#flush(shardId, q);
        if (q.queue.length > 0 || q.inFlight > 0) busy = true;
      }
      if (!busy) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
