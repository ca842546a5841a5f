import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ShardStore } from '../lib/shard/shard-store.js';

/**
 * The collector's self-metrics (agent protocol side), all on the injected registry and named
 * apm_collector_<thing>_<unit|total>. Label values are bounded: methods come from a fixed list
 * (unknown ones are 'unknown'), statuses and reasons from our own code, shards from the directory.
 */
export class CollectorMetrics {
  readonly requests: Counter<'method' | 'status'>;
  readonly rejected: Counter<'reason'>;
  readonly ignoredItems: Counter<'method'>;
  readonly harvests: Counter<'kind'>;
  readonly recordReads: Counter<'reason'>;
  readonly rowsWritten: Counter<'shard'>;
  readonly harvestRows: Histogram;
  readonly commitSeconds: Histogram;
  readonly bytesInFlight: Gauge;
  readonly overflowNames: Counter;
  readonly connects: Counter;
  readonly #stores = new Set<ShardStore>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({ name: 'apm_collector_requests_total', help: 'Agent protocol requests by method and HTTP status', labelNames: ['method', 'status'], registers });
    this.rejected = new Counter({ name: 'apm_collector_rejected_total', help: 'Requests answered with an error, by reason', labelNames: ['reason'], registers });
    this.ignoredItems = new Counter({
      name: 'apm_collector_ignored_items_total',
      help: 'Events, traces, errors and spans answered but not stored, by method',
      labelNames: ['method'],
      registers,
    });
    this.harvests = new Counter({
      name: 'apm_collector_harvests_total',
      help: 'metric_data payloads by how they were written (new, merged, duplicate, older)',
      labelNames: ['kind'],
      registers,
    });
    this.recordReads = new Counter({
      name: 'apm_collector_harvest_record_reads_total',
      help: "Harvest records read before a save, by reason: unseen (a run this process has not saved or read before), moved (the save over an earlier record found one at or after the harvest's start), resend (a harvest starting no later than the run's record)",
      labelNames: ['reason'],
      registers,
    });
    this.rowsWritten = new Counter({ name: 'apm_collector_rows_written_total', help: 'Minute rows committed from agent harvests, per shard', labelNames: ['shard'], registers });
    this.harvestRows = new Histogram({
      name: 'apm_collector_write_rows',
      help: 'Rows per write request handed to the shard writer (one harvest piece)',
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000],
      registers,
    });
    this.commitSeconds = new Histogram({
      name: 'apm_collector_commit_seconds',
      help: 'Time from handing a harvest piece to the shard writer until its commit',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.bytesInFlight = new Gauge({ name: 'apm_collector_bytes_in_flight', help: 'Request bytes (as sent plus decoded) held by requests in progress', registers });
    this.overflowNames = new Counter({
      name: 'apm_collector_overflow_names_total',
      help: 'Metric names folded into Overflow/MetricNames (per-application bound reached), counted per committed write',
      registers,
    });
    this.connects = new Counter({ name: 'apm_collector_connects_total', help: 'Successful agent connects (new runs)', registers });
    const stores = this.#stores;
    new Gauge({
      name: 'apm_collector_dictionary_names',
      help: 'Metric names cached in memory by the per-account dictionaries, per shard this collector wrote to',
      labelNames: ['shard'],
      registers,
      collect() {
        for (const s of stores) this.set({ shard: String(s.shardId) }, s.dictionary.size);
      },
    });
  }

  /** Makes a shard's dictionary visible in apm_collector_dictionary_names. */
  watchStore(store: ShardStore): void {
    this.#stores.add(store);
  }
}
