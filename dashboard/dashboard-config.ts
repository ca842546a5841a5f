import type { Config } from '../lib/config/config.js';
import type { VariableSpec } from '../lib/config/variable-spec.js';

/** The dashboard's APM_ variables (documented in the README's configuration table). */
export const dashboardVariables: VariableSpec[] = [
  { name: 'APM_DASHBOARD_PORT', type: 'port', default: '8080', doc: 'Port of the dashboard (web UI and read API); 0 picks a free port.' },
  { name: 'APM_DASHBOARD_METRICS_PORT', type: 'port', default: '9467', doc: "Port of the dashboard's Prometheus /metrics endpoint; 0 picks a free port." },
  { name: 'APM_DASHBOARD_MAX_POINTS', type: 'integer', default: '500', min: 10, max: 5000, doc: 'About how many points a chart may have: the finest resolution (minute, hour, day) that fits is used.' },
  { name: 'APM_DASHBOARD_MAX_STITCH_TABLES', type: 'integer', default: '12', min: 1, max: 168, doc: 'Hours not rolled up yet that one hourly or daily chart reads from minute tables (newest first); older unrolled hours are read from their (possibly incomplete) hour table and flagged.' },
  { name: 'APM_DASHBOARD_SESSION_IDLE_MINUTES', type: 'integer', default: '480', min: 1, max: 43200, doc: 'A signed-in browser session ends after this many minutes without a request.' },
  { name: 'APM_DASHBOARD_MAX_SESSIONS', type: 'integer', default: '10000', min: 1, max: 10000000, doc: 'Signed-in sessions kept in memory; past it the least recently used one is signed out.' },
  { name: 'APM_DASHBOARD_SECURE_COOKIE', type: 'boolean', default: 'false', doc: 'Mark the session cookie Secure (set it when the dashboard is served over HTTPS, e.g. behind a TLS proxy).' },
  { name: 'APM_DASHBOARD_COLLECTOR_URL', type: 'string', doc: 'Collector address shown in the "point an agent here" instructions. Unset: https://<APM_BIND_HOST>:<APM_COLLECTOR_PORT>.' },
  { name: 'APM_PROMETHEUS_MAX_SERIES', type: 'integer', default: '10000', min: 1, max: 1000000, doc: 'Series one PromQL query (or /series, /labels request) under /prometheus may read; past it the answer is 422 execution.' },
  { name: 'APM_PROMETHEUS_MAX_SAMPLES', type: 'integer', default: '5000000', min: 1000, max: 100000000, doc: 'Samples one PromQL query may load into memory; past it the answer is 422 execution.' },
  { name: 'APM_PROMETHEUS_TIMEOUT_SECONDS', type: 'integer', default: '30', min: 1, max: 600, doc: "Longest a PromQL query may run (a request's timeout parameter may only shorten it); past it the answer is 503 timeout." },
];

/** The dashboard's settings, read once from the frozen Config. */
export interface DashboardSettings {
  host: string;
  port: number;
  metricsPort: number;
  maxPoints: number;
  maxStitchTables: number;
  sessionIdleSeconds: number;
  maxSessions: number;
  secureCookie: boolean;
  /** Where agents send data, for the empty-state instructions. */
  collectorUrl: string;
  /** Where OpenTelemetry SDKs export metrics (the collector's plain-HTTP OTLP receiver), for the same instructions. */
  otlpUrl: string;
  /** Where the beacon serves rum.js, for the browser page's instructions. */
  beaconUrl: string;
  /** Bounds of the Prometheus-compatible API (dashboard/prometheus/). */
  prometheus: { maxSeries: number; maxSamples: number; timeoutMs: number };
}

export function dashboardSettings(config: Config): DashboardSettings {
  const host = config.str('APM_BIND_HOST');
  const optNum = (name: string, fallback: number) => (config.has(name) ? config.num(name) : fallback);
  return {
    host,
    port: config.num('APM_DASHBOARD_PORT'),
    metricsPort: config.num('APM_DASHBOARD_METRICS_PORT'),
    maxPoints: config.num('APM_DASHBOARD_MAX_POINTS'),
    maxStitchTables: config.num('APM_DASHBOARD_MAX_STITCH_TABLES'),
    sessionIdleSeconds: config.num('APM_DASHBOARD_SESSION_IDLE_MINUTES') * 60,
    maxSessions: config.num('APM_DASHBOARD_MAX_SESSIONS'),
    secureCookie: config.bool('APM_DASHBOARD_SECURE_COOKIE'),
    collectorUrl: config.optStr('APM_DASHBOARD_COLLECTOR_URL') ?? `https://${host}:${optNum('APM_COLLECTOR_PORT', 8443)}`,
    otlpUrl: `http://${host}:${optNum('APM_OTLP_HTTP_PORT', 4318)}/v1/metrics`,
    beaconUrl: `http://${host}:${optNum('APM_BEACON_PORT', 8081)}`,
    prometheus: {
      maxSeries: config.num('APM_PROMETHEUS_MAX_SERIES'),
      maxSamples: config.num('APM_PROMETHEUS_MAX_SAMPLES'),
      timeoutMs: config.num('APM_PROMETHEUS_TIMEOUT_SECONDS') * 1000,
    },
  };
}
