import type { Config } from '../lib/config/config.js';
import type { VariableSpec } from '../lib/config/variable-spec.js';

/** The admin service's APM_ variables (documented in the README's configuration table). */
export const adminVariables: VariableSpec[] = [
  { name: 'APM_ADMIN_PORT', type: 'port', default: '8090', doc: 'Port of the admin HTTP API (shards, accounts, moves); 0 picks a free port.' },
  { name: 'APM_ADMIN_METRICS_PORT', type: 'port', default: '9468', doc: "Port of the admin service's Prometheus /metrics endpoint (shard health and load, moves); 0 picks a free port." },
  { name: 'APM_ADMIN_TOKEN', type: 'string', doc: 'Bearer token of the admin API (at least 24 characters). Unset: a random one is made once and kept in <APM_DATA_DIR>/admin-token (mode 0600).' },
  { name: 'APM_ADMIN_STATS_INTERVAL_SECONDS', type: 'integer', default: '30', min: 5, max: 3600, doc: 'How often the admin service samples shard health and load for its self-metrics.' },
];

/** The admin service's settings, read once from the frozen Config. */
export interface AdminSettings {
  host: string;
  port: number;
  metricsPort: number;
  /** undefined: use (or make) the token file in the data directory. */
  token: string | undefined;
  statsIntervalMs: number;
  credentials: { user: string; password: string };
}

export function adminSettings(config: Config): AdminSettings {
  return {
    host: config.str('APM_BIND_HOST'),
    port: config.num('APM_ADMIN_PORT'),
    metricsPort: config.num('APM_ADMIN_METRICS_PORT'),
    token: config.optStr('APM_ADMIN_TOKEN'),
    statsIntervalMs: config.num('APM_ADMIN_STATS_INTERVAL_SECONDS') * 1000,
    credentials: { user: config.str('APM_DB_USER'), password: config.str('APM_DB_PASSWORD') },
  };
}
