import type { WriteRow } from '../../lib/shard/shard-writer.js';
import { tableName } from '../../lib/shard/table-naming.js';
import type { Timeslice } from '../../lib/timeslice/timeslice.js';
import type { TestCluster } from './mariadb.js';

/**
 * An account with one application of `agents` agents (hosts h0, h1, …) and two metrics
 * (WebTransaction, Datastore/all), on a test cluster; `row` builds an agent's minute row naming the
 * application's pseudo-agent (as the collector writes them). `table` is the minute table of `hour`.
 */
export async function agentFleet(c: TestCluster, name: string, agents: number, hour: number) {
  const { account } = await c.directory.createAccount({ name });
  const { store } = await c.registry.storeForAccount(account.id);
  const app = await c.directory.ensureApplication(account.id, 'app');
  const metricIds = await store.metricIds(account.id, [{ name: 'WebTransaction', scope: '' }, { name: 'Datastore/all', scope: '' }]);
  const appAgent = await store.applicationAgentId(account.id, app.id);
  const agentIds: number[] = [];
  for (let g = 0; g < agents; g++) agentIds.push(await store.agentId(account.id, { applicationId: app.id, host: `h${g}`, pid: 100 + g, language: 'nodejs' }));
  /** Agent g's row of metric m for the minute `period`. */
  const row = (g: number, m: number, period: number, s: Timeslice): WriteRow => ({
    kind: 'minute',
    t: period,
    row: { metricId: metricIds[m]!, agentId: agentIds[g]!, period, ...s },
    applicationAgentId: appAgent,
  });
  return { account, store, app, metricIds, appAgent, agentIds, table: tableName('minute', account.id, hour), row };
}
