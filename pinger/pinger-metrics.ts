import { Counter, type Registry } from 'prom-client';

/** The pinger's self-metrics, on an injected registry. */
export class PingerMetrics {
  readonly checks: Counter<'outcome'>;
  readonly rowsWritten: Counter;
  readonly writeFailures: Counter;
  readonly ticks: Counter<'outcome'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.checks = new Counter({ name: 'apm_pinger_checks_total', help: 'Availability checks by outcome (up, down).', labelNames: ['outcome'], registers });
    this.rowsWritten = new Counter({ name: 'apm_pinger_rows_written_total', help: 'Availability timeslice rows written through the shard writer.', registers });
    this.writeFailures = new Counter({ name: 'apm_pinger_write_failures_total', help: 'Writes of check results that failed (the results are lost; the incident logic still ran).', registers });
    this.ticks = new Counter({ name: 'apm_pinger_ticks_total', help: 'Pinger turns by outcome (ok, failed, overlapped).', labelNames: ['outcome'], registers });
  }
}
