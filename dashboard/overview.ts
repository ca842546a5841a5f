import type { Timeslice } from '../lib/timeslice/timeslice.js';
import { apdexScore, bucketMinutes, meanOrNull, mergeSeries, perCall, windowMinutes } from './derive.js';
import type { SeriesResult } from './series-reader.js';
import { metricKey } from './series-reader.js';

/**
 * The application overview, computed purely from the metrics the New Relic agents send (their names
 * keep the agents' meaning):
 * - throughput: `HttpDispatcher` calls per minute;
 * - response time: `WebTransaction` total / calls, split per web request into
 *   database = `Datastore/all` total / WebTransaction calls, external = `External/all` total / WebTransaction
 *   calls, and code = (WebTransaction total − Datastore/all total − External/all total) / WebTransaction
 *   calls, floored at 0 (Datastore/all and External/all also count background transactions, so in an
 *   application busy with background work the difference can go below zero);
 * - error rate: `Errors/all` count / (`HttpDispatcher` + `OtherTransaction/all` calls), a fraction;
 * - Apdex: (satisfied + tolerating / 2) / all of `Apdex`, with its threshold T.
 */
export const OVERVIEW_METRICS = {
  throughput: 'HttpDispatcher',
  web: 'WebTransaction',
  database: 'Datastore/all',
  external: 'External/all',
  errors: 'Errors/all',
  other: 'OtherTransaction/all',
  apdex: 'Apdex',
} as const;

export const OVERVIEW_UNITS = {
  throughput: 'requests/min',
  responseTime: 's',
  database: 's',
  external: 's',
  code: 's',
  errorRate: 'fraction',
  apdex: 'score',
} as const;

export type OverviewField = keyof typeof OVERVIEW_UNITS;
export type OverviewValues = Record<OverviewField, number | null>;

export interface Overview {
  timestamps: number[];
  series: Record<OverviewField, Array<number | null>>;
  summary: OverviewValues & { apdexT: number | null };
  units: typeof OVERVIEW_UNITS;
  /** The metric whose distribution gives the response-time percentiles (OTLP overviews). */
  percentileMetric?: string;
}

type Pick = (name: string) => Timeslice | undefined;

/** Values of one period from the metrics of that period; `minutes` is null for a future period. */
export function overviewValues(get: Pick, minutes: number | null): OverviewValues {
  const M = OVERVIEW_METRICS;
  const web = get(M.web);
  const dispatch = get(M.throughput);
  const db = perCall(get(M.database), web);
  const ext = perCall(get(M.external), web);
  const mean = meanOrNull(web);
  const txns = (dispatch?.callCount ?? 0) + (get(M.other)?.callCount ?? 0);
  const errors = get(M.errors);
  return {
    throughput: dispatch !== undefined && minutes !== null ? dispatch.callCount / minutes : null,
    responseTime: mean,
    database: db,
    external: ext,
    code: mean === null ? null : Math.max(0, mean - (db ?? 0) - (ext ?? 0)),
    errorRate: txns > 0 ? (errors?.callCount ?? 0) / txns : null,
    apdex: apdexScore(get(M.apdex)),
  };
}

export function overviewOf(r: SeriesResult, now: number): Overview {
  const series = Object.fromEntries(Object.keys(OVERVIEW_UNITS).map((k) => [k, [] as Array<number | null>])) as Overview['series'];
  const step = r.resolution.step;
  for (const b of r.buckets) {
    const v = overviewValues((name) => r.data.get(metricKey({ name, scope: '' }))?.get(b), bucketMinutes(b, step, now));
    for (const k of Object.keys(series) as OverviewField[]) series[k].push(v[k]);
  }
  const merged = new Map<string, Timeslice | undefined>();
  for (const name of Object.values(OVERVIEW_METRICS)) merged.set(name, mergeSeries(r.data.get(metricKey({ name, scope: '' }))));
  const summary = overviewValues((name) => merged.get(name), windowMinutes(r.resolution.from, r.resolution.to, now));
  const apdex = merged.get(OVERVIEW_METRICS.apdex);
  return { timestamps: r.buckets, series, summary: { ...summary, apdexT: apdex ? apdex.maxTime : null }, units: OVERVIEW_UNITS };
}
