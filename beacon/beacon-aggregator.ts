import { addValue, type BucketCounts } from '../lib/distribution/log-buckets.js';
import { mergeInto, timesliceOf, type Timeslice } from '../lib/timeslice/timeslice.js';
import { browserApdexOf } from './browser-apdex.js';
import type { PagePhases } from './page-phases.js';

/**
 * The in-memory store between beacons and the shard writer: one open aggregate per
 * (account, application, scope, minute), where scope is a page group or '' for the whole
 * application. A beacon never writes; the flusher drains this map every few seconds. Merging is
 * exact (lib/timeslice), so draining part of a minute and upserting the rest later sums correctly.
 *
 * Metric names (the cross-team convention): Browser/PageLoad (call count = page views),
 * Browser/Network, Browser/Backend, Browser/DOMProcessing, Browser/Rendering, Browser/TTFB,
 * Browser/FCP, Browser/LCP, Browser/INP (seconds), Browser/CLS (score), Browser/Apdex (Apdex slots);
 * in scope '' only: Browser/ByBrowser/<family>, Browser/ByCountry/<CC> (page-load time).
 */
export interface PageView {
  accountId: number;
  applicationId: number;
  /** The application's Apdex threshold T, seconds. */
  apdexT: number;
  /** Page group (already limited per application). */
  group: string;
  /** Minute start, Unix seconds (server receive time). */
  minute: number;
  phases: PagePhases;
  /** Seconds, or null when not measured. */
  fcp: number | null;
  lcp: number | null;
  inp: number | null;
  cls: number;
  browserFamily: string;
  /** ISO country code, or null when the country breakdown is off. */
  country: string | null;
}

export interface OpenAggregate {
  accountId: number;
  applicationId: number;
  /** Page group, or '' for the application as a whole. */
  scope: string;
  minute: number;
  metrics: Map<string, Timeslice>;
  /**
   * Distributions (percentiles) of the application scope only, by the same metric names: page load,
   * each phase, TTFB, FCP, LCP, INP (seconds) and CLS (score), in the bucket scheme of
   * lib/distribution/log-buckets.ts (bounded: at most 1,498 buckets per metric).
   */
  dists?: Map<string, BucketCounts>;
}

export const APPLICATION_SCOPE = '';

function addDists(a: OpenAggregate, v: PageView): void {
  const dists = (a.dists ??= new Map());
  const put = (name: string, value: number | null) => {
    if (value === null) return;
    let d = dists.get(name);
    if (!d) dists.set(name, (d = new Map()));
    addValue(d, value);
  };
  const p = v.phases;
  put('Browser/PageLoad', p.pageLoad);
  put('Browser/Network', p.network);
  put('Browser/Backend', p.backend);
  put('Browser/DOMProcessing', p.domProcessing);
  put('Browser/Rendering', p.rendering);
  put('Browser/TTFB', p.ttfb);
  put('Browser/FCP', v.fcp);
  put('Browser/LCP', v.lcp);
  put('Browser/INP', v.inp);
  put('Browser/CLS', v.cls);
}

function add(metrics: Map<string, Timeslice>, name: string, slice: Timeslice): void {
  const open = metrics.get(name);
  if (open) mergeInto(open, slice);
  else metrics.set(name, { ...slice });
}

function addView(metrics: Map<string, Timeslice>, v: PageView): void {
  const p = v.phases;
  add(metrics, 'Browser/PageLoad', timesliceOf(p.pageLoad));
  add(metrics, 'Browser/Network', timesliceOf(p.network));
  add(metrics, 'Browser/Backend', timesliceOf(p.backend));
  add(metrics, 'Browser/DOMProcessing', timesliceOf(p.domProcessing));
  add(metrics, 'Browser/Rendering', timesliceOf(p.rendering));
  add(metrics, 'Browser/TTFB', timesliceOf(p.ttfb));
  if (v.fcp !== null) add(metrics, 'Browser/FCP', timesliceOf(v.fcp));
  if (v.lcp !== null) add(metrics, 'Browser/LCP', timesliceOf(v.lcp));
  if (v.inp !== null) add(metrics, 'Browser/INP', timesliceOf(v.inp));
  add(metrics, 'Browser/CLS', timesliceOf(v.cls));
  add(metrics, 'Browser/Apdex', browserApdexOf(p.pageLoad, v.apdexT));
}

export class BeaconAggregator {
  #open = new Map<string, OpenAggregate>();

  constructor(readonly maxOpenKeys: number) {}

  /** Open aggregates right now (the apm_beacon_open_keys gauge). */
  get size(): number {
    return this.#open.size;
  }

  /**
   * Folds one page view into its page-group and application aggregates. Returns false, changing
   * nothing, when that would open more than maxOpenKeys aggregates.
   */
  add(v: PageView): boolean {
    const base = `${v.accountId}:${v.applicationId}:${v.minute}:`;
    const pageKey = base + 'p' + v.group;
    const appKey = base + 'a';
    const opening = (this.#open.has(pageKey) ? 0 : 1) + (this.#open.has(appKey) ? 0 : 1);
    if (this.#open.size + opening > this.maxOpenKeys) return false;
    const page = this.#aggregate(pageKey, v, v.group);
    const app = this.#aggregate(appKey, v, APPLICATION_SCOPE);
    addView(page.metrics, v);
    addView(app.metrics, v);
    addDists(app, v);
    add(app.metrics, `Browser/ByBrowser/${v.browserFamily}`, timesliceOf(v.phases.pageLoad));
    if (v.country !== null) add(app.metrics, `Browser/ByCountry/${v.country}`, timesliceOf(v.phases.pageLoad));
    return true;
  }

  /** Takes every open aggregate out (the caller now owns them) and starts empty. */
  drain(): OpenAggregate[] {
    const out = [...this.#open.values()];
    this.#open = new Map();
    return out;
  }

  #aggregate(key: string, v: PageView, scope: string): OpenAggregate {
    let a = this.#open.get(key);
    if (!a) {
      a = { accountId: v.accountId, applicationId: v.applicationId, scope, minute: v.minute, metrics: new Map() };
      this.#open.set(key, a);
    }
    return a;
  }
}
