import { closeListen } from '../lib/http/uws.js';
import { createServiceRegistry } from '../lib/metrics/registry.js';
import { listenWithMetrics } from '../lib/http/listen-with-metrics.js';
import { ShardStatsCollector } from '../lib/ops/shard-stats.js';
import type { ServiceDeps, ServiceHandle } from '../lib/services.js';
import { AdminApi } from './admin-api.js';
import { adminSettings } from './admin-config.js';
import { AdminMetrics } from './admin-metrics.js';
import { createAdminApp } from './admin-server.js';
import { adminToken } from './admin-token.js';
import { type Log } from '../lib/log/log.js';
import { pingerSettings } from '../pinger/pinger-config.js';

export interface AdminHandle extends ServiceHandle {
  /** http://host:port of the admin API. */
  url: string;
  metricsUrl: string;
  api: AdminApi;
}

/**
 * Starts the admin service: the admin HTTP API (APM_ADMIN_PORT, bearer token) for shards, accounts and
 * account moves, and its /metrics (APM_ADMIN_METRICS_PORT) with shard health and load sampled every
 * APM_ADMIN_STATS_INTERVAL_SECONDS. stop() stops running moves at a safe point (resumable) and is
 * idempotent. Interrupted moves found at start are logged with what can be done about them.
 */
export async function startAdmin(deps: ServiceDeps): Promise<AdminHandle> {
  const log = deps.log.child({ service: 'admin' });
  const settings = adminSettings(deps.config);
  const { token, file } = adminToken(settings.token, deps.dataDir);
  const registry = createServiceRegistry('admin');
  const metrics = new AdminMetrics(registry);
  const stats = new ShardStatsCollector({ directory: deps.directory, shards: deps.shards, credentials: settings.credentials });
  const api = new AdminApi({ directory: deps.directory, shards: deps.shards, stats, metrics, log, now: deps.now, config: deps.config });
  for (const m of await api.mover.status({ limit: 1000 })) if (m.active && !m.recovery.running) log.info(`${m.recovery.message}`);
  const app = createAdminApp({ api, metrics, token, log, alerts: { directory: deps.directory, allowedHosts: pingerSettings(deps.config).allowedHosts, now: deps.now } });
  const { listening: socket, metricsServer } = await listenWithMetrics(app, [registry], { host: settings.host, port: settings.port, metricsPort: settings.metricsPort });
  const sample = () =>
    stats.collect({ sampleMs: 0 }).then(
      (s) => metrics.observeShards(s),
      (err: Error) => log.warn(`cannot sample shard stats: ${err.message}`),
    );
  void sample();
  const timer = setInterval(() => void sample(), settings.statsIntervalMs);
  timer.unref();
  const url = `http://${settings.host}:${socket.port}`;
  let stopped: Promise<void> | undefined;
  return {
    name: 'admin',
    url,
    metricsUrl: metricsServer.url,
    api,
    addresses: [`${url}/admin/ (admin API; token ${file ? `in ${file}` : 'from APM_ADMIN_TOKEN'})`, `${metricsServer.url} (self-metrics)`],
    stop() {
      stopped ??= (async () => {
        clearInterval(timer);
        closeListen(socket.socket);
        await api.stop();
        await metricsServer.stop();
      })();
      return stopped;
    },
  };
}
