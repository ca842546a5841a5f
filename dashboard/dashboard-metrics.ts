import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { SeriesResult } from './series-reader.js';

/** The dashboard's self-metrics, on an injected registry (names apm_dashboard_<thing>_<unit|total>). */
export class DashboardMetrics {
  readonly requests: Counter<'route' | 'status'>;
  readonly duration: Histogram<'route'>;
  readonly signIns: Counter<'outcome'>;
  readonly tablesRead: Counter<'kind'>;
  readonly stitchedHours: Counter;
  readonly unrolledHours: Counter;

  constructor(registry: Registry, sessions: () => number) {
    const registers = [registry];
    this.requests = new Counter({ name: 'apm_dashboard_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers });
    this.duration = new Histogram({
      name: 'apm_dashboard_request_duration_seconds',
      help: 'Time to answer an API request, by route',
      labelNames: ['route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.signIns = new Counter({ name: 'apm_dashboard_sign_ins_total', help: 'Sign-ins by outcome (ok, rejected)', labelNames: ['outcome'], registers });
    this.tablesRead = new Counter({ name: 'apm_dashboard_tables_read_total', help: 'Per-period tables read by time-series requests, by kind', labelNames: ['kind'], registers });
    this.stitchedHours = new Counter({ name: 'apm_dashboard_stitched_hours_total', help: 'Hours not rolled up yet that were read from minute tables', registers });
    this.unrolledHours = new Counter({ name: 'apm_dashboard_unrolled_hours_total', help: 'Hours not rolled up yet and past the stitch bound (answered from possibly incomplete hour tables)', registers });
    new Gauge({ name: 'apm_dashboard_sessions', help: 'Signed-in sessions in memory', registers, collect() { this.set(sessions()); } });
  }

  recordRead(r: SeriesResult): void {
    for (const kind of ['minute', 'hour', 'day'] as const) if (r.tablesRead[kind] > 0) this.tablesRead.inc({ kind }, r.tablesRead[kind]);
    if (r.stitchedHours.length > 0) this.stitchedHours.inc(r.stitchedHours.length);
    if (r.unrolledHours.length > 0) this.unrolledHours.inc(r.unrolledHours.length);
  }
}
