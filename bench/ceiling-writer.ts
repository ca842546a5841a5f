import type { BulkConnection } from '../lib/db/bulk-pool.js';
import { bulkRows, bulkUpsertSql } from '../lib/shard/shard-writer-bulk-trip.js';
import { upsertSql } from '../lib/shard/shard-writer-sql.js';
import type { ShardStore } from '../lib/shard/shard-store.js';
import { timesliceRow, type TimesliceRow } from '../lib/timeslice/timeslice.js';
import type { AccountIds } from './bench-fleet.js';
import { benchStats, seedOf, type BenchMetric } from './bench-metrics.js';

export interface CeilingJob {
  store: ShardStore;
  accounts: readonly AccountIds[];
  metrics: readonly BenchMetric[];
  hourStart: number;
  minutes: number;
  connections: number;
  batchRows: number;
  /**
   * Each statement's rows as the writer's bulk statements (APM_WRITER_BULK; lib/shard/shard-writer-bulk-trip.ts)
   * instead of the upsert text, when the server runs them: the same storage work as the pipeline's.
   */
  bulk?: boolean;
  /** Date.now() after which no new minute starts. */
  deadline: number;
}

export interface CeilingResult {
  minutesDone: number;
  minuteDoneAt: number[];
  startedAt: number;
  statements: number;
  rowsSent: number;
  /**
   * CPU seconds the bench process spent making the rows (minuteRows): the load generator's work in this
   * phase, reported apart as the end-to-end phase's generator process is.
   */
  generatorCpuSeconds: number;
}

/**
 * The minute rows of one account the end-to-end path writes for simulated minute `minute`: one per
 * (agent, metric). The application pseudo-agent's rows are derived by the minute seal (bench-seal.ts),
 * as in the pipeline. Pure.
 */
export function minuteRows(ids: AccountIds, metrics: readonly BenchMetric[], period: number, minute: number): TimesliceRow[] {
  const rows: TimesliceRow[] = [];
  for (let g = 0; g < ids.agentIds.length; g++) {
    for (let m = 0; m < metrics.length; m++) {
      const s = benchStats(seedOf(ids.account.index, g, m, minute), metrics[m]!.apdex);
      // The collector's row shape (timesliceRow): the writer's code reads the rows it reads end to end.
      rows.push(timesliceRow(s, ids.metricIds[m]!, ids.agentIds[g]!, period));
    }
  }
  return rows;
}

/**
 * The ceiling: the same agents' rows written straight into the account's per-hour table by multi-row
 * INSERT … ON DUPLICATE KEY UPDATE (lib/shard/shard-writer-sql.ts, the writer's own statement), or with
 * `bulk` as the writer's bulk statements of the same rows (one per table), one autocommitted
 * statement of `batchRows` rows at a time on each of `connections` connections, with
 * no HTTP, no JSON, no dictionary, no ledger in front; the caller runs the minute seal beside it. Minutes go one after the other, as the
 * generator posts them.
 */
export async function writeCeilingHour(job: CeilingJob, onMinute: (minute: number, at: number) => void): Promise<CeilingResult> {
  const result: CeilingResult = { minutesDone: 0, minuteDoneAt: [], startedAt: Date.now(), statements: 0, rowsSent: 0, generatorCpuSeconds: 0 };
  const conns = await Promise.all(Array.from({ length: job.connections }, () => job.store.pool.getConnection()));
  const bulks: (BulkConnection | undefined)[] = job.bulk ? await Promise.all(conns.map(() => job.store.bulkConnection())) : [];
  try {
    for (let k = 0; k < job.minutes && Date.now() < job.deadline; k++) {
      const period = job.hourStart + 60 * k;
      const statements = statementsOf(job, period, k, result);
      await Promise.all(
        conns.map(async (conn, i) => {
          const bulk = bulks[i];
          for (;;) {
            const next = await statements.next();
            if (next.done) return;
            const { table, rows } = next.value;
            if (bulk) await bulk.batch(bulkUpsertSql(table), bulkRows(rows));
            else await conn.query(upsertSql(table, rows));
          }
        }),
      );
      result.minutesDone = k + 1;
      result.minuteDoneAt.push(Date.now());
      onMinute(k, Date.now());
    }
  } finally {
    for (const c of conns) c.release();
    await Promise.all(bulks.map((b) => b?.release()));
  }
  return result;
}

/** Statements of one minute (a table and its rows), built lazily (one account's rows in memory at a time per worker). */
async function* statementsOf(job: CeilingJob, period: number, minute: number, result: CeilingResult): AsyncGenerator<{ table: string; rows: TimesliceRow[] }> {
  for (const ids of job.accounts) {
    const table = (await job.store.ensureTable(ids.account.id, 'minute', period)).name;
    const before = process.cpuUsage();
    const rows = minuteRows(ids, job.metrics, period, minute);
    const used = process.cpuUsage(before);
    result.generatorCpuSeconds += (used.user + used.system) / 1e6;
    for (let i = 0; i < rows.length; i += job.batchRows) {
      const chunk = rows.slice(i, i + job.batchRows);
      result.statements++;
      result.rowsSent += chunk.length;
      yield { table, rows: chunk };
    }
  }
}
