import { parseOtlpMetricName } from '../collector/otlp/otlp-attributes.js';
import type { MetricName } from '../lib/shard/metric-dictionary.js';
import type { Timeslice } from '../lib/timeslice/timeslice.js';
import { bucketMinutes, meanOrNull, mergeSeries, windowMinutes } from './derive.js';
import { OVERVIEW_UNITS, type Overview, type OverviewField } from './overview.js';
import { metricKey, type SeriesResult } from './series-reader.js';

/**
 * The overview of an application that reports over OTLP, from the OpenTelemetry HTTP semantic
 * conventions (documented in docs/api.md, "Overview of OTLP applications"):
 * - throughput: calls per minute of `OTLP/http.server.request.duration` (the instrument with every
 *   attribute set merged; one call = one request);
 * - response time: its mean (total / calls), in seconds (the collector converted the unit);
 * - error rate: calls of its attribute sets whose `http.response.status_code` is ≥ 500, over all calls;
 * - Apdex, database, external: null (OpenTelemetry HTTP metrics carry no such breakdown).
 * The older convention `http.server.duration` (status in `http.status_code`) is used when the current
 * one is absent.
 */
export const OTLP_HTTP_INSTRUMENTS = [
  { instrument: 'http.server.request.duration', status: 'http.response.status_code' },
  { instrument: 'http.server.duration', status: 'http.status_code' },
] as const;

export type OtlpHttpInstrument = (typeof OTLP_HTTP_INSTRUMENTS)[number];

/** Merged metric name of an instrument. */
export const otlpMergedName = (i: OtlpHttpInstrument) => `OTLP/${i.instrument}`;

/** The attribute-set names among `names` that count as server errors (status ≥ 500) of the instrument. */
export function serverErrorNames(i: OtlpHttpInstrument, names: readonly MetricName[]): MetricName[] {
  return names.filter((m) => {
    if (m.scope !== '') return false;
    const parsed = parseOtlpMetricName(m.name);
    if (!parsed || parsed.instrument !== i.instrument || !parsed.attributes) return false;
    const status = Number(parsed.attributes[i.status]);
    return Number.isInteger(status) && status >= 500 && status <= 599;
  });
}

/** The overview from a read of the merged name and its server-error names (same shape as the agents' overview). */
export function otlpOverviewOf(r: SeriesResult, i: OtlpHttpInstrument, errorNames: readonly MetricName[], now: number): Overview {
  const all = r.data.get(metricKey({ name: otlpMergedName(i), scope: '' }));
  const errorSeries = errorNames.map((m) => r.data.get(metricKey(m)));
  const step = r.resolution.step;
  const values = (t: Timeslice | undefined, errors: number, minutes: number | null): Record<OverviewField, number | null> => ({
    throughput: t !== undefined && minutes !== null ? t.callCount / minutes : null,
    responseTime: meanOrNull(t),
    database: null,
    external: null,
    code: null,
    errorRate: t !== undefined && t.callCount > 0 ? errors / t.callCount : null,
    apdex: null,
  });
  const series = Object.fromEntries(Object.keys(OVERVIEW_UNITS).map((k) => [k, [] as Array<number | null>])) as Overview['series'];
  for (const b of r.buckets) {
    const errors = errorSeries.reduce((s, e) => s + (e?.get(b)?.callCount ?? 0), 0);
    const v = values(all?.get(b), errors, bucketMinutes(b, step, now));
    for (const k of Object.keys(series) as OverviewField[]) series[k].push(v[k]);
  }
  const totalErrors = errorSeries.reduce((s, e) => s + (mergeSeries(e)?.callCount ?? 0), 0);
  const summary = values(mergeSeries(all), totalErrors, windowMinutes(r.resolution.from, r.resolution.to, now));
  return { timestamps: r.buckets, series, summary: { ...summary, apdexT: null }, units: OVERVIEW_UNITS, percentileMetric: otlpMergedName(i) };
}
