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
  let q = store.kysely
    .selectFrom('application_metrics as a')
    .innerJoin('metric_names as n', (j) => j.onRef('n.account_id', '=', 'a.account_id').onRef('n.id', '=', 'a.metric_id'))
    .select(['n.id', 'n.name', 'n.scope'])
    .where('a.account_id', '=', accountId)
    .where('a.application_id', '=', applicationId);
  if (f.names) {
    if (f.names.length === 0) return [];
    q = q.where('n.name', 'in', [...f.names]);
  }
  if (f.prefix) q = q.where('n.name', 'like', `${f.prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  if (f.scope !== undefined) q = q.where('n.scope', '=', f.scope);
  const limit = Math.max(1, Math.min(Math.floor(f.limit), 100_000));
  const rows = await q.orderBy('n.name').orderBy('n.scope').limit(limit).execute();
  return rows.map((r) => ({ id: Number(r.id), name: String(r.name), scope: String(r.scope) }));
}
