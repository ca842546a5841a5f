import type { Config } from '../config/config.js';
import { createPool, parseAddress, type Credentials } from '../db/connect.js';
import type { Directory } from '../directory/directory.js';
import { probeLag } from './lag-probe.js';
import { ReplicaDirectory } from './replica-directory.js';

/** A registered replica as `apm shards list` and GET /admin/shards show it. */
export interface ReplicaStatus {
  address: string;
  /** current: lag below the threshold; lagging: at or above it; no_heartbeat: nothing to measure yet; unreachable. */
  state: 'current' | 'lagging' | 'no_heartbeat' | 'unreachable';
  /** Heartbeat lag, seconds (what routing uses). */
  lagSeconds: number | null;
  /** Seconds_Behind_Master as the replica reports it (shown only). */
  secondsBehindMaster: number | null;
  ioRunning: boolean;
  sqlRunning: boolean;
  error?: string;
}

/** Every registered replica by shard id, each measured once now (a connection of its own, 2 s budget). */
export async function replicaStatuses(directory: Directory, o: { credentials: Credentials; database: string; maxLagSeconds: number }): Promise<Map<number, ReplicaStatus[]>> {
  const out = new Map<number, ReplicaStatus[]>();
  const list = await new ReplicaDirectory(directory).list();
  const statuses = await Promise.all(list.map((r) => statusOf(r.address, o)));
  list.forEach((r, i) => out.set(r.shardId, [...(out.get(r.shardId) ?? []), statuses[i]!]));
  return out;
}

async function statusOf(address: string, o: { credentials: Credentials; database: string; maxLagSeconds: number }): Promise<ReplicaStatus> {
  const pool = createPool(parseAddress(address), { ...o.credentials, database: o.database, connectionLimit: 1, connectTimeout: 2000 });
  try {
    const r = await probeLag(pool.promise, { timeoutMs: 2000 });
    const state = r.lagSeconds === null ? 'no_heartbeat' : r.lagSeconds < o.maxLagSeconds ? 'current' : 'lagging';
    return { address, state, ...r };
  } catch (err) {
    return { address, state: 'unreachable', lagSeconds: null, secondsBehindMaster: null, ioRunning: false, sqlRunning: false, error: (err as Error).message };
  } finally {
    await pool.end();
  }
}

/** "127.0.0.1:13308 current, lag 0.4 s (Seconds_Behind_Master 0)" lines joined for one table cell. */
export function replicaSummary(list: readonly ReplicaStatus[] | undefined): string {
  if (!list?.length) return '-';
  return list
    .map((r) => {
      const lag = r.lagSeconds === null ? '' : `, lag ${r.lagSeconds.toFixed(1)} s`;
      const sbm = r.state === 'unreachable' ? '' : ` (Seconds_Behind_Master ${r.secondsBehindMaster ?? 'NULL'}${r.sqlRunning ? '' : ', SQL thread stopped'}${r.ioRunning ? '' : ', IO thread stopped'})`;
      return `${r.address} ${r.state.replace('_', ' ')}${lag}${sbm}${r.state === 'unreachable' ? `: ${r.error}` : ''}`;
    })
    .join('; ');
}

/**
 * Shard rows (of `apm shards list`, GET /admin/shards) with their registered replicas' status; unchanged
 * (no `readReplicas`) while no replica is registered anywhere, so setups without replicas see no new column.
 */
export async function withReplicaStatuses<T extends { id: number }>(directory: Directory, config: Config, shards: T[]): Promise<Array<T & { readReplicas?: ReplicaStatus[] }>> {
  const all = await replicaStatuses(directory, {
    credentials: { user: config.str('APM_DB_USER'), password: config.str('APM_DB_PASSWORD') },
    database: config.str('APM_SHARD_DATABASE'),
    maxLagSeconds: config.num('APM_REPLICA_MAX_LAG_SECONDS'),
  });
  if (all.size === 0) return shards;
  return shards.map((s) => ({ ...s, readReplicas: all.get(s.id) ?? [] }));
}
