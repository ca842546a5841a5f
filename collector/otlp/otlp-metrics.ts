import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * The OTLP receiver's self-metrics on the collector's registry, named apm_collector_otlp_<thing>.
 * Label values come from fixed lists in our own code.
 */
export type PointOutcome = 'written' | 'rejected' | 'baseline' | 'duplicate' | 'empty' | 'skipped';

export class OtlpMetrics {
  readonly requests: Counter<'format' | 'status'>;
  readonly points: Counter<'outcome'>;
  readonly rejectedPoints: Counter<'reason'>;
  readonly rowsWritten: Counter<'shard'>;
  readonly duplicateExports: Counter;
  readonly overflowNames: Counter;
  readonly evictedSeries: Counter;
  readonly commitSeconds: Histogram;

  constructor(registry: Registry, seriesCount: () => number) {
    const registers = [registry];
    this.requests = new Counter({ name: 'apm_collector_otlp_requests_total', help: 'OTLP/HTTP export requests by format and HTTP status', labelNames: ['format', 'status'], registers });
    this.points = new Counter({
      name: 'apm_collector_otlp_points_total',
      help: 'OTLP data points by outcome (written, rejected, baseline, duplicate, empty, skipped)',
      labelNames: ['outcome'],
      registers,
    });
    this.rejectedPoints = new Counter({
      name: 'apm_collector_otlp_points_rejected_total',
      help: 'OTLP data points not stored, reported in partialSuccess, by reason (see schema/README.md, "Points not stored")',
      labelNames: ['reason'],
      registers,
    });
    this.rowsWritten = new Counter({ name: 'apm_collector_otlp_rows_written_total', help: 'Minute rows committed from OTLP exports, per shard', labelNames: ['shard'], registers });
    this.duplicateExports = new Counter({ name: 'apm_collector_otlp_duplicate_exports_total', help: 'Exports acknowledged without writing because the same body was already committed', registers });
    this.overflowNames = new Counter({ name: 'apm_collector_otlp_overflow_names_total', help: 'OTLP metric names folded into Overflow/MetricNames (per-application bound)', registers });
    this.evictedSeries = new Counter({ name: 'apm_collector_otlp_series_evicted_total', help: 'Series forgotten by the temporality state (bound or idle)', registers });
    this.commitSeconds = new Histogram({
      name: 'apm_collector_otlp_commit_seconds',
      help: 'Time from handing an OTLP export to the shard writer until its commit',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    new Gauge({
      name: 'apm_collector_otlp_series',
      help: 'Series held in memory by the temporality state',
      registers,
      collect() {
        this.set(seriesCount());
      },
    });
  }
}
