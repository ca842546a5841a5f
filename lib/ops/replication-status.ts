/**
 * Pure readings of what a shard server says about replication and write activity. MariaDB and
 * MySQL 8 name the same fields differently (Slave_/Master_ vs Replica_/Source_); both are understood.
 */
export interface ReplicaOf {
  /** Seconds behind the primary; null when the SQL thread is not running (lag unknown). */
  lagSeconds: number | null;
  ioRunning: boolean;
  sqlRunning: boolean;
  /** The last IO or SQL error, if any. */
  error?: string;
  primary?: string;
}

function field(row: Record<string, unknown>, ...names: string[]): unknown {
  for (const n of names) if (n in row) return row[n];
  return undefined;
}

const running = (v: unknown) => String(v ?? '').toLowerCase() === 'yes';

/** `SHOW REPLICA STATUS` / `SHOW SLAVE STATUS` rows → the server's own replication (undefined: not a replica). */
export function parseReplicaStatus(rows: ReadonlyArray<Record<string, unknown>>): ReplicaOf | undefined {
  const row = rows[0];
  if (!row) return undefined;
  const lag = field(row, 'Seconds_Behind_Master', 'Seconds_Behind_Source');
  const io = running(field(row, 'Slave_IO_Running', 'Replica_IO_Running'));
  const sql = running(field(row, 'Slave_SQL_Running', 'Replica_SQL_Running'));
  const errors = [field(row, 'Last_IO_Error'), field(row, 'Last_SQL_Error')].map((e) => String(e ?? '').trim()).filter((e) => e.length > 0);
  const host = field(row, 'Master_Host', 'Source_Host');
  const port = field(row, 'Master_Port', 'Source_Port');
  return {
    lagSeconds: lag === null || lag === undefined || lag === '' ? null : Number(lag),
    ioRunning: io,
    sqlRunning: sql,
    ...(errors.length ? { error: errors.join('; ') } : {}),
    ...(host ? { primary: `${String(host)}:${String(port ?? '')}` } : {}),
  };
}

export interface ReplicaHost {
  serverId: number;
  host: string;
  port: number;
}

/** `SHOW REPLICA HOSTS` / `SHOW SLAVE HOSTS` rows → replicas registered with this primary. */
export function parseReplicaHosts(rows: ReadonlyArray<Record<string, unknown>>): ReplicaHost[] {
  return rows
    .map((r) => ({ serverId: Number(field(r, 'Server_id', 'Server_Id')), host: String(field(r, 'Host') ?? ''), port: Number(field(r, 'Port') ?? 0) }))
    .filter((r) => r.host.length > 0 && r.port > 0);
}

/** One reading of a server's write counters (InnoDB rows inserted + updated) at a time (ms). */
export interface WriteSample {
  at: number;
  rows: number;
}

export function writeSampleOf(statusRows: ReadonlyArray<{ Variable_name: string; Value: unknown }>, at: number): WriteSample {
  let rows = 0;
  for (const r of statusRows) if (/^Innodb_rows_(inserted|updated)$/i.test(r.Variable_name)) rows += Number(r.Value);
  return { at, rows };
}

/**
 * Rows written per minute between the oldest sample of the window and the newest; null with fewer than
 * two samples or no time between them. A counter that went down (server restart) counts from zero.
 */
export function rowsPerMinute(samples: readonly WriteSample[]): number | null {
  if (samples.length < 2) return null;
  const first = samples[0]!;
  const last = samples[samples.length - 1]!;
  const ms = last.at - first.at;
  if (ms <= 0) return null;
  let rows = 0;
  for (let i = 1; i < samples.length; i++) {
    const d = samples[i]!.rows - samples[i - 1]!.rows;
    rows += d >= 0 ? d : samples[i]!.rows;
  }
  return Math.round((rows * 60000) / ms);
}

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number | null): string {
  if (n === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** One line about a shard's replication for `apm shards list`. */
export function replicationSummary(h: { replicaOf?: ReplicaOf; replicas: ReadonlyArray<{ address: string; lagSeconds: number | null; error?: string }> }): string {
  const parts: string[] = [];
  if (h.replicaOf) {
    const r = h.replicaOf;
    const state = r.ioRunning && r.sqlRunning ? `lag ${r.lagSeconds ?? '?'} s` : `broken${r.error ? `: ${r.error}` : ''}`;
    parts.push(`replica of ${r.primary ?? '?'}, ${state}`);
  }
  for (const x of h.replicas) parts.push(`replica ${x.address}: ${x.error ? x.error : `lag ${x.lagSeconds ?? '?'} s`}`);
  return parts.length ? parts.join('; ') : 'none';
}
