import { randomUUID } from 'node:crypto';
import { InputError } from '../lib/errors.js';
import { canonicalMetricName, metricNameProblem } from '../lib/shard/metric-name.js';
import { writeDistributions, type DistRow } from '../lib/distribution/dist-writer.js';
import type { ShardRegistry } from '../lib/shard/shard-registry.js';
import type { ShardWriter, WriteRow } from '../lib/shard/shard-writer.js';
import { APPLICATION_SCOPE, type BeaconAggregator, type OpenAggregate } from './beacon-aggregator.js';
import type { BeaconMetrics } from './beacon-metrics.js';
import { type Log } from '../lib/log/log.js';

/**
 * A flush: every open aggregate leaves memory as one batch per account, written through the shared
 * ShardWriter (rows for the application's pseudo-agent only). A batch keeps its dedupe key and its
 * content across retries, so a batch whose commit succeeded but whose answer was lost is not counted
 * twice (the writer's ledger acknowledges the repeat without writing). Failed batches wait in a
 * bounded queue and are retried on every later flush; past the bound the oldest is dropped and its
 * page views counted in apm_beacon_page_views_dropped_total{reason="pending_overflow"}.
 */
interface PendingBatch {
  accountId: number;
  dedupeKey: string;
  aggregates: OpenAggregate[];
  /** Page views in the batch (application-scope Browser/PageLoad calls), for the dropped count. */
  pageViews: number;
}

export interface BeaconFlusherOptions {
  aggregator: BeaconAggregator;
  shards: ShardRegistry;
  writer: ShardWriter;
  metrics: BeaconMetrics;
  maxPendingBatches: number;
  log: Log;
}

function pageViewsOf(aggregates: OpenAggregate[]): number {
  let n = 0;
  for (const a of aggregates) if (a.scope === APPLICATION_SCOPE) n += a.metrics.get('Browser/PageLoad')?.callCount ?? 0;
  return n;
}

export class BeaconFlusher {
  readonly #instance = randomUUID();
  #seq = 0;
  #pending: PendingBatch[] = [];
  #running: Promise<void> | undefined;

  constructor(private readonly o: BeaconFlusherOptions) {}

  /** Batches waiting for a retry. */
  get pendingBatches(): number {
    return this.#pending.length;
  }

  /** Drains the aggregator and writes everything pending; one flush at a time (callers share it). */
  flush(): Promise<void> {
    this.#running ??= this.#flush().finally(() => (this.#running = undefined));
    return this.#running;
  }

  /** Page views still unwritten (pending batches), counted as dropped on stop; returns how many. */
  abandon(): number {
    const views = this.#pending.reduce((n, b) => n + b.pageViews, 0);
    if (views > 0) this.o.metrics.dropped.inc({ reason: 'stop' }, views);
    this.#pending = [];
    this.o.metrics.pendingBatches.set(0);
    return views;
  }

