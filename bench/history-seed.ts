import type { ShardStore } from '../lib/shard/shard-store.js';
import type { TableKind } from '../lib/shard/table-naming.js';
import { valuesTuple } from '../lib/shard/shard-writer-sql.js';
import type { AccountIds } from './bench-fleet.js';
import { benchStats, seedOf, type BenchMetric } from './bench-metrics.js';
import { KEY_COLUMNS, VALUE_COLUMNS } from '../lib/timeslice/timeslice-columns.js';

const HOUR = 3600;
const DAY = 86400;
const COLUMNS = [...KEY_COLUMNS, ...VALUE_COLUMNS].join(', ');

/**
 * History for the dashboard probe, as a service running for a month would have it: hourly rows for
 * the 23 hours before `hourStart` and daily rows for the `days` days before its day, for every series
 * of the probed accounts (agents and application), written straight into the hour and day tables
 * (with `periods` = 60 or 24 where the template has it). Returns the rows written.
 */
export async function seedHistory(store: ShardStore, accounts: readonly AccountIds[], metrics: readonly BenchMetric[], hourStart: number, days: number): Promise<number> {
  const dayStart = Math.floor(hourStart / DAY) * DAY;
  const periods: Array<{ kind: TableKind; t: number; count: number }> = [];
  for (let h = 1; h <= 23; h++) periods.push({ kind: 'hour', t: hourStart - h * HOUR, count: 60 });
  for (let d = 1; d <= days; d++) periods.push({ kind: 'day', t: dayStart - d * DAY, count: 24 });
  let written = 0;
  for (const ids of accounts) {
    for (const [i, p] of periods.entries()) {
      const info = await store.ensureTable(ids.account.id, p.kind, p.t);
      const withPeriods = info.columns.includes('periods');
      const tuples: string[] = [];
      const agents = [...ids.agentIds, ids.applicationAgentId];
      for (let g = 0; g < agents.length; g++) {
        for (let m = 0; m < metrics.length; m++) {
          const s = benchStats(seedOf(ids.account.index, g, m, 1000 + i), metrics[m]!.apdex);
          const tuple = valuesTuple({ ...s, callCount: s.callCount * p.count, totalTime: s.totalTime * p.count, metricId: ids.metricIds[m]!, agentId: agents[g]!, period: p.t });
          tuples.push(withPeriods ? `${tuple.slice(0, -1)},${p.count})` : tuple);
        }
      }
      for (let k = 0; k < tuples.length; k += 2000) {
        const chunk = tuples.slice(k, k + 2000);
        await store.pool.query(`INSERT INTO ${info.name} (${COLUMNS}${withPeriods ? ', periods' : ''}) VALUES ${chunk.join(',')} ON DUPLICATE KEY UPDATE call_count = VALUES(call_count)`);
        written += chunk.length;
      }
    }
  }
  return written;
}
