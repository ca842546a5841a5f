import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { REJECT_REASONS } from './beacon-rejection.js';

/**
 * The beacon's self-metrics, on an injected registry (served on APM_BEACON_METRICS_PORT /metrics):
 *
 * - apm_beacon_beacons_total{outcome="accepted"|"rejected", reason}: one per beacon; reason is
 *   "none" when accepted, else a beacon-rejection.ts reason (bad_key, origin_not_allowed, ...).
 * - apm_beacon_open_keys: open (account, application, scope, minute) aggregates in memory.
 * - apm_beacon_flush_seconds: time of one flush (drain, resolve ids, commit through the shard writer).
 * - apm_beacon_rows_flushed_total: timeslice rows committed.
 * - apm_beacon_flush_failures_total: batch write attempts that failed and stay queued for retry.
 * - apm_beacon_pending_batches: flushed batches waiting for a retry (shard down).
 * - apm_beacon_page_views_dropped_total{reason}: page views lost: "pending_overflow" (retry queue
 *   full), "stop" (still unwritable when the service stopped), "bad_name" (a page group the
 *   dictionary cannot store: left out alone), "rejected" (a batch refused for good: not retried).
 * - apm_beacon_page_group_overflow_total: page views folded into the overflow page group.
 * - apm_beacon_script_requests_total{version="pinned"|"latest"}: rum.js downloads.
 */
export class BeaconMetrics {
  readonly beacons: Counter<'outcome' | 'reason'>;
  readonly openKeys: Gauge;
  readonly flushSeconds: Histogram;
  readonly rowsFlushed: Counter;
  readonly flushFailures: Counter;
  readonly pendingBatches: Gauge;
  readonly dropped: Counter<'reason'>;
  readonly groupOverflow: Counter;
  readonly scripts: Counter<'version'>;

  constructor(registry: Registry, openKeys: () => number) {
    const registers = [registry];
    this.beacons = new Counter({ name: 'apm_beacon_beacons_total', help: 'Beacons by outcome and rejection reason', labelNames: ['outcome', 'reason'], registers });
    this.beacons.inc({ outcome: 'accepted', reason: 'none' }, 0);
    for (const reason of REJECT_REASONS) this.beacons.inc({ outcome: 'rejected', reason }, 0);
    this.openKeys = new Gauge({
      name: 'apm_beacon_open_keys',
      help: 'Open (account, application, page group, minute) aggregates in memory',
      registers,
      collect() {
        this.set(openKeys());
      },
    });
    this.flushSeconds = new Histogram({
      name: 'apm_beacon_flush_seconds',
      help: 'Duration of one flush of the aggregates through the shard writer',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.rowsFlushed = new Counter({ name: 'apm_beacon_rows_flushed_total', help: 'Timeslice rows committed by beacon flushes', registers });
    this.flushFailures = new Counter({ name: 'apm_beacon_flush_failures_total', help: 'Batch writes that failed and stay queued for retry', registers });
    this.pendingBatches = new Gauge({ name: 'apm_beacon_pending_batches', help: 'Flushed batches waiting for a retry', registers });
    this.dropped = new Counter({ name: 'apm_beacon_page_views_dropped_total', help: 'Acknowledged page views that could not be written', labelNames: ['reason'], registers });
    this.groupOverflow = new Counter({ name: 'apm_beacon_page_group_overflow_total', help: 'Page views folded into the (overflow) page group', registers });
    this.scripts = new Counter({ name: 'apm_beacon_script_requests_total', help: 'rum.js downloads', labelNames: ['version'], registers });
  }
}
