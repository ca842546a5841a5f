import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Why a rollup step failed, or a shard was skipped (bounded label values). */
export type RollupFailure = 'hour' | 'day' | 'seal' | 'minute_seal' | 'purge' | 'precreate' | 'shard';

/** The rollup's self-metrics, on an injected registry. Shard ids are the only open-ended label. */
export class RollupMetrics {
  readonly lag: Gauge<'shard'>;
  readonly pending: Gauge<'shard' | 'kind'>;
  readonly periods: Counter<'kind' | 'outcome'>;
  readonly rowsRead: Counter<'kind'>;
  readonly rowsWritten: Counter<'kind'>;
  readonly tablesSealed: Counter<'kind'>;
  readonly minuteSealRows: Counter;
  readonly tablesDropped: Counter<'kind'>;
  readonly tablesPrecreated: Counter;
  readonly unfinishedTables: Gauge<'shard'>;
  readonly shardRunSeconds: Gauge<'shard'>;
  readonly failures: Counter<'stage'>;
  readonly lockBusy: Counter<'shard'>;
  readonly runs: Counter<'outcome'>;
  readonly runSeconds: Histogram;

  constructor(registry: Registry) {
    const registers = [registry];
    this.lag = new Gauge({ name: 'apm_rollup_lag_seconds', help: 'How far behind the oldest due, never rolled period of the shard is (now - its end - grace); 0 = up to date.', labelNames: ['shard'], registers });
    this.pending = new Gauge({ name: 'apm_rollup_pending_periods', help: 'Due periods waiting to be rolled after the last run, by kind (hour, day) including re-rolls.', labelNames: ['shard', 'kind'], registers });
    this.periods = new Counter({ name: 'apm_rollup_periods_total', help: 'Periods rolled, by kind (hour, day) and outcome (rolled, rerolled).', labelNames: ['kind', 'outcome'], registers });
    this.rowsRead = new Counter({ name: 'apm_rollup_rows_read_total', help: 'Source rows read by rollups, by target kind.', labelNames: ['kind'], registers });
    this.rowsWritten = new Counter({ name: 'apm_rollup_rows_written_total', help: 'Rows written (inserted or replaced) by rollups, by target kind.', labelNames: ['kind'], registers });
    this.tablesSealed = new Counter({ name: 'apm_rollup_tables_sealed_total', help: 'Hour and day tables marked done (everything in their span rolled).', labelNames: ['kind'], registers });
    this.minuteSealRows = new Counter({ name: 'apm_rollup_minute_seal_rows_total', help: 'Application-wide minute rows written by the minute seal (derived from the agents\' rows of closed minutes).', registers });
    this.tablesDropped = new Counter({ name: 'apm_rollup_tables_dropped_total', help: 'Tables dropped by purge, by kind.', labelNames: ['kind'], registers });
    this.tablesPrecreated = new Counter({ name: 'apm_rollup_tables_precreated_total', help: 'Next-hour minute tables created ahead of time (APM_ROLLUP_PRECREATE_MINUTES).', registers });
    this.unfinishedTables = new Gauge({ name: 'apm_rollup_unfinished_tables', help: 'Period tables of the shard not done yet (what each run reads: about 4 per active account).', labelNames: ['shard'], registers });
    this.shardRunSeconds = new Gauge({ name: 'apm_rollup_shard_run_seconds', help: 'Duration of the last run on the shard (with nothing due: the periodic cost of the shard\'s size).', labelNames: ['shard'], registers });
    this.failures = new Counter({ name: 'apm_rollup_failures_total', help: 'Rollup failures by stage (hour, day, seal, minute_seal, purge, precreate, shard).', labelNames: ['stage'], registers });
    this.lockBusy = new Counter({ name: 'apm_rollup_lock_busy_total', help: 'Shard runs skipped because another rollup worker held the shard lock.', labelNames: ['shard'], registers });
    this.runs = new Counter({ name: 'apm_rollup_runs_total', help: 'Rollup runs by outcome (ok, failed, overlapped: skipped while the previous run was still going).', labelNames: ['outcome'], registers });
    this.runSeconds = new Histogram({ name: 'apm_rollup_run_duration_seconds', help: 'Duration of whole rollup runs over every shard.', buckets: [0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 1800], registers });
  }
}
