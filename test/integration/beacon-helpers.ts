import type { ShardStore } from '../../lib/shard/shard-store.js';
import { tableName } from '../../lib/shard/table-naming.js';

/** One committed minute row of the beacon, by metric name and scope. */
export interface BeaconRow {
  name: string;
  scope: string;
  agentId: number;
  period: number;
  callCount: number;
  totalTime: number;
  exclusiveTime: number;
  minTime: number;
  maxTime: number;
  sumOfSquares: number;
}

/** Every row of an account's minute table holding time t, joined with the metric names. */
export async function minuteRows(store: ShardStore, accountId: number, t: number): Promise<BeaconRow[]> {
  const table = tableName('minute', accountId, t);
  const [exists] = await store.pool.query<any[]>('SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [table]);
  if (Number(exists[0].n) === 0) return [];
  const [rows] = await store.pool.query<any[]>(
    `SELECT n.name, n.scope, t.agent_id, t.period, t.call_count, t.total_time, t.exclusive_time, t.min_time, t.max_time, t.sum_of_squares
     FROM ${table} t JOIN metric_names n ON n.account_id = ? AND n.id = t.metric_id ORDER BY n.name, n.scope, t.period`,
    [accountId],
  );
  return rows.map((r) => ({
    name: String(r.name),
    scope: String(r.scope),
    agentId: Number(r.agent_id),
    period: Number(r.period),
    callCount: Number(r.call_count),
    totalTime: Number(r.total_time),
    exclusiveTime: Number(r.exclusive_time),
    minTime: Number(r.min_time),
    maxTime: Number(r.max_time),
    sumOfSquares: Number(r.sum_of_squares),
  }));
}

export function findRow(rows: BeaconRow[], name: string, scope = '', period?: number): BeaconRow | undefined {
  return rows.find((r) => r.name === name && r.scope === scope && (period === undefined || r.period === period));
}

/** The value of one sample in Prometheus text format; labels must match exactly those given (plus service). */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (.+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    delete got.service;
    if (Object.keys(got).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}
