import type { WriterFences } from './writer-fences.js';
import type { ShardRegistry } from './shard-registry.js';
import type { ShardStore } from './shard-store.js';
import { classifyWriteError, retryableOf, UnwritableDataError } from './shard-writer-errors.js';
import type { WriterMetrics } from './shard-writer-metrics.js';
import type { LedgerSweeper } from './shard-writer-sweep.js';
import { runTransaction, type TransactionDeps } from './shard-writer-transaction.js';
import type { Pending, Settled } from './shard-writer-types.js';

const ATTEMPTS = 4;

export interface CommitDeps extends TransactionDeps {
  shards: ShardRegistry;
  fences: WriterFences;
  sweeper: LedgerSweeper;
  metrics: WriterMetrics;
}

export interface CommitResult {
  settled: Map<Pending, Settled>;
  /** The shard's connection failed: the caller refuses new writes to it for a moment. */
  connectionLost: boolean;
}

/**
 * Commits a batch of leaders (no two share a dedupe key) and settles every one of them; never throws.
 * - Requests of an account being moved (or moved away) are refused (503, the client resends): by the
 *   transaction's precheck when it creates tables, by its locking read of the fences in every case.
 * - Deadlocks, lock wait timeouts and dropped tables are retried a few times.
 * - A failure for a data reason (a value out of range, e.g. a merge overflowing a DOUBLE) says the
 *   batch holds a request that can never be stored: the batch is split in halves, each committed in a
 *   transaction of its own (recursively), so every other request commits and only the culprit fails,
 *   permanently (UnwritableDataError, 400). Nothing was written by a failed transaction (rolled back),
 *   so retrying its parts is exact.
 * - Any other failure settles the requests of that transaction with a RetryableError (503).
 */
export async function commitBatch(deps: CommitDeps, shardId: number, leaders: Pending[]): Promise<CommitResult> {
  const out: CommitResult = { settled: new Map(), connectionLost: false };
  let store: ShardStore;
  try {
    store = await deps.shards.storeFor(shardId);
  } catch (err) {
    failAll(out, leaders, shardId, err);
    return out;
  }
  await isolate(deps, store, leaders, out);
  if (out.connectionLost === false) deps.sweeper.maybeSweep(store);
  return out;
}

async function isolate(deps: CommitDeps, store: ShardStore, batch: Pending[], out: CommitResult): Promise<void> {
  if (batch.length === 0) return;
  try {
    await withRetries(deps, store, batch, out);
  } catch (err) {
    if (classifyWriteError(err) !== 'data') {
      failAll(out, batch, store.shardId, err);
      return;
    }
    if (batch.length === 1) {
      out.settled.set(batch[0]!, { error: new UnwritableDataError(batch[0]!.req.accountId), reason: 'unwritable' });
      return;
    }
    const mid = batch.length >> 1;
    deps.metrics.isolations.inc(2);
    await isolate(deps, store, batch.slice(0, mid), out);
    await isolate(deps, store, batch.slice(mid), out);
  }
}

async function withRetries(deps: CommitDeps, store: ShardStore, batch: Pending[], out: CommitResult): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const started = process.hrtime.bigint();
    try {
      const r = await runTransaction(store, batch, deps);
      deps.metrics.commit.observe(Number(process.hrtime.bigint() - started) / 1e9);
      deps.metrics.batch.observe(r.written);
      deps.metrics.transactions.inc({ path: r.path });
      deps.metrics.rows.inc({ shard: String(store.shardId) }, r.written);
      if (r.loaded > 0) deps.metrics.rowsByPath.inc({ path: 'load' }, r.loaded);
      if (r.written > r.loaded) deps.metrics.rowsByPath.inc({ path: 'upsert' }, r.written - r.loaded);
      if (r.fallbacks > 0) deps.metrics.loadFallbacks.inc(r.fallbacks);
      for (const p of batch) {
        const f = r.fenced.get(p.req.accountId);
        if (f) out.settled.set(p, { error: deps.fences.refuse(deps.shards, store, f), reason: 'fenced' });
        else out.settled.set(p, { outcome: r.conflicts.has(p) ? 'conflict' : r.dups.has(p) ? 'duplicate' : 'committed' });
      }
      return;
    } catch (err) {
      const why = classifyWriteError(err);
      if (attempt < ATTEMPTS && why === 'missing-table') {
        // Another process dropped or moved a table this process had cached: look it up again.
        for (const p of batch) store.forgetTables(p.req.accountId);
        continue;
      }
      if (attempt < ATTEMPTS && why === 'transient') continue;
      throw err;
    }
  }
}

function failAll(out: CommitResult, batch: readonly Pending[], shardId: number, err: unknown): void {
  if (classifyWriteError(err) === 'connection') out.connectionLost = true;
  const retryable = retryableOf(shardId, err);
  for (const p of batch) out.settled.set(p, { error: retryable, reason: 'failed' });
}
