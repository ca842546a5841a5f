import { randomUUID } from 'node:crypto';
import type { Registry } from 'prom-client';
import { createServiceRegistry, startMetricsServer } from '../lib/metrics/registry.js';
import type { ServiceDeps, ServiceHandle } from '../lib/services.js';
import { MonitorStore } from './monitor-store.js';
import { pingerSettings } from './pinger-config.js';
import { PingerMetrics } from './pinger-metrics.js';
import { PingerRunner, type TickReport } from './pinger-runner.js';
import { type Log } from '../lib/log/log.js';

export interface PingerHandle extends ServiceHandle {
  registry: Registry;
  store: MonitorStore;
  /** One turn now (as the timer does); undefined if a turn was going. */
  tickNow(): Promise<TickReport | undefined>;
}

/**
 * The pinger service: every APM_PINGER_TICK_MS checks the monitors that are due (clock deps.now,
 * injectable), stores the results as timeslices and opens/closes "down" incidents whose notifications
 * the alerts service delivers. Several pinger processes share the monitors through leases.
 */
export async function startPinger(deps: ServiceDeps, opts: { registry?: Registry; timer?: boolean } = {}): Promise<PingerHandle> {
  const log = deps.log.child({ service: 'pinger' });
  const s = pingerSettings(deps.config);
  const registry = opts.registry ?? createServiceRegistry('pinger');
  const metrics = new PingerMetrics(registry);
  const store = new MonitorStore(deps.directory, s.allowedHosts);
  const runner = new PingerRunner({ store, pool: deps.directory.db.promise, shards: deps.shards, writer: deps.writer, metrics, log: log, owner: `pinger-${randomUUID().slice(0, 8)}`, concurrency: s.concurrency, allowedHosts: s.allowedHosts });
  const server = await startMetricsServer([registry], { host: s.metricsHost, port: s.metricsPort });
  let running: Promise<TickReport> | undefined;
  const tickNow = async () => {
    if (running) {
      metrics.ticks.inc({ outcome: 'overlapped' });
      return undefined;
    }
    running = runner.tick(deps.now());
    try {
      const r = await running;
      metrics.ticks.inc({ outcome: 'ok' });
      return r;
    } catch (err) {
      metrics.ticks.inc({ outcome: 'failed' });
      log.warn(`cannot run: ${(err as Error).message}`);
      return undefined;
    } finally {
      running = undefined;
    }
  };
  const timer = opts.timer === false ? undefined : setInterval(() => void tickNow(), s.tickMs);
  let stopped: Promise<void> | undefined;
  return {
    name: 'pinger',
    addresses: [`${server.url} (pinger metrics; checks monitors with outbound HTTP(S) requests${s.allowedHosts.length ? ` to ${s.allowedHosts.join(', ')}` : ''})`],
    registry,
    store,
    tickNow,
    stop() {
      stopped ??= (async () => {
        if (timer) clearInterval(timer);
        await running?.catch(() => undefined);
        await server.stop();
      })();
      return stopped;
    },
  };
}
