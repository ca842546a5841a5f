import type { ShardStore } from '../lib/shard/shard-store.js';
import { distTableName } from '../lib/distribution/dist-tables.js';
import { tableName } from '../lib/shard/table-naming.js';

/**
 * What the percentiles cost in storage after the beacon phase: the distribution rows of the beacon's
 * hour beside the beacon's timeslice rows (Browser/… metrics of the application pseudo-agents), with
 * the InnoDB bytes of their tables (after ANALYZE TABLE; the timeslice tables of that hour hold only
 * the beacon's rows, the agents' simulated hour being earlier).
 */
export async function distributionCensus(store: ShardStore, accounts: ReadonlyArray<{ accountId: number; agentId: number }>, t: number): Promise<{ rows: number; bytes: number; timesliceRows: number; timesliceBytes: number }> {
  const out = { rows: 0, bytes: 0, timesliceRows: 0, timesliceBytes: 0 };
  const bytesOf = async (name: string) => {
    await store.pool.query(`ANALYZE TABLE \`${name}\``);
    const [r] = await store.pool.query<any[]>('SELECT DATA_LENGTH + INDEX_LENGTH AS b FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [name]);
    return Number(r[0]?.b ?? 0);
  };
  for (const { accountId, agentId } of accounts) {
    const dm = distTableName('minute', accountId, t);
    const [reg] = await store.pool.query<any[]>('SELECT 1 FROM dist_tables WHERE name = ?', [dm]);
    if (reg.length > 0) {
      const [n] = await store.pool.query<any[]>(`SELECT COUNT(*) AS n FROM \`${dm}\``);
      out.rows += Number(n[0].n);
      out.bytes += await bytesOf(dm);
    }
    const ts = tableName('minute', accountId, t);
    if (!(await store.tableInfo(ts))) continue;
    const ids = (await store.findMetrics(accountId, { prefix: 'Browser/' })).map((m) => m.id);
    if (ids.length > 0) {
      const [n] = await store.pool.query<any[]>(`SELECT COUNT(*) AS n FROM ${ts} WHERE agent_id = ? AND metric_id IN (${ids.map(() => '?').join(',')})`, [agentId, ...ids]);
      out.timesliceRows += Number(n[0].n);
    }
    out.timesliceBytes += await bytesOf(ts);
  }
  return out;
}
