import { createHash } from 'node:crypto';
import type { WriteRequest, WriteRow } from '../../lib/shard/shard-writer.js';
import type { Pending } from '../../lib/shard/shard-writer-types.js';
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

/**
 * A queued write of `rows` for the account of `f`, as the writer holds it (for tests that run its
 * transaction directly): keyed by `key` unless undefined, its ledger entry filed under `ledgerT`.
 */
export function pendingWrite(f: { account: { id: number; shardId: number } }, key: string | undefined, rows: WriteRequest['rows'], ledgerT: number, guard?: WriteRequest['guard']): Pending {
  return {
    req: { accountId: f.account.id, shardId: f.account.shardId, rows, ...(key !== undefined ? { dedupeKey: key } : {}), ...(guard ? { guard } : {}) },
    digest: key !== undefined ? createHash('sha256').update(key).digest() : undefined,
    ledgerT,
    deadline: Date.now() + 30_000,
    resolve: () => undefined,
    reject: () => undefined,
  };
}

/** The stats of `n` calls of `v` seconds each, as the writer tests write them (sum of squares v², min v/2, max 2v). */
export function callStats(n: number, v: number): Timeslice {
  return { callCount: n, totalTime: n * v, exclusiveTime: v, minTime: v / 2, maxTime: v * 2, sumOfSquares: v * v };
}
