import { Counter, Gauge, type Registry } from 'prom-client';
import { primarySeconds, type Route } from './read-route.js';

/** Self-metrics of read routing, on the reading service's registry (apm_<service>_replica_*). */
export class ReplicaMetrics {
  readonly reads: Counter<'target' | 'reason'>;
  readonly edgeSeconds: Counter;
  readonly failures: Counter<'replica'>;
  readonly lag: Gauge<'shard' | 'replica'>;

  constructor(registry: Registry, service: string, lags: () => Array<{ shardId: number; address: string; lagSeconds: number | null }>) {
    const registers = [registry];
    this.reads = new Counter({ name: `apm_${service}_replica_reads_total`, help: 'Time-series reads by target (primary, replica) and routing reason', labelNames: ['target', 'reason'], registers });
    this.edgeSeconds = new Counter({ name: `apm_${service}_replica_primary_edge_seconds_total`, help: 'Seconds of windows read from a primary because every replica lagged (the edge)', registers });
    this.failures = new Counter({ name: `apm_${service}_replica_failures_total`, help: 'Replica reads or lag measurements that failed (the replica is skipped until it answers again)', labelNames: ['replica'], registers });
    this.lag = new Gauge({
      name: `apm_${service}_replica_lag_seconds`,
      help: 'Heartbeat lag of each replica as this process last measured it (-1: not measurable)',
      labelNames: ['shard', 'replica'],
      registers,
      collect() {
        this.reset();
        for (const l of lags()) this.set({ shard: String(l.shardId), replica: l.address }, l.lagSeconds ?? -1);
      },
    });
  }

  recordRoute(route: Route): void {
    for (const p of route.parts) this.reads.inc({ target: p.target, reason: route.reason });
    if (route.reason === 'edge' || route.reason === 'edge_bounded') this.edgeSeconds.inc(primarySeconds(route));
  }
}
