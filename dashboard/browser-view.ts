import type { Timeslice } from '../lib/timeslice/timeslice.js';
import { apdexScore, bucketMinutes, meanOrNull, mergeSeries, windowMinutes } from './derive.js';
import { metricKey, type SeriesResult } from './series-reader.js';

/**
 * The browser page, from the beacon's metrics (application pseudo-agent, scope '' = whole application):
 * page views per minute (`Browser/PageLoad` calls), mean page-load time and its four phases, each the
 * mean of its own metric (network, back end, DOM processing, rendering: they sum to the page load),
 * the Web Vitals means, and the browser Apdex score.
 */
export const BROWSER_METRICS = {
  pageLoad: 'Browser/PageLoad',
  network: 'Browser/Network',
  backend: 'Browser/Backend',
  domProcessing: 'Browser/DOMProcessing',
  rendering: 'Browser/Rendering',
  ttfb: 'Browser/TTFB',
  fcp: 'Browser/FCP',
  lcp: 'Browser/LCP',
  inp: 'Browser/INP',
  cls: 'Browser/CLS',
  apdex: 'Browser/Apdex',
} as const;

export const BROWSER_UNITS = {
  pageViews: 'views/min',
  pageLoad: 's',
  network: 's',
  backend: 's',
  domProcessing: 's',
  rendering: 's',
  ttfb: 's',
  fcp: 's',
  lcp: 's',
  inp: 's',
  cls: 'score',
  apdex: 'score',
} as const;

export type BrowserField = keyof typeof BROWSER_UNITS;
export type BrowserValues = Record<BrowserField, number | null>;

export interface BrowserView {
  timestamps: number[];
  series: Record<BrowserField, Array<number | null>>;
  summary: BrowserValues & { apdexT: number | null };
  units: typeof BROWSER_UNITS;
}

export function browserValues(get: (name: string) => Timeslice | undefined, minutes: number | null): BrowserValues {
  const B = BROWSER_METRICS;
  const load = get(B.pageLoad);
  return {
    pageViews: load !== undefined && minutes !== null ? load.callCount / minutes : null,
    pageLoad: meanOrNull(load),
    network: meanOrNull(get(B.network)),
    backend: meanOrNull(get(B.backend)),
    domProcessing: meanOrNull(get(B.domProcessing)),
    rendering: meanOrNull(get(B.rendering)),
    ttfb: meanOrNull(get(B.ttfb)),
    fcp: meanOrNull(get(B.fcp)),
    lcp: meanOrNull(get(B.lcp)),
    inp: meanOrNull(get(B.inp)),
    cls: meanOrNull(get(B.cls)),
    apdex: apdexScore(get(B.apdex)),
  };
}

export function browserOf(r: SeriesResult, now: number): BrowserView {
  const series = Object.fromEntries(Object.keys(BROWSER_UNITS).map((k) => [k, [] as Array<number | null>])) as BrowserView['series'];
  for (const b of r.buckets) {
    const v = browserValues((name) => r.data.get(metricKey({ name, scope: '' }))?.get(b), bucketMinutes(b, r.resolution.step, now));
    for (const k of Object.keys(series) as BrowserField[]) series[k].push(v[k]);
  }
  const merged = new Map<string, Timeslice | undefined>();
  for (const name of Object.values(BROWSER_METRICS)) merged.set(name, mergeSeries(r.data.get(metricKey({ name, scope: '' }))));
  const summary = browserValues((name) => merged.get(name), windowMinutes(r.resolution.from, r.resolution.to, now));
  const apdex = merged.get(BROWSER_METRICS.apdex);
  return { timestamps: r.buckets, series, summary: { ...summary, apdexT: apdex ? apdex.maxTime : null }, units: BROWSER_UNITS };
}

/** One row of a breakdown table (by browser, by country, by page group). */
export interface BreakdownRow {
  name: string;
  views: number;
  /** Mean page-load time, seconds. */
  meanLoad: number | null;
}

/** Rows from window totals, most viewed first, at most `limit`. */
export function breakdownOf(totals: ReadonlyArray<{ label: string; t: Timeslice | undefined }>, limit: number): BreakdownRow[] {
  return totals
    .filter((x) => x.t !== undefined && x.t.callCount > 0)
    .map((x) => ({ name: x.label, views: x.t!.callCount, meanLoad: meanOrNull(x.t) }))
    .sort((a, b) => b.views - a.views || a.name.localeCompare(b.name))
    .slice(0, limit);
}
