import type { Config } from '../../lib/config/config.js';
import type { VariableSpec } from '../../lib/config/variable-spec.js';

/**
 * The OTLP receiver's own APM_ variables (spread into collectorVariables). The decoded-size limit, the
 * in-flight budget and the accepted time window are the collector's (APM_COLLECTOR_MAX_DECODED_BYTES,
 * _MAX_INFLIGHT_BYTES, _MAX_AGE_SECONDS, _MAX_FUTURE_SECONDS) and apply to OTLP too (its own budget).
 */
export const otlpVariables: VariableSpec[] = [
  { name: 'APM_OTLP_HTTP_PORT', type: 'port', default: '4318', doc: 'Plain-HTTP port of the OTLP/HTTP metrics receiver (POST /v1/metrics; the OTLP default). The same route is also served on the HTTPS collector port.' },
  { name: 'APM_OTLP_MAX_BODY_BYTES', type: 'integer', default: String(8 * 1024 * 1024), min: 1024, max: 256 * 1024 * 1024, doc: 'Largest OTLP export body as sent (possibly compressed); larger ones get 413. The exporters do not split batches, so this is larger than the agent limit.' },
  { name: 'APM_OTLP_MAX_SERIES', type: 'integer', default: '200000', min: 100, max: 50_000_000, doc: 'Series whose cumulative value (or last gauge sample) the OTLP receiver remembers; past it the least recently updated are forgotten and their next point becomes a new baseline.' },
  { name: 'APM_OTLP_MAX_SERIES_BYTES', type: 'integer', default: String(256 * 1024 * 1024), min: 1024 * 1024, doc: 'Bytes the remembered OTLP series may take (their keys hold the whole attribute text); past it the least recently updated are forgotten, as past APM_OTLP_MAX_SERIES.' },
  { name: 'APM_OTLP_SERIES_IDLE_SECONDS', type: 'integer', default: '3600', min: 60, doc: 'An OTLP series not updated for this long is forgotten (its next cumulative point becomes a new baseline).' },
];

export interface OtlpSettings {
  bindHost: string;
  httpPort: number;
  maxSeries: number;
  maxSeriesBytes: number;
  seriesIdleSeconds: number;
  maxBodyBytes: number;
  maxDecodedBytes: number;
  maxInflightBytes: number;
  maxAgeSeconds: number;
  maxFutureSeconds: number;
}

export function readOtlpSettings(config: Config): OtlpSettings {
  return {
    bindHost: config.str('APM_BIND_HOST'),
    httpPort: config.num('APM_OTLP_HTTP_PORT'),
    maxSeries: config.num('APM_OTLP_MAX_SERIES'),
    maxSeriesBytes: config.num('APM_OTLP_MAX_SERIES_BYTES'),
    seriesIdleSeconds: config.num('APM_OTLP_SERIES_IDLE_SECONDS'),
    maxBodyBytes: config.num('APM_OTLP_MAX_BODY_BYTES'),
    maxDecodedBytes: config.num('APM_COLLECTOR_MAX_DECODED_BYTES'),
    maxInflightBytes: config.num('APM_COLLECTOR_MAX_INFLIGHT_BYTES'),
    maxAgeSeconds: config.num('APM_COLLECTOR_MAX_AGE_SECONDS'),
    maxFutureSeconds: config.num('APM_COLLECTOR_MAX_FUTURE_SECONDS'),
  };
}
