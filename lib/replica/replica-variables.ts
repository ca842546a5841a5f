import type { Config } from '../config/config.js';
import type { VariableSpec } from '../config/variable-spec.js';

/** Read replicas: the embedded replicas and the dashboard's read routing (docs/operations.md, "Read replicas"). */
export const replicaVariables: VariableSpec[] = [
  { name: 'APM_EMBEDDED_REPLICAS', type: 'boolean', default: 'false', doc: 'The embedded default also starts one read replica per shard server (binary log on the primary, GTID replication), registered with the shard; costs one more MariaDB server per shard (memory, disk, the binary log).' },
  { name: 'APM_REPLICA_MAX_LAG_SECONDS', type: 'number', default: '5', min: 0, max: 86400, doc: "A replica whose heartbeat lag is below this answers any dashboard read; a more lagged one only windows that end before now - lag - APM_REPLICA_LAG_MARGIN_SECONDS." },
  { name: 'APM_REPLICA_LAG_MARGIN_SECONDS', type: 'integer', default: '90', min: 0, max: 86400, doc: "Added to a replica's lag before a window is old enough for it: covers data that arrives after its minute (an agent's 60 s harvest cycle, the writer's batching)." },
  { name: 'APM_REPLICA_LAG_TTL_SECONDS', type: 'number', default: '1', min: 0.05, max: 60, doc: "How long a process trusts a replica's measured lag before measuring again; an unreachable replica is asked again after 5x this." },
  { name: 'APM_REPLICA_MAX_EDGE_SECONDS', type: 'integer', default: '900', min: 0, max: 86400, doc: 'When every replica lags, at most this newest part of a window (the edge) is read from the primary; older data comes from the replica and is flagged stale in the answer.' },
  { name: 'APM_REPLICA_MAX_EDGE_READS', type: 'integer', default: '4', min: 0, max: 1000, doc: 'Edge reads one process sends to a shard primary at once while every replica lags; past it the read is answered from the replica (flagged stale).' },
];

export interface ReplicaSettings {
  maxLagSeconds: number;
  marginSeconds: number;
  lagTtlSeconds: number;
  maxEdgeSeconds: number;
  maxEdgeReads: number;
}

export function replicaSettings(config: Config): ReplicaSettings {
  return {
    maxLagSeconds: config.num('APM_REPLICA_MAX_LAG_SECONDS'),
    marginSeconds: config.num('APM_REPLICA_LAG_MARGIN_SECONDS'),
    lagTtlSeconds: config.num('APM_REPLICA_LAG_TTL_SECONDS'),
    maxEdgeSeconds: config.num('APM_REPLICA_MAX_EDGE_SECONDS'),
    maxEdgeReads: config.num('APM_REPLICA_MAX_EDGE_READS'),
  };
}
