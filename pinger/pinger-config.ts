import type { Config } from '../lib/config/config.js';
import type { VariableSpec } from '../lib/config/variable-spec.js';

/** The pinger's APM_ variables (documented in the README's configuration table). */
export const pingerVariables: VariableSpec[] = [
  { name: 'APM_PINGER_CONCURRENCY', type: 'integer', default: '16', min: 1, max: 1000, doc: 'Availability checks one pinger process runs at once.' },
  { name: 'APM_PINGER_TICK_MS', type: 'integer', default: '2000', min: 200, max: 60000, doc: 'How often the pinger looks for due monitors (each monitor has its own interval, 10 s or more).' },
  { name: 'APM_PINGER_ALLOWED_HOSTS', type: 'list', doc: 'Hosts monitors may check (exact names, or .example.com for a domain and its subdomains); unset: any host. The pinger makes outbound HTTP(S) requests to the URLs operators set.' },
  { name: 'APM_PINGER_METRICS_PORT', type: 'port', default: '9473', doc: 'Port of the pinger\'s Prometheus /metrics endpoint (0 = any free port).' },
];

export interface PingerSettings {
  concurrency: number;
  tickMs: number;
  allowedHosts: readonly string[];
  metricsHost: string;
  metricsPort: number;
}

export function pingerSettings(config: Config): PingerSettings {
  return {
    concurrency: config.num('APM_PINGER_CONCURRENCY'),
    tickMs: config.num('APM_PINGER_TICK_MS'),
    allowedHosts: config.list('APM_PINGER_ALLOWED_HOSTS'),
    metricsHost: config.str('APM_BIND_HOST'),
    metricsPort: config.num('APM_PINGER_METRICS_PORT'),
  };
}
