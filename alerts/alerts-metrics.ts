import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The alerts service's self-metrics, on an injected registry (bounded labels only). */
export class AlertsMetrics {
  readonly evaluations: Counter<'outcome'>;
  readonly transitions: Counter<'transition'>;
  readonly notifications: Counter<'channel' | 'outcome'>;
  readonly partitionsBusy: Counter;
  readonly runSeconds: Histogram;
  readonly runs: Counter<'outcome'>;
  readonly pendingNotifications: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.evaluations = new Counter({ name: 'apm_alerts_policy_minutes_total', help: 'Policy minutes evaluated, by outcome (data, no_data, failed: the application could not be read).', labelNames: ['outcome'], registers });
    this.transitions = new Counter({ name: 'apm_alerts_transitions_total', help: 'Incident transitions (open, level, close) of policies and monitors.', labelNames: ['transition'], registers });
    this.notifications = new Counter({ name: 'apm_alerts_notifications_total', help: 'Notification attempts by channel type and outcome (sent, retry, failed: gave up after the last attempt).', labelNames: ['channel', 'outcome'], registers });
    this.partitionsBusy = new Counter({ name: 'apm_alerts_partitions_busy_total', help: 'Evaluation partitions skipped because another alert process held them.', registers });
    this.runSeconds = new Histogram({ name: 'apm_alerts_run_duration_seconds', help: 'Duration of whole evaluation runs.', buckets: [0.01, 0.1, 0.5, 1, 5, 15, 30, 60], registers });
    this.runs = new Counter({ name: 'apm_alerts_runs_total', help: 'Evaluation runs by outcome (ok, failed, overlapped).', labelNames: ['outcome'], registers });
    this.pendingNotifications = new Gauge({ name: 'apm_alerts_pending_notifications', help: 'Notifications waiting for delivery or a retry after the last delivery pass.', registers });
  }
}
