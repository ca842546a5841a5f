import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The shard writer's self-metrics (apm_writer_*), on the injected registry when there is one. */
export function writerMetrics(registry: Registry | undefined) {
  const registers = registry ? [registry] : [];
  return {
    rows: new Counter({ name: 'apm_writer_rows_written_total', help: 'Timeslice rows upserted, per shard', labelNames: ['shard'], registers }),
    rowsByPath: new Counter({ name: 'apm_writer_rows_total', help: 'Timeslice rows written, by path: load (LOAD DATA LOCAL INFILE) or upsert', labelNames: ['path'], registers }),
    loadFallbacks: new Counter({
      name: 'apm_writer_load_fallbacks_total',
      help: 'Transactions whose LOAD DATA was rolled back to the savepoint and upserted (a key already stored, or a warning)',
      registers,
    }),
    transactions: new Counter({
      name: 'apm_writer_transactions_total',
      help: 'Committed write transactions, by path: one_trip (every statement in one round trip), bulk (the checks and the rows as MariaDB bulk statements in one trip, then the COMMIT) or stepwise (late rows, or a trip that found a fence, conflict, stored key or sealed minute)',
      labelNames: ['path'],
      registers,
    }),
    requests: new Counter({ name: 'apm_writer_requests_total', help: 'Write requests by outcome', labelNames: ['outcome'], registers }),
    batch: new Histogram({ name: 'apm_writer_batch_rows', help: 'Rows per committed transaction', buckets: [1, 10, 100, 500, 1000, 2000, 5000, 20000], registers }),
    commit: new Histogram({ name: 'apm_writer_commit_seconds', help: 'Transaction latency from BEGIN to COMMIT', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers }),
    pending: new Gauge({ name: 'apm_writer_pending_rows', help: 'Rows queued, not yet in a transaction, per shard', labelNames: ['shard'], registers }),
    isolations: new Counter({
      name: 'apm_writer_isolated_transactions_total',
      help: 'Extra transactions run to isolate a request whose values cannot be stored (batch split in halves)',
      registers,
    }),
  };
}

export type WriterMetrics = ReturnType<typeof writerMetrics>;
