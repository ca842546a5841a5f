import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../lib/config/config.js';
import { loadAppConfig } from '../bin/app-variables.js';
import { createServiceRegistry } from '../lib/metrics/registry.js';
import type { ServiceDeps } from '../lib/services.js';
import { openStorage, type Storage } from '../lib/storage.js';
import { createFleet, resolveIds, type AccountIds } from './bench-fleet.js';
import { benchMetrics } from './bench-metrics.js';
import type { BenchPhase } from './bench-options.js';
import type { PoolRunReport } from './bench-report.js';
import { writeCeilingHour } from './ceiling-writer.js';
import { BenchSealer } from './bench-seal.js';
import { dropHour } from './db-census.js';
import { HourMeter } from './hour-meter.js';
import { gib, progress, type PoolRunContext, type PoolState } from './pool-state.js';
import { beaconPhase, dashboardPhase, endToEndPhase, rollupPhase } from './service-phases.js';
import { peerPhase } from './peer-phase.js';
import { alertsPhase } from './alerts-phase.js';
import { startShardServer, type ShardServer } from './shard-server.js';
import { lineLog } from '../lib/log/log.js';

/** The bench's configuration: the operator's APM_ variables, with every listener on a free loopback port. */
export function benchConfig(dataDir: string, env: NodeJS.ProcessEnv = process.env): Config {
  const apm: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('APM_') && v !== undefined) apm[k] = v;
  return loadAppConfig({
    ...apm,
    APM_DATA_DIR: dataDir,
    APM_BIND_HOST: '127.0.0.1',
    APM_COLLECTOR_PORT: '0',
    APM_COLLECTOR_METRICS_PORT: '0',
    APM_BEACON_PORT: '0',
    APM_BEACON_METRICS_PORT: '0',
    APM_DASHBOARD_PORT: '0',
    APM_DASHBOARD_METRICS_PORT: '0',
    APM_ROLLUP_METRICS_PORT: '0',
    // The bench runs the rollup itself (runNow) at a chosen simulated time; never on the real clock.
    APM_ROLLUP_SCHEDULE: '0 0 1 1 *',
    APM_ROLLUP_PURGE: 'false',
  });
}

/**
 * One pool run: a fresh MariaDB with the pool size under test, the accounts, then in order the
 * ceiling hour, the end-to-end hour, the dashboard probe, the rollup and the beacons. A phase that
 * fails is recorded and the run goes on with the phases that do not need it; everything started is
 * stopped, and the data directory removed (unless --keep-data).
 */
export async function runPool(ctx: PoolRunContext): Promise<PoolRunReport> {
  const report: PoolRunReport = { bufferPoolBytes: ctx.bufferPoolBytes, redoLogBytes: ctx.o.redoLogBytes, flushLogAtTrxCommit: ctx.o.flushLogAtTrxCommit, setupSeconds: 0, errors: [], skipped: [] };
  const t0 = Date.now();
  let server: ShardServer | undefined;
  let storage: Storage | undefined;
  try {
    server = await startShardServer(path.join(ctx.dir, 'mariadb'), {
      port: ctx.mariadbPort,
      bufferPoolBytes: ctx.bufferPoolBytes,
      redoLogBytes: ctx.o.redoLogBytes,
      flushLogAtTrxCommit: ctx.o.flushLogAtTrxCommit,
      log: ctx.log,
    });
    const clock = { now: ctx.hourStart + 3599 };
    const now = () => clock.now;
    const config = benchConfig(ctx.dir);
    const registry = createServiceRegistry('writer', { defaultMetrics: false });
    storage = await openStorage(config, { shardAddresses: [server.server.address], registry, now });
    const [store] = await storage.shards.all();
    if (!store) throw new Error('BUG: the bench shard is not registered');
    const jobStore = await storage.shards.jobs.storeFor(store.shardId);
    const metrics = benchMetrics(ctx.o.metrics);
    const accounts = await createFleet(storage.directory, ctx.o.accounts, `${ctx.bufferPoolBytes}`);
    const ids: AccountIds[] = [];
    for (const a of accounts) ids.push(await resolveIds(store, a, metrics, ctx.o.agents));
    report.setupSeconds = (Date.now() - t0) / 1000;
    ctx.log(`pool ${gib(ctx.bufferPoolBytes)}: ${accounts.length} accounts, ${accounts.length * ctx.o.agents} agents ready in ${report.setupSeconds.toFixed(1)} s`);
    const deps: ServiceDeps = { config, directory: storage.directory, shards: storage.shards, writer: storage.writer, now, dataDir: ctx.dir, log: lineLog(ctx.log, 'warn') };
    const st: PoolState = { ctx, server, storage, store, jobStore, accounts, ids, metrics, clock, deps, report };
    await phase(st, 'ceiling', () => ceilingPhase(st));
    await phase(st, 'end-to-end', () => endToEndPhase(st));
    await logWriterPaths(ctx, registry);
    await phase(st, 'peer', () => peerPhase(st));
    await phase(st, 'dashboard', () => dashboardPhase(st));
    await phase(st, 'rollup', () => rollupPhase(st));
    await phase(st, 'beacons', () => beaconPhase(st));
    await phase(st, 'alerts', () => alertsPhase(st));
    if (report.ceiling && report.endToEnd && report.ceiling.rowsPerSecond > 0) report.ratio = report.endToEnd.rowsPerSecond / report.ceiling.rowsPerSecond;
  } catch (err) {
    report.errors.push(`cannot run pool ${gib(ctx.bufferPoolBytes)}: ${(err as Error).message}`);
  } finally {
    await storage?.close().catch((e: Error) => report.errors.push(`cannot close storage: ${e.message}`));
    await server?.stop();
    if (!ctx.o.keepData) fs.rmSync(ctx.dir, { recursive: true, force: true });
  }
  return report;
}

