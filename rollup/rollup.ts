import cron from 'node-cron';
import type { Registry } from 'prom-client';
import { createServiceRegistry, startMetricsServer } from '../lib/metrics/registry.js';
import type { ServiceDeps, ServiceHandle } from '../lib/services.js';
import type { ShardStore } from '../lib/shard/shard-store.js';
import { precreateNextHour } from './precreate.js';
import { rollupSettings } from './rollup-config.js';
import { RollupMetrics } from './rollup-metrics.js';
import { RollupRunner, type ShardReport } from './rollup-runner.js';
import { type Log } from '../lib/log/log.js';

export interface RollupHandle extends ServiceHandle {
  runner: RollupRunner;
  registry: Registry;
  /** Runs once now (as the schedule does); resolves with what it did, or undefined if a run was going. */
  runNow(): Promise<ShardReport[] | undefined>;
}

/**
 * The rollup service: on the node-cron schedule APM_ROLLUP_SCHEDULE, one run over every shard with the
 * clock deps.now (injectable): roll closed hours and days, seal, purge (APM_ROLLUP_PURGE). Runs never
 * overlap within a process; across processes the per-shard lock keeps each shard to one worker.
 * Self-metrics on their own port (APM_ROLLUP_METRICS_PORT).
 */
export async function startRollup(deps: ServiceDeps, opts: { registry?: Registry } = {}): Promise<RollupHandle> {
  const log = deps.log.child({ service: 'rollup' });
  const settings = rollupSettings(deps.config);
  const registry = opts.registry ?? createServiceRegistry('rollup');
  const metrics = new RollupMetrics(registry);
  const runner = new RollupRunner({
    directory: deps.directory,
    // Rollups, seals, purges and DROP TABLE are jobs: the shards' jobs view (the job statement bound).
    shards: deps.shards.jobs,
    metrics,
    log: log,
    graceSeconds: settings.graceSeconds,
    sealGraceSeconds: settings.sealGraceSeconds,
    maxPeriodsPerRun: settings.maxPeriodsPerRun,
    lockWaitSeconds: settings.lockWaitSeconds,
  });
  const server = await startMetricsServer([registry], { host: settings.metricsHost, port: settings.metricsPort });

  let running: Promise<ShardReport[]> | undefined;
  const runNow = async (): Promise<ShardReport[] | undefined> => {
    if (running) {
      metrics.runs.inc({ outcome: 'overlapped' });
      return undefined;
    }
    const end = metrics.runSeconds.startTimer();
    const precreate = async (store: ShardStore, now: number) => {
      const n = await precreateNextHour(store, now, { windowMinutes: settings.precreateMinutes });
      if (n > 0) metrics.tablesPrecreated.inc(n);
      return n;
    };
    running = runner.run({ now: deps.now(), purge: settings.purge, precreate });
    try {
      const reports = await running;
      metrics.runs.inc({ outcome: reports.some((r) => r.skipped === 'failed' || r.failures > 0) ? 'failed' : 'ok' });
      return reports;
    } catch (err) {
      // run() catches per shard; this is only reachable when the directory itself cannot be read.
      metrics.runs.inc({ outcome: 'failed' });
      log.warn(`cannot run: ${(err as Error).message}`);
      return [];
    } finally {
      end();
      running = undefined;
    }
  };
  const task = cron.schedule(settings.schedule, () => void runNow(), { name: 'apm-rollup' });

  let stopped: Promise<void> | undefined;
  return {
    name: 'rollup',
    addresses: [`${server.url} (rollup metrics; schedule "${settings.schedule}")`],
    runner,
    registry,
    runNow,
    stop() {
      stopped ??= (async () => {
        await task.destroy();
        await running?.catch(() => undefined);
        await server.stop();
      })();
      return stopped;
    },
  };
}
