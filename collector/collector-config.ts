import path from 'node:path';
import type { Config } from '../lib/config/config.js';
import type { VariableSpec } from '../lib/config/variable-spec.js';
import { otlpVariables } from './otlp/otlp-config.js';

/** The collector's APM_ variables (documented in the README's configuration table). */
export const collectorVariables: VariableSpec[] = [
  { name: 'APM_COLLECTOR_PORT', type: 'port', default: '8443', doc: 'HTTPS port of the collector (New Relic agent protocol 17; OTLP/HTTP on the same port).' },
  { name: 'APM_COLLECTOR_METRICS_PORT', type: 'port', default: '9464', doc: "Plain-HTTP port of the collector's own /metrics." },
  { name: 'APM_COLLECTOR_TLS_KEY', type: 'path', doc: 'PEM private key file of the collector (production). Unset: the embedded default creates a local CA and server certificate under APM_DATA_DIR/collector/tls.' },
  { name: 'APM_COLLECTOR_TLS_CERT', type: 'path', doc: 'PEM certificate (chain) file matching APM_COLLECTOR_TLS_KEY; set both or neither.' },
  { name: 'APM_COLLECTOR_TLS_CA', type: 'path', doc: 'PEM file of the CA agents must trust, printed at start-up (defaults to APM_COLLECTOR_TLS_CERT).' },
  { name: 'APM_COLLECTOR_PUBLIC_ADDRESS', type: 'address', doc: 'host:port that preconnect redirects agents to (e.g. the load balancer). Unset: the host the agent used, with APM_COLLECTOR_PORT.' },
  { name: 'APM_COLLECTOR_RUN_SECRET', type: 'string', doc: 'Secret (at least 32 characters) that signs agent run ids; every collector behind one load balancer needs the same. Unset: generated once and kept in APM_DATA_DIR/collector/run-secret.' },
  { name: 'APM_COLLECTOR_MAX_BODY_BYTES', type: 'integer', default: '1000000', min: 1024, max: 64 * 1024 * 1024, doc: 'Largest request body as sent (possibly compressed); larger bodies get 413. Also announced to agents as max_payload_size_in_bytes.' },
  { name: 'APM_COLLECTOR_MAX_DECODED_BYTES', type: 'integer', default: String(16 * 1024 * 1024), min: 1024, max: 256 * 1024 * 1024, doc: 'Largest body after gzip/deflate decoding (bounds compression bombs); larger bodies get 413.' },
  { name: 'APM_COLLECTOR_MAX_INFLIGHT_BYTES', type: 'integer', default: String(128 * 1024 * 1024), min: 1024 * 1024, doc: 'Memory held by requests in progress: each body as sent plus 8 bytes per decoded byte (its decoded copy and the objects parsed from it, measured at 4.6–7.9×); past it new requests get 503 (back-pressure).' },
  { name: 'APM_COLLECTOR_MAX_FUTURE_SECONDS', type: 'integer', default: '300', min: 0, max: 86400, doc: 'A harvest window ending more than this many seconds after the collector clock is refused with 400.' },
  { name: 'APM_COLLECTOR_MAX_AGE_SECONDS', type: 'integer', default: '86400', min: 60, doc: 'A harvest window ending longer ago than this is refused with 400. Must stay below the shortest minute retention of any plan (checked at start-up) so late data never recreates a purged minute table.' },
  { name: 'APM_COLLECTOR_EVENT_PERIOD_MS', type: 'integer', default: '60000', min: 1000, max: 60000, doc: 'Event harvest period announced to agents at connect (events are answered and counted, not stored).' },
  { name: 'APM_COLLECTOR_PROCESSES', type: 'integer', min: 1, max: 64, doc: 'Collector processes on this host, sharing its ports (SO_REUSEPORT); each has its own writer connections and its own /metrics on APM_COLLECTOR_METRICS_PORT + its index. Unset: the number of cores, less one when the embedded MariaDB runs beside them (at least 1). 1: the collector runs inside the start process.' },
  // OTLP: variables of collector/otlp go below this line.
  ...otlpVariables,
];

/** The collector's settings, read once from the frozen Config. */
export interface CollectorSettings {
  bindHost: string;
  port: number;
  metricsPort: number;
  /** Production TLS files; undefined = the embedded local CA under tlsDir. */
  tls: { keyFile: string; certFile: string; caFile: string } | undefined;
  tlsDir: string;
  publicAddress: string | undefined;
  runSecret: string | undefined;
  runSecretFile: string;
  maxBodyBytes: number;
  maxDecodedBytes: number;
  maxInflightBytes: number;
  maxFutureSeconds: number;
  maxAgeSeconds: number;
  eventPeriodMs: number;
}

/** Reads the collector's settings; throws `cannot configure collector: …` naming the variable. */
export function readCollectorSettings(config: Config, dataDir: string): CollectorSettings {
  const key = config.optStr('APM_COLLECTOR_TLS_KEY');
  const cert = config.optStr('APM_COLLECTOR_TLS_CERT');
  if ((key === undefined) !== (cert === undefined)) {
    throw new Error('cannot configure collector: set both APM_COLLECTOR_TLS_KEY and APM_COLLECTOR_TLS_CERT, or neither');
  }
  const secret = config.optStr('APM_COLLECTOR_RUN_SECRET');
  if (secret !== undefined && secret.length < 32) {
    throw new Error('cannot configure collector: APM_COLLECTOR_RUN_SECRET must be at least 32 characters');
  }
  const collectorDir = path.join(dataDir, 'collector');
  return {
    bindHost: config.str('APM_BIND_HOST'),
    port: config.num('APM_COLLECTOR_PORT'),
    metricsPort: config.num('APM_COLLECTOR_METRICS_PORT'),
    tls: key !== undefined && cert !== undefined ? { keyFile: key, certFile: cert, caFile: config.optStr('APM_COLLECTOR_TLS_CA') ?? cert } : undefined,
    tlsDir: path.join(collectorDir, 'tls'),
    publicAddress: config.optStr('APM_COLLECTOR_PUBLIC_ADDRESS'),
    runSecret: secret,
    runSecretFile: path.join(collectorDir, 'run-secret'),
    maxBodyBytes: config.num('APM_COLLECTOR_MAX_BODY_BYTES'),
    maxDecodedBytes: config.num('APM_COLLECTOR_MAX_DECODED_BYTES'),
    maxInflightBytes: config.num('APM_COLLECTOR_MAX_INFLIGHT_BYTES'),
    maxFutureSeconds: config.num('APM_COLLECTOR_MAX_FUTURE_SECONDS'),
    maxAgeSeconds: config.num('APM_COLLECTOR_MAX_AGE_SECONDS'),
    eventPeriodMs: config.num('APM_COLLECTOR_EVENT_PERIOD_MS'),
  };
}