  async #flush(): Promise<void> {
    const end = this.o.metrics.flushSeconds.startTimer();
    this.#enqueue(this.o.aggregator.drain());
    const batches = [...this.#pending];
    const results = await Promise.allSettled(batches.map((b) => this.#write(b)));
    const failed = new Set<PendingBatch>();
    results.forEach((r, i) => {
      if (r.status === 'rejected' && r.reason instanceof InputError) {
        // Permanent (the batch itself is at fault): retrying cannot help; the other batches go on.
        this.o.metrics.dropped.inc({ reason: 'rejected' }, batches[i]!.pageViews);
        this.o.log.warn(`dropped a batch of account ${batches[i]!.accountId}: ${(r.reason as Error).message}`);
      } else if (r.status === 'rejected') {
        failed.add(batches[i]!);
        this.o.metrics.flushFailures.inc();
        this.o.log.warn(`cannot write batch of account ${batches[i]!.accountId}: ${(r.reason as Error).message} (will retry)`);
      }
    });
    const tried = new Set(batches);
    this.#pending = this.#pending.filter((b) => failed.has(b) || !tried.has(b));
    this.o.metrics.pendingBatches.set(this.#pending.length);
    end();
  }

  #enqueue(aggregates: OpenAggregate[]): void {
    const byAccount = new Map<number, OpenAggregate[]>();
    for (const a of aggregates) {
      const list = byAccount.get(a.accountId);
      if (list) list.push(a);
      else byAccount.set(a.accountId, [a]);
    }
    for (const [accountId, list] of byAccount) {
      this.#pending.push({ accountId, dedupeKey: `beacon:${this.#instance}:${++this.#seq}`, aggregates: list, pageViews: pageViewsOf(list) });
    }
    while (this.#pending.length > this.o.maxPendingBatches) {
      const dropped = this.#pending.shift()!;
      this.o.metrics.dropped.inc({ reason: 'pending_overflow' }, dropped.pageViews);
      this.o.log.warn(`dropped a batch of ${dropped.pageViews} page views of account ${dropped.accountId}: ${this.o.maxPendingBatches} batches already wait for retry`);
    }
    this.o.metrics.pendingBatches.set(this.#pending.length);
  }

  /** False (counted in apm_beacon_page_views_dropped_total{reason="bad_name"}, logged) for a name that cannot be stored. */
  #storable(b: PendingBatch, name: string, a: OpenAggregate): boolean {
    const why = metricNameProblem(canonicalMetricName(name), false) ?? metricNameProblem(canonicalMetricName(a.scope), true);
    if (why === undefined) return true;
    if (name === 'Browser/PageLoad') {
      this.o.metrics.dropped.inc({ reason: 'bad_name' }, a.metrics.get(name)!.callCount);
      this.o.log.info(`left out page views of account ${b.accountId}: metric ${JSON.stringify(name)} scope ${JSON.stringify(a.scope.slice(0, 80))} ${why}`);
    }
    return false;
  }

  async #write(b: PendingBatch): Promise<void> {
    const { account, store } = await this.o.shards.storeForAccount(b.accountId);
    const byApp = new Map<number, OpenAggregate[]>();
    for (const a of b.aggregates) {
      const list = byApp.get(a.applicationId);
      if (list) list.push(a);
      else byApp.set(a.applicationId, [a]);
    }
    const rows: WriteRow[] = [];
    const distRows: DistRow[] = [];
    for (const [applicationId, list] of byApp) {
      // A name the dictionary cannot store is left out alone (counted): it never fails the other rows.
      const storable = list.flatMap((a) => [...a.metrics].filter(([name]) => this.#storable(b, name, a)).map(([name, slice]) => ({ a, name, slice })));
      const ids = await store.metricIds(b.accountId, storable.map((s) => ({ name: s.name, scope: s.a.scope })), { applicationId });
      const agentId = await store.applicationAgentId(b.accountId, applicationId);
      // Distributions ride on the ids of their storable metrics (a name left out takes its percentiles with it).
      const idOf = new Map<OpenAggregate, Map<string, number>>();
      storable.forEach(({ a, name, slice }, i) => {
        rows.push({ kind: 'minute', t: a.minute, row: { ...slice, metricId: ids[i]!, agentId, period: a.minute } });
        const m = idOf.get(a) ?? new Map<string, number>();
        m.set(name, ids[i]!);
        idOf.set(a, m);
      });
      for (const a of list) {
        for (const [name, counts] of a.dists ?? []) {
          const metricId = idOf.get(a)?.get(name);
          if (metricId !== undefined) for (const [bucket, count] of counts) distRows.push({ metricId, agentId, period: a.minute, bucket, count });
        }
      }
    }
    const outcome = await this.o.writer.write({ accountId: b.accountId, shardId: account.shardId, rows, dedupeKey: b.dedupeKey });
    if (outcome === 'committed') this.o.metrics.rowsFlushed.inc(rows.length);
    // The percentiles, exactly once per batch under the same key (see lib/distribution/dist-writer.ts).
    await writeDistributions(store, b.accountId, distRows, b.dedupeKey);
  }
}
