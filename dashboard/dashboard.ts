import { createServiceRegistry } from '../lib/metrics/registry.js';
import { alertsReadView } from '../alerts/alerts-view.js';
import { listenWithMetrics } from '../lib/http/listen-with-metrics.js';
import { closeListen } from '../lib/http/uws.js';
import type { ServiceDeps, ServiceHandle } from '../lib/services.js';
import { dashboardSettings } from './dashboard-config.js';
import { DashboardMetrics } from './dashboard-metrics.js';
import { createDashboardApp } from './dashboard-server.js';
import { ReadAuth } from './read-auth.js';
import { ReadApi } from './read-api.js';
import { DEFAULT_PROMETHEUS_LIMITS, PrometheusApi } from './prometheus/prometheus-api.js';
import { SeriesReader } from './series-reader.js';
import { SessionStore } from './session-store.js';
import { loadAssets } from './static-assets.js';
import { startReadRouting } from '../lib/replica/read-routing.js';
import { IncidentStore } from '../alerts/incident-store.js';

/**
 * Starts the dashboard: the read API and the web UI on one uWebSockets.js listener
 * (APM_DASHBOARD_PORT), and its /metrics on APM_DASHBOARD_METRICS_PORT. Read-only on storage: it never
 * writes to a shard or the directory. stop() is idempotent.
 */
export interface DashboardHandle extends ServiceHandle {
  /** http://host:port of the web UI and API. */
  url: string;
  metricsUrl: string;
}

export async function startDashboard(deps: ServiceDeps): Promise<DashboardHandle> {
  const log = deps.log.child({ service: 'dashboard' });
  const settings = dashboardSettings(deps.config);
  const assets = loadAssets();
  const registry = createServiceRegistry('dashboard');
  const sessions = new SessionStore({ maxSessions: settings.maxSessions, idleSeconds: settings.sessionIdleSeconds, now: deps.now });
  const metrics = new DashboardMetrics(registry, () => sessions.size);
  const reader = new SeriesReader({ maxPoints: settings.maxPoints, maxStitchTables: settings.maxStitchTables });
  const routing = startReadRouting(deps, registry, 'dashboard');
  // Open incidents on the application list come from the alerts service's tables in the directory.
  const incidents = new IncidentStore(deps.directory.db.promise);
  const openIncidents = async (accountId: number) => new Map([...(await incidents.openIncidentsByApplication(accountId))].map(([app, list]) => [app, list.length]));
  const api = new ReadApi(deps.directory, deps.shards, reader, deps.now, metrics, routing.router, openIncidents);
  const auth = new ReadAuth(deps.directory, sessions, deps.now);
  const prometheus = new PrometheusApi(deps.directory, deps.shards, reader, deps.now, { ...DEFAULT_PROMETHEUS_LIMITS, ...settings.prometheus }, (r) => metrics.recordRead(r), routing.router);
  const app = createDashboardApp({ settings, auth, api, assets, metrics, log, prometheus, alerts: alertsReadView(deps.directory) });
  const { listening: socket, metricsServer } = await listenWithMetrics(app, [registry], { host: settings.host, port: settings.port, metricsPort: settings.metricsPort });
  const url = `http://${settings.host}:${socket.port}`;
  let stopped: Promise<void> | undefined;
  return {
    name: 'dashboard',
    url,
    metricsUrl: metricsServer.url,
    addresses: [`${url}/ (web UI and read API)`, `${metricsServer.url} (self-metrics)`],
    stop() {
      stopped ??= (async () => {
        closeListen(socket.socket);
        await metricsServer.stop();
        await routing.close();
      })();
      return stopped;
    },
  };
}
