import { describe, expect, it } from 'vitest';
import { BeaconAggregator, type PageView } from '../../beacon/beacon-aggregator.js';
import { computePhases } from '../../beacon/page-phases.js';

function view(over: Partial<PageView> & { loadMs?: number } = {}): PageView {
  const load = over.loadMs ?? 579;
  return {
    accountId: 7,
    applicationId: 3,
    apdexT: 0.5,
    group: '/products/{id}',
    minute: 1_700_000_040,
    phases: computePhases({ activationStart: 0, requestStart: 10, responseStart: 222, responseEnd: 324, domContentLoadedEventEnd: 390, loadEventEnd: load }),
    fcp: 0.288,
    lcp: null,
    inp: null,
    cls: 0.1,
    browserFamily: 'Chrome',
    country: 'DE',
    ...over,
  };
}

describe('BeaconAggregator', () => {
  it('aggregates page views per page group and for the whole application', () => {
    const agg = new BeaconAggregator(100);
    expect(agg.add(view())).toBe(true);
    expect(agg.add(view({ loadMs: 2579, lcp: 1.5, browserFamily: 'Firefox' }))).toBe(true);
    expect(agg.add(view({ group: '/about', country: 'ZZ' }))).toBe(true);
    expect(agg.size).toBe(3);
    const out = agg.drain();
    expect(agg.size).toBe(0);
    const byScope = new Map(out.map((a) => [a.scope, a]));
    expect([...byScope.keys()].sort()).toEqual(['', '/about', '/products/{id}']);

    const products = byScope.get('/products/{id}')!.metrics;
    expect(products.get('Browser/PageLoad')).toEqual({ callCount: 2, totalTime: 0.579 + 2.579, exclusiveTime: 0.579 + 2.579, minTime: 0.579, maxTime: 2.579, sumOfSquares: 0.579 ** 2 + 2.579 ** 2 });
    expect(products.get('Browser/Rendering')!.totalTime).toBeCloseTo(0.189 + 2.189, 12);
    expect(products.get('Browser/FCP')!.callCount).toBe(2);
    expect(products.get('Browser/LCP')).toEqual({ callCount: 1, totalTime: 1.5, exclusiveTime: 1.5, minTime: 1.5, maxTime: 1.5, sumOfSquares: 2.25 });
    expect(products.has('Browser/INP')).toBe(false);
    expect(products.get('Browser/Apdex')).toEqual({ callCount: 0, totalTime: 1, exclusiveTime: 1, minTime: 0.5, maxTime: 0.5, sumOfSquares: 0 });
    expect(products.has('Browser/ByBrowser/Chrome')).toBe(false);

    const app = byScope.get('')!.metrics;
    expect(app.get('Browser/PageLoad')!.callCount).toBe(3);
    expect(app.get('Browser/CLS')!.totalTime).toBeCloseTo(0.3, 12);
    expect(app.get('Browser/ByBrowser/Chrome')!.callCount).toBe(2);
    expect(app.get('Browser/ByBrowser/Firefox')!.callCount).toBe(1);
    expect(app.get('Browser/ByCountry/DE')!.callCount).toBe(2);
    expect(app.get('Browser/ByCountry/ZZ')!.callCount).toBe(1);
    expect(app.get('Browser/Apdex')).toEqual({ callCount: 0, totalTime: 2, exclusiveTime: 1, minTime: 0.5, maxTime: 0.5, sumOfSquares: 0 });
  });

  it('keeps minutes and applications apart and leaves the country out when it is off', () => {
    const agg = new BeaconAggregator(100);
    agg.add(view());
    agg.add(view({ minute: 1_700_000_100, country: null }));
    agg.add(view({ applicationId: 4 }));
    const out = agg.drain();
    expect(out.length).toBe(6);
    const late = out.find((a) => a.minute === 1_700_000_100 && a.scope === '')!;
    expect([...late.metrics.keys()].filter((k) => k.startsWith('Browser/By'))).toEqual(['Browser/ByBrowser/Chrome']);
  });

  it('refuses a view that would open more than the bound, changing nothing', () => {
    const agg = new BeaconAggregator(3);
    expect(agg.add(view())).toBe(true);
    expect(agg.add(view({ group: '/a' }))).toBe(true);
    expect(agg.add(view({ group: '/b' }))).toBe(false);
    expect(agg.add(view({ minute: 1_700_000_100 }))).toBe(false);
    expect(agg.add(view())).toBe(true);
    expect(agg.size).toBe(3);
    const app = agg.drain().find((a) => a.scope === '')!;
    expect(app.metrics.get('Browser/PageLoad')!.callCount).toBe(3);
  });
});
