import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ShardStats } from '../lib/ops/shard-stats.js';

/** Self-metrics of the admin service (apm_admin_*), on its injected registry. */
export class AdminMetrics {
  readonly requests: Counter<'route' | 'status'>;
  readonly moves: Counter<'outcome'>;
  readonly movesRunning: Gauge;
  readonly fenced: Histogram;
  readonly shardUp: Gauge<'shard'>;
  readonly shardAccounts: Gauge<'shard'>;
  readonly shardTables: Gauge<'shard' | 'kind'>;
  readonly shardBytes: Gauge<'shard'>;
  readonly shardRows: Gauge<'shard'>;
  readonly shardLag: Gauge<'shard' | 'replica'>;
  readonly shardStatsSeconds: Gauge<'shard'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({ name: 'apm_admin_requests_total', help: 'Admin API requests by route and status', labelNames: ['route', 'status'], registers });
    this.moves = new Counter({ name: 'apm_admin_moves_total', help: 'Account moves run by this service, by outcome (done, rolled_back, interrupted, failed)', labelNames: ['outcome'], registers });
    this.movesRunning = new Gauge({ name: 'apm_admin_moves_running', help: 'Account moves running in this service', registers });
    this.fenced = new Histogram({ name: 'apm_admin_move_fenced_seconds', help: 'How long a move fenced its account\'s writes during the switch', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers });
    this.shardUp = new Gauge({ name: 'apm_admin_shard_up', help: '1 when the shard server answered the last health check', labelNames: ['shard'], registers });
    this.shardAccounts = new Gauge({ name: 'apm_admin_shard_accounts', help: 'Accounts living on the shard', labelNames: ['shard'], registers });
    this.shardTables = new Gauge({ name: 'apm_admin_shard_tables', help: 'Registered per-period tables on the shard', labelNames: ['shard', 'kind'], registers });
    this.shardBytes = new Gauge({ name: 'apm_admin_shard_data_bytes', help: 'Data and index bytes of the shard database', labelNames: ['shard'], registers });
    this.shardRows = new Gauge({ name: 'apm_admin_shard_rows_written_per_minute', help: 'InnoDB rows inserted + updated per minute on the shard server, recently', labelNames: ['shard'], registers });
    this.shardStatsSeconds = new Gauge({ name: 'apm_admin_shard_stats_seconds', help: 'How long the last health check + statistics pass of the shard took (grows with what the shard holds; budget 5 s)', labelNames: ['shard'], registers });
    this.shardLag = new Gauge({ name: 'apm_admin_shard_replication_lag_seconds', help: 'Replication lag of the shard server (replica="self") or of its replicas', labelNames: ['shard', 'replica'], registers });
  }

  observeShards(stats: readonly ShardStats[]): void {
    this.shardLag.reset();
    for (const s of stats) {
      const shard = String(s.id);
      this.shardUp.set({ shard }, s.health.reachable ? 1 : 0);
      this.shardAccounts.set({ shard }, s.accounts);
      if (s.statsMs !== undefined) this.shardStatsSeconds.set({ shard }, s.statsMs / 1000);
      if (s.tables) for (const kind of ['minute', 'hour', 'day'] as const) this.shardTables.set({ shard, kind }, s.tables[kind]);
      if (s.dataBytes !== null) this.shardBytes.set({ shard }, s.dataBytes);
      if (s.rowsPerMinute !== null) this.shardRows.set({ shard }, s.rowsPerMinute);
      if (s.health.replicaOf?.lagSeconds !== null && s.health.replicaOf?.lagSeconds !== undefined) this.shardLag.set({ shard, replica: 'self' }, s.health.replicaOf.lagSeconds);
      for (const r of s.health.replicas) if (r.lagSeconds !== null) this.shardLag.set({ shard, replica: r.address }, r.lagSeconds);
    }
  }
}
