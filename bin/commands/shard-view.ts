import type { ShardStats } from '../../lib/ops/shard-stats.js';
import { formatBytes, replicationSummary } from '../../lib/ops/replication-status.js';
import { replicaSummary, type ReplicaStatus } from '../../lib/replica/replica-status.js';

/** One row of `apm shards list` for people. */
export function shardRow(s: ShardStats & { readReplicas?: ReplicaStatus[] }): Record<string, string | number> {
  const h = s.health;
  const moving = [s.movesIn ? `${s.movesIn} in` : '', s.movesOut ? `${s.movesOut} out` : '', s.fenced ? `${s.fenced} fenced` : ''].filter(Boolean).join(', ');
  return {
    id: s.id,
    address: s.address,
    state: s.state,
    health: h.reachable ? `up ${h.latencyMs} ms${s.statsError ? ' (stats late)' : ''}` : `DOWN (${h.error ?? 'unreachable'})`,
    accounts: s.accounts,
    moving: moving || '-',
    'tables m/h/d': s.tables ? `${s.tables.minute}/${s.tables.hour}/${s.tables.day}` : '-',
    size: formatBytes(s.dataBytes),
    'rows/min': s.rowsPerMinute ?? '-',
    replication: h.reachable ? replicationSummary(h) : '-',
    ...(s.readReplicas ? { 'read replicas': replicaSummary(s.readReplicas) } : {}),
  };
}
