import { browserValues, BROWSER_METRICS, type BrowserValues } from '../dashboard/browser-view.js';
import { otlpMergedName, OTLP_HTTP_INSTRUMENTS } from '../dashboard/otlp-overview.js';
import { overviewValues, OVERVIEW_METRICS, type OverviewValues } from '../dashboard/overview.js';
import type { Timeslice } from '../lib/timeslice/timeslice.js';

/**
 * What a policy can watch. Every value is computed by the dashboard's own functions (overviewValues,
 * browserValues in dashboard/, over dashboard/derive.ts) on one minute's timeslices, then expressed in
 * the policy's unit. Direction says which side breaches: `below` (Apdex, throughput) or `above`.
 *
 * Missing data (documented in docs/alerts.md):
 * - throughput: a minute without `HttpDispatcher` rows is "no traffic" = 0 requests/min (it can breach);
 * - every ratio or mean (Apdex, error rate, response time, browser Apdex, page load): a minute without
 *   data is "no data" (null): it neither opens nor closes an incident, and leaves the streaks as they were.
 * - response_time_p95: the minute's p95 of the response-time distribution the dashboard shows
 *   (`WebTransaction`, or the OTLP HTTP server instrument), read by dashboard/percentiles.ts
 *   (policy-percentiles.ts); a minute without distribution rows is "no data".
 */
export type PolicyMetric = 'apdex' | 'error_rate' | 'response_time' | 'response_time_p95' | 'throughput' | 'browser_apdex' | 'page_load';

/** A minute's response-time percentile (seconds) from the distributions; null = no data. */
export type PercentileOf = (p: 'p95') => number | null;

export type PolicyUnit = 'score' | '%' | 'ms' | 'rpm';

export interface MetricSpec {
  unit: PolicyUnit;
  direction: 'above' | 'below';
  /** Inclusive bounds of a threshold, in the unit. */
  min: number;
  max: number;
  /** Human label for messages. */
  label: string;
  /** Whether a minute without data counts as zero (throughput) rather than "no data". */
  missingIsZero: boolean;
  /** The dashboard metric names one minute's value needs (application scope ''). */
  names: readonly string[];
  /** Read the minute's response-time percentiles too (policy-percentiles.ts). */
  percentiles?: boolean;
  /** The value of one minute from its timeslices (and percentiles), in `unit`; null = no data. */
  value(get: (name: string) => Timeslice | undefined, percentile?: PercentileOf): number | null;
}

const server = Object.values(OVERVIEW_METRICS);
const browser = Object.values(BROWSER_METRICS);
const ov = (get: (name: string) => Timeslice | undefined): OverviewValues => overviewValues(get, 1);
const bv = (get: (name: string) => Timeslice | undefined): BrowserValues => browserValues(get, 1);
const scaled = (v: number | null, k: number) => (v === null ? null : v * k);
/** The metrics whose distributions give the dashboard's response-time percentiles (read-api.ts overview). */
export const RESPONSE_TIME_DISTRIBUTIONS: readonly string[] = ['WebTransaction', ...OTLP_HTTP_INSTRUMENTS.map(otlpMergedName)];

export const POLICY_METRICS: Readonly<Record<PolicyMetric, MetricSpec>> = Object.freeze({
  apdex: { unit: 'score', direction: 'below', min: 0, max: 1, label: 'Apdex', missingIsZero: false, names: server, value: (g) => ov(g).apdex },
  error_rate: { unit: '%', direction: 'above', min: 0, max: 100, label: 'error rate', missingIsZero: false, names: server, value: (g) => scaled(ov(g).errorRate, 100) },
  response_time: { unit: 'ms', direction: 'above', min: 0, max: 3_600_000, label: 'response time (mean)', missingIsZero: false, names: server, value: (g) => scaled(ov(g).responseTime, 1000) },
  response_time_p95: { unit: 'ms', direction: 'above', min: 0, max: 3_600_000, label: 'response time (p95)', missingIsZero: false, names: RESPONSE_TIME_DISTRIBUTIONS, percentiles: true, value: (_g, p) => (p ? scaled(p('p95'), 1000) : null) },
  throughput: { unit: 'rpm', direction: 'below', min: 0, max: 1e9, label: 'throughput', missingIsZero: true, names: server, value: (g) => ov(g).throughput ?? 0 },
  browser_apdex: { unit: 'score', direction: 'below', min: 0, max: 1, label: 'browser Apdex', missingIsZero: false, names: browser, value: (g) => bv(g).apdex },
  page_load: { unit: 'ms', direction: 'above', min: 0, max: 3_600_000, label: 'page load time (mean)', missingIsZero: false, names: browser, value: (g) => scaled(bv(g).pageLoad, 1000) },
});

export function isPolicyMetric(s: string): s is PolicyMetric {
  return Object.prototype.hasOwnProperty.call(POLICY_METRICS, s);
}

/** Whether `value` breaches `threshold` in the metric's direction (equal does not breach). */
export function breaches(metric: PolicyMetric, value: number, threshold: number): boolean {
  return POLICY_METRICS[metric].direction === 'above' ? value > threshold : value < threshold;
}
