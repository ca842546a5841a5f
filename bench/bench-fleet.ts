import type { Directory } from '../lib/directory/directory.js';
import type { ShardStore } from '../lib/shard/shard-store.js';
import type { BenchMetric } from './bench-metrics.js';
import { agentHost, agentPid, BENCH_APP, BENCH_ORIGIN } from './load-bodies.js';

/** One simulated customer: its keys (returned once by createAccount) and its application. */
export interface BenchAccount {
  /** 0-based position in the shape (seeds the load's values). */
  index: number;
  id: number;
  shardId: number;
  licenseKey: string;
  browserKey: string;
  readKey: string;
  applicationId: number;
}

/** Database ids of an account's simulated series, exactly as the collector resolves them. */
export interface AccountIds {
  account: BenchAccount;
  /** Per metric of benchMetrics(n), same order. */
  metricIds: number[];
  /** Per simulated agent index. */
  agentIds: number[];
  applicationAgentId: number;
}

/** Creates `n` accounts, each with the application the agents and browsers report to (origin allowed). */
export async function createFleet(directory: Directory, n: number, runTag: string): Promise<BenchAccount[]> {
  const out: BenchAccount[] = [];
  for (let i = 0; i < n; i++) {
    const made = await directory.createAccount({ name: `bench-${runTag}-${i}` });
    const app = await directory.ensureApplication(made.account.id, BENCH_APP);
    await directory.updateApplication(app.id, { allowedOrigins: [BENCH_ORIGIN] });
    out.push({
      index: i,
      id: made.account.id,
      shardId: made.account.shardId,
      licenseKey: made.licenseKey,
      browserKey: made.browserKey,
      readKey: made.readKey,
      applicationId: app.id,
    });
  }
  return out;
}

/**
 * Resolves metric and agent ids through the shard's dictionary and agents table, the same calls
 * (same names, same (host, pid, language)) the collector makes on connect and harvest, so the ceiling
 * writes exactly the rows the end-to-end path writes.
 */
export async function resolveIds(store: ShardStore, account: BenchAccount, metrics: readonly BenchMetric[], agents: number): Promise<AccountIds> {
  const metricIds = await store.metricIds(account.id, metrics.map((m) => ({ name: m.name, scope: m.scope })), { applicationId: account.applicationId });
  const agentIds: number[] = [];
  for (let g = 0; g < agents; g++) {
    agentIds.push(await store.agentId(account.id, { applicationId: account.applicationId, host: agentHost(g), pid: agentPid(g), language: 'nodejs' }));
  }
  return { account, metricIds, agentIds, applicationAgentId: await store.applicationAgentId(account.id, account.applicationId) };
}