/** How the writer stored the rows: transactions in one trip or stepwise (APM_WRITER_ONE_TRIP); rows by LOAD DATA or upsert, loads rolled back (APM_WRITER_LOAD_DATA). */
async function logWriterPaths(ctx: PoolState['ctx'], registry: ReturnType<typeof createServiceRegistry>): Promise<void> {
  const rows = (await registry.getSingleMetric('apm_writer_rows_total')?.get())?.values ?? [];
  const transactions = (await registry.getSingleMetric('apm_writer_transactions_total')?.get())?.values ?? [];
  const fallbacks = (await registry.getSingleMetric('apm_writer_load_fallbacks_total')?.get())?.values[0]?.value ?? 0;
  const of = (p: string) => rows.find((v) => v.labels.path === p)?.value ?? 0;
  const tx = (p: string) => transactions.find((v) => v.labels.path === p)?.value ?? 0;
  if (of('load') + of('upsert') === 0) return;
  ctx.log(
    `pool ${gib(ctx.bufferPoolBytes)}: writer transactions in one trip ${tx('one_trip')}, in a bulk trip ${tx('bulk')}, stepwise ${tx('stepwise')}; ` +
      `rows by LOAD DATA ${of('load')}, by upsert ${of('upsert')}, loads rolled back ${fallbacks}`,
  );
}

async function phase(st: PoolState, name: BenchPhase, fn: () => Promise<void>): Promise<void> {
  if (!st.ctx.o.phases.includes(name)) return;
  if (Date.now() >= st.ctx.runDeadline) {
    st.report.skipped.push(`${name}: the run's deadline (--deadline) had passed`);
    return;
  }
  try {
    await fn();
  } catch (err) {
    st.report.errors.push(`${name}: ${(err as Error).message}`);
    st.ctx.log(`pool ${gib(st.ctx.bufferPoolBytes)}: ${name} failed: ${(err as Error).message}`);
  }
}

/** The ceiling hour (the hour before the agents' hour), counted, then dropped so the next phase starts clean. */
async function ceilingPhase(st: PoolState): Promise<void> {
  const { ctx, store } = st;
  const hour = ctx.hourStart - 3600;
  const meter = await HourMeter.start({ store: st.jobStore, shardPid: st.server.pid, accounts: st.accounts, agents: ctx.o.agents, metrics: ctx.o.metrics, hourStart: hour, minutes: ctx.o.minutes });
  const startedAt = Date.now();
  const sealer = new BenchSealer(st.jobStore, st.accounts.map((a) => a.id), hour);
  const result = await writeCeilingHour(
    {
      store,
      accounts: st.ids,
      metrics: st.metrics,
      hourStart: hour,
      minutes: ctx.o.minutes,
      connections: ctx.o.ceilingConnections,
      batchRows: ctx.o.ceilingBatchRows,
      bulk: st.deps.config.bool('APM_WRITER_BULK'),
      deadline: Math.min(ctx.runDeadline, Date.now() + ctx.o.phaseTimeoutSeconds * 1000),
    },
    (k) => {
      meter.minuteDone(k);
      sealer.minuteDone(k);
      progress(st, 'ceiling', k, startedAt);
    },
  );
  await sealer.finish(result.minutesDone);
  st.report.ceiling = await meter.finish(result);
  ctx.log(`pool ${gib(ctx.bufferPoolBytes)}: ceiling ${Math.round(st.report.ceiling.rowsPerSecond).toLocaleString('en-US')} rows/s (${st.report.ceiling.exact ? 'exact' : 'MISMATCH'})`);
  await dropHour(st.jobStore, st.accounts.map((a) => a.id), hour);
}

