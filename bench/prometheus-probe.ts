import type { ShardStore } from '../lib/shard/shard-store.js';
import { valuesTuple } from '../lib/shard/shard-writer-sql.js';
import type { AccountIds } from './bench-fleet.js';
import { benchStats, seedOf, type BenchMetric } from './bench-metrics.js';
import { probeFigures } from './dashboard-probe.js';
import { HttpLoader, type LoadRequest } from './http-load.js';
import type { LatencySummary } from './latency-histogram.js';

const HOUR = 3600;
const COLUMNS = 'metric_id, agent_id, period, call_count, total_time, exclusive_time, min_time, max_time, sum_of_squares';

/** Latency of one PromQL range query through /prometheus/api/v1/query_range, one request at a time. */
export interface PrometheusFigure {
  query: string;
  window: '24h';
  step: number;
  accounts: number;
  requests: number;
  failed: number;
  meanBytes: number;
  latency: LatencySummary;
  failures: string[];
}

export interface PrometheusProbeAccount {
  readKey: string;
}

/**
 * Application-wide minute rows (what the Prometheus API and the dashboard read) for every metric of
 * each account, every minute of the `hours` hours before `hourStart`, written straight into the
 * minute tables, which are then marked rolled up ('done') so the rollup phase's figures stay those of
 * the agents' hour. Returns the rows written.
 */
export async function seedMinuteHistory(store: ShardStore, accounts: readonly AccountIds[], metrics: readonly BenchMetric[], hourStart: number, hours: number): Promise<number> {
  let written = 0;
  for (const ids of accounts) {
    for (let h = 1; h <= hours; h++) {
      const t = hourStart - h * HOUR;
      const info = await store.ensureTable(ids.account.id, 'minute', t);
      const tuples: string[] = [];
      for (let minute = 0; minute < 60; minute++) {
        for (let m = 0; m < metrics.length; m++) {
          const s = benchStats(seedOf(ids.account.index, 0, m, 2000 + h * 60 + minute), metrics[m]!.apdex);
          tuples.push(valuesTuple({ ...s, metricId: ids.metricIds[m]!, agentId: ids.applicationAgentId, period: t + minute * 60 }));
        }
      }
      for (let k = 0; k < tuples.length; k += 2000) {
        const chunk = tuples.slice(k, k + 2000);
        await store.pool.query(`INSERT INTO ${info.name} (${COLUMNS}) VALUES ${chunk.join(',')} ON DUPLICATE KEY UPDATE call_count = VALUES(call_count)`);
        written += chunk.length;
      }
      await store.setRollupState(info.name, 'done');
    }
  }
  return written;
}

/**
 * The query at Grafana's usual steps for a 24 h panel, then the same numbers computed without
 * the SQL sum (`* 1` keeps the per-series rates in memory): the push-down's before/after, interleaved
 * in one run on the same data.
 */
export const PROBE_QUERIES: ReadonlyArray<{ query: string; step: number }> = [
  { query: 'sum by (app) (rate(apm_calls_total[5m]))', step: 60 },
  { query: 'sum by (app) (rate(apm_calls_total[5m]))', step: 300 },
  { query: 'sum by (app) (rate(apm_calls_total[5m]) * 1)', step: 60 },
  { query: 'sum by (app) (rate(apm_calls_total[5m]) * 1)', step: 300 },
];

/** Runs each query over the 24 h ending at `to`, round-robin over the accounts' read keys. */
export async function probePrometheus(origin: string, accounts: readonly PrometheusProbeAccount[], to: number, requests: number): Promise<PrometheusFigure[]> {
  const loader = new HttpLoader({ origin }, 1);
  const out: PrometheusFigure[] = [];
  try {
    for (const { query, step } of PROBE_QUERIES) {
      function* source(): Generator<LoadRequest> {
        for (let i = 0; i < requests; i++) {
          const a = accounts[i % accounts.length]!;
          const q = new URLSearchParams({ query, start: String(to - 86400), end: String(to), step: String(step) });
          yield { method: 'GET', path: `/prometheus/api/v1/query_range?${q}`, headers: { Authorization: `Bearer ${a.readKey}`, Accept: 'application/json' } };
        }
      }
      let bytes = 0;
      const stats = await loader.run(source(), { concurrency: 1, deadline: Date.now() + 300_000, maxRetries: 0, onOk: (_req, body) => (bytes += body.length) });
      out.push({
        query,
        window: '24h',
        step,
        accounts: accounts.length,
        ...probeFigures(stats, bytes),
      });
    }
  } finally {
    loader.close();
  }
  return out;
}
