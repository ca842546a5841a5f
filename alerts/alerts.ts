import { randomUUID } from 'node:crypto';
import cron from 'node-cron';
import type { Registry } from 'prom-client';
import { createServiceRegistry, startMetricsServer } from '../lib/metrics/registry.js';
import type { ServiceDeps, ServiceHandle } from '../lib/services.js';
import { AlertStore } from './alert-store.js';
import { alertsSettings } from './alerts-config.js';
import { AlertsMetrics } from './alerts-metrics.js';
import { ChannelSender } from './channels/channel-sender.js';
import { IncidentStore } from './incident-store.js';
import { Notifier, type DeliveryReport } from './notifier.js';
import { PolicyEvaluator, type EvaluationReport } from './policy-evaluator.js';
import { type Log } from '../lib/log/log.js';

export interface AlertsHandle extends ServiceHandle {
  registry: Registry;
  store: AlertStore;
  incidents: IncidentStore;
  metrics: AlertsMetrics;
  /** One evaluation run now (as the schedule does), then a delivery pass; undefined if a run was going. */
  runNow(): Promise<{ evaluation: EvaluationReport; delivery: DeliveryReport } | undefined>;
  /** One delivery pass of the outbox now. */
  deliverNow(): Promise<DeliveryReport>;
}

/** How often the outbox is polled for due retries between evaluation runs. */
const DELIVERY_POLL_MS = 5000;

/**
 * The alerts service: on APM_ALERTS_SCHEDULE (node-cron) evaluates every policy over the newly settled
 * minutes (alerts/policy-evaluator.ts), then delivers the notifications the transitions queued; between
 * runs it polls the outbox for due retries. Any number of alert processes may run: partitions are
 * taken under named locks and outbox rows under leases. Clock deps.now (injectable).
 */
export async function startAlerts(deps: ServiceDeps, opts: { registry?: Registry; schedule?: boolean } = {}): Promise<AlertsHandle> {
  const log = deps.log.child({ service: 'alerts' });
  const settings = alertsSettings(deps.config);
  const registry = opts.registry ?? createServiceRegistry('alerts');
  const metrics = new AlertsMetrics(registry);
  const owner = `alerts-${randomUUID().slice(0, 8)}`;
  const pool = deps.directory.db.promise;
  const store = new AlertStore(deps.directory);
  const incidents = new IncidentStore(pool);
  const sender = new ChannelSender(settings);
  const evaluator = new PolicyEvaluator({ pool, store, shards: deps.shards, metrics, log: log, settleSeconds: settings.settleSeconds, owner, partitionConcurrency: settings.partitionConcurrency });
  const notifier = new Notifier({ pool, directory: deps.directory, sender, metrics, log: log, owner, dashboardUrl: settings.dashboardUrl, sendTimeoutMs: settings.sendTimeoutMs, maxAttempts: settings.maxAttempts });
  const server = await startMetricsServer([registry], { host: settings.metricsHost, port: settings.metricsPort });

  let delivering: Promise<DeliveryReport> | undefined;
  const deliverNow = (): Promise<DeliveryReport> => {
    delivering ??= notifier.deliver(deps.now()).finally(() => (delivering = undefined));
    return delivering;
  };
  let running: Promise<unknown> | undefined;
  const runNow = async () => {
    if (running) {
      metrics.runs.inc({ outcome: 'overlapped' });
      return undefined;
    }
    const end = metrics.runSeconds.startTimer();
    const work = (async () => {
      const evaluation = await evaluator.run(deps.now());
      await incidents.purge(deps.now());
      await delivering?.catch(() => undefined);
      const delivery = await deliverNow();
      return { evaluation, delivery };
    })();
    running = work;
    try {
      const r = await work;
      metrics.runs.inc({ outcome: 'ok' });
      return r;
    } catch (err) {
      metrics.runs.inc({ outcome: 'failed' });
      log.warn(`cannot run: ${(err as Error).message}`);
      return undefined;
    } finally {
      end();
      running = undefined;
    }
  };
  const scheduled = opts.schedule !== false;
  const task = scheduled ? cron.schedule(settings.schedule, () => void runNow(), { name: 'apm-alerts' }) : undefined;
  const poll = scheduled ? setInterval(() => void deliverNow().catch((e: Error) => log.warn(`cannot deliver: ${e.message}`)), DELIVERY_POLL_MS) : undefined;
  poll?.unref();

  let stopped: Promise<void> | undefined;
  return {
    name: 'alerts',
    addresses: [`${server.url} (alerts metrics; schedule "${settings.schedule}", email ${settings.smtp ? `via ${settings.smtp.host}:${settings.smtp.port}` : 'not configured'})`],
    registry,
    store,
    incidents,
    metrics,
    runNow,
    deliverNow,
    stop() {
      stopped ??= (async () => {
        await task?.destroy();
        if (poll) clearInterval(poll);
        await running?.catch(() => undefined);
        await delivering?.catch(() => undefined);
        sender.close();
        await server.stop();
      })();
      return stopped;
    },
  };
}
