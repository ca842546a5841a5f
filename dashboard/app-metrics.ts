import type { MetricName } from '../lib/shard/metric-dictionary.js';
import type { ShardStore } from '../lib/shard/shard-store.js';

export interface AppMetricFilter {
  /** Name prefix (LIKE-escaped here). */
  prefix?: string;
  /** Exact names, any scope unless `scope` is given. */
  names?: readonly string[];
  scope?: string;
  limit: number;
}

/**
 * Metric names an application has written (the shard's application_metrics, filled by every writer
 * through ShardStore.metricIds' applicationId option), ordered by name and scope. Listing through the
 * application rather than the account's whole dictionary keeps one application's transactions, page
 * groups and custom metrics apart from its siblings' and bounds the answer by what it really sent.
 */
export async function findAppMetrics(store: ShardStore, accountId: number, applicationId: number, f: AppMetricFilter): Promise<Array<MetricName & { id: number }>> {
  const where = ['a.account_id = ?', 'a.application_id = ?'];
  const params: unknown[] = [accountId, applicationId];
  if (f.names) {
    if (f.names.length === 0) return [];
    where.push(`n.name IN (${f.names.map(() => '?').join(', ')})`);
    params.push(...f.names);
  }
  if (f.prefix) {
    where.push('n.name LIKE ?');
    params.push(`${f.prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  }
  if (f.scope !== undefined) {
    where.push('n.scope = ?');
    params.push(f.scope);
  }
  const limit = Math.max(1, Math.min(Math.floor(f.limit), 100_000));
  const [rows] = await store.pool.query<any[]>(
    `SELECT n.id, n.name, n.scope FROM application_metrics a JOIN metric_names n ON n.account_id = a.account_id AND n.id = a.metric_id
     WHERE ${where.join(' AND ')} ORDER BY n.name, n.scope LIMIT ${limit}`,
    params,
  );
  return rows.map((r) => ({ id: Number(r.id), name: String(r.name), scope: String(r.scope) }));
}
