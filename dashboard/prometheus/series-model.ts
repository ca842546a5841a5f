import type { Timeslice } from '../../lib/timeslice/timeslice.js';

/**
 * How the timeslice store looks as Prometheus series (documented in docs/api.md, "Prometheus-compatible
 * query API"): every statistic of a timeslice is a metric family; each (application, metric name,
 * scope) is one series of it, labelled `app`, `metric` and `scope` (absent when empty). Apdex
 * metrics (`Apdex`, `Apdex/…`, `…/Apdex`) keep their satisfied/tolerating/frustrating counts in the
 * timeslice's slots, so they get families of their own instead of the timing ones.
 *
 * Counters (`…_total`) are deltas per row period, as the store keeps them; gauges are the period's
 * minimum, maximum or threshold.
 */
export interface Family {
  name: string;
  field: keyof Timeslice;
  delta: boolean;
  apdex: boolean;
  type: 'counter' | 'gauge' | 'histogram';
  /** Classic histogram buckets (`le`) of the metric's distribution (histogram-series.ts), not a timeslice field. */
  histogram?: boolean;
  help: string;
  unit: string;
}

const f = (name: string, field: keyof Timeslice, apdex: boolean, help: string, unit: string): Family => {
  const delta = name.endsWith('_total');
  return { name, field, delta, apdex, type: delta ? 'counter' : 'gauge', help, unit };
};

export const FAMILIES: readonly Family[] = [
  f('apm_calls_total', 'callCount', false, 'Calls of the metric (transactions, segments, requests).', ''),
  f('apm_time_seconds_total', 'totalTime', false, 'Total time of the calls.', 'seconds'),
  f('apm_exclusive_time_seconds_total', 'exclusiveTime', false, 'Exclusive time of the calls (without their children).', 'seconds'),
  f('apm_time_squared_seconds_total', 'sumOfSquares', false, 'Sum of the squares of the call times (for the standard deviation).', 'seconds'),
  f('apm_min_time_seconds', 'minTime', false, 'Shortest call of the period.', 'seconds'),
  f('apm_max_time_seconds', 'maxTime', false, 'Longest call of the period.', 'seconds'),
  f('apm_apdex_satisfied_total', 'callCount', true, 'Apdex: satisfied requests (at most T).', ''),
  f('apm_apdex_tolerating_total', 'totalTime', true, 'Apdex: tolerating requests (over T, at most 4T).', ''),
  f('apm_apdex_frustrating_total', 'exclusiveTime', true, 'Apdex: frustrated requests (over 4T, or errors).', ''),
  f('apm_apdex_threshold_seconds', 'maxTime', true, 'Apdex threshold T of the period.', 'seconds'),
  {
    name: 'apm_distribution_bucket', field: 'callCount', delta: true, apdex: false, type: 'histogram', histogram: true, unit: '',
    help: "Values of the metric's distribution (durations in seconds; OTLP histograms in their unit) at most `le`, per period; `+Inf` is the count.",
  },
];

export const FAMILY_BY_NAME: ReadonlyMap<string, Family> = new Map(FAMILIES.map((x) => [x.name, x]));

/** The label names a series can have, besides __name__. */
export const SERIES_LABELS = ['app', 'metric', 'scope', 'host', 'le'] as const;

export function isApdexMetric(name: string): boolean {
  return name === 'Apdex' || name.startsWith('Apdex/') || name.endsWith('/Apdex');
}

/** `host`: the agents' host name for per-agent series (absent for application-wide rows and when ''). */
export function seriesLabels(family: string, app: string, metric: string, scope: string, host?: string, le?: string): Record<string, string> {
  const l: Record<string, string> = { __name__: family, app, metric };
  if (scope !== '') l.scope = scope;
  if (host) l.host = host;
  if (le !== undefined) l.le = le;
  return l;
}
