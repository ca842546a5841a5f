import type { Registry } from 'prom-client';
import type { ServiceDeps } from '../services.js';
import { ReadRouter } from './read-router.js';
import { ReplicaLags } from './replica-lags.js';
import { ReplicaMetrics } from './replica-metrics.js';
import { replicaSettings } from './replica-variables.js';
import { type Log } from '../log/log.js';

/**
 * Read routing for a reading service (the dashboard, the query API): the replicas' lag view and the
 * router, with their self-metrics on the service's registry. `lagClock` (tests) replaces each
 * replica's own clock in lag measurements; `ttlNow` the caches' clock.
 */
export function startReadRouting(
  deps: Pick<ServiceDeps, 'config' | 'directory' | 'log'>,
  registry: Registry,
  service: string,
  opts: { lagClock?: () => number; ttlNow?: () => number } = {},
): { router: ReadRouter; lags: ReplicaLags; metrics: ReplicaMetrics; close(): Promise<void> } {
  const settings = replicaSettings(deps.config);
  let metrics: ReplicaMetrics | undefined;
  const lags = new ReplicaLags({
    directory: deps.directory,
    credentials: { user: deps.config.str('APM_DB_USER'), password: deps.config.str('APM_DB_PASSWORD') },
    database: deps.config.str('APM_SHARD_DATABASE'),
    maxMetricsPerApplication: deps.config.num('APM_MAX_METRICS_PER_APP'),
    lagTtlSeconds: settings.lagTtlSeconds,
    onFailure: (address, err) => {
      metrics?.failures.inc({ replica: address });
      deps.log.info(`${service}: replica ${address} skipped until it answers again: ${err.message}`);
    },
    ...opts,
  });
  metrics = new ReplicaMetrics(registry, service, () => lags.snapshot());
  const router = new ReadRouter({ directory: deps.directory, lags, settings, metrics, ...(opts.ttlNow ? { ttlNow: opts.ttlNow } : {}) });
  return { router, lags, metrics, close: () => lags.close() };
}
