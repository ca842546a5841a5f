import { describe, expect, it } from 'vitest';
import { BeaconAggregator, type PageView } from '../../beacon/beacon-aggregator.js';
import { computePhases } from '../../beacon/page-phases.js';
import { bucketOf, ZERO_BUCKET } from '../../lib/distribution/log-buckets.js';

const view = (loadMs: number, over: Partial<PageView> = {}): PageView => ({
  accountId: 7, applicationId: 3, apdexT: 0.5, group: '/p', minute: 1_700_000_040,
  phases: computePhases({ activationStart: 0, requestStart: 10, responseStart: 222, responseEnd: 324, domContentLoadedEventEnd: 390, loadEventEnd: loadMs }),
  fcp: 0.288, lcp: null, inp: 0.04, cls: 0, browserFamily: 'Chrome', country: null, ...over,
});

describe('beacon distributions (percentiles)', () => {
  it('counts every page view in the application-scope distribution of each timing, none per page group', () => {
    const agg = new BeaconAggregator(100);
    agg.add(view(579));
    agg.add(view(2579, { lcp: 1.5 }));
    agg.add(view(579, { group: '/q' }));
    const out = agg.drain();
    const app = out.find((a) => a.scope === '')!;
    expect(out.filter((a) => a.scope !== '').every((a) => a.dists === undefined)).toBe(true);
    const d = app.dists!;
    expect([...d.keys()].sort()).toEqual(['Browser/Backend', 'Browser/CLS', 'Browser/DOMProcessing', 'Browser/FCP', 'Browser/INP', 'Browser/LCP', 'Browser/Network', 'Browser/PageLoad', 'Browser/Rendering', 'Browser/TTFB']);
    expect([...d.get('Browser/PageLoad')!.entries()].sort()).toEqual([[bucketOf(0.579), 2], [bucketOf(2.579), 1]].sort());
    expect([...d.get('Browser/LCP')!.entries()]).toEqual([[bucketOf(1.5), 1]]); // measured once
    expect([...d.get('Browser/CLS')!.entries()]).toEqual([[ZERO_BUCKET, 3]]); // a CLS of 0 reads back as 0
    expect([...d.get('Browser/TTFB')!.values()].reduce((a, b) => a + b, 0)).toBe(3);
  });
});
