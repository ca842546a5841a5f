import { describe, expect, it } from 'vitest';
import { SeriesStateStore } from '../../collector/otlp/otlp-series-state.js';
import { PageGroupLimiter } from '../../beacon/page-group.js';
import { checkRequestRows } from '../../lib/shard/request-rows.js';
import { maxAgeProblem, pastMinuteRetention, PastRetentionError, checkMinuteRetention } from '../../lib/shard/minute-retention.js';
import { PayloadTooLargeError } from '../../lib/errors.js';

/** Issue #18 parts 3 and 5: bounds by size, and the retention rules, as pure code. */
describe('OTLP series state: bounded by count AND bytes', () => {
  it('keys holding long attribute text are evicted by bytes long before the count bound', () => {
    const store = new SeriesStateStore({ maxSeries: 100_000, maxBytes: 1024 * 1024, idleSeconds: 3600, startedAtNs: 0n });
    const attrs = 'k=' + 'v'.repeat(10_000);
    for (let i = 0; i < 1000; i++) {
      const txn = store.begin();
      txn.set(`c\u0000${i}\u0000${attrs}`, { kind: 'counter', timeNs: 1n, value: i }, 1, 5n);
      txn.commit(100);
    }
    expect(store.bytes).toBeLessThanOrEqual(1024 * 1024);
    // Each entry: 2 × 10,0xx key bytes + 144: 52 fit in 1 MiB.
    expect(store.size).toBe(52);
    expect(store.evicted).toBe(1000 - 52);
    // The forgotten series of account 1 started at 5 ns: a series of that start is baselined, a later one counts.
    expect([store.countsFromStart(1, 5n), store.countsFromStart(1, 6n)]).toEqual([false, true]);
  });

  it('still forgets idle series by the injected clock', () => {
    const store = new SeriesStateStore({ maxSeries: 10, idleSeconds: 60, startedAtNs: 0n });
    const txn = store.begin();
    txn.set('a', { kind: 'counter', timeNs: 1n, value: 1 }, 1, 0n);
    txn.commit(100);
    const later = store.begin();
    later.set('b', { kind: 'counter', timeNs: 1n, value: 1 }, 1, 0n);
    later.commit(150);
    store.sweep(161);
    expect([store.get('a'), store.get('b')?.kind]).toEqual([undefined, 'counter']);
  });
});

describe('page groups per application: bounded in total', () => {
  it('holds at most maxGroups groups across applications', () => {
    const limiter = new PageGroupLimiter(5, 100);
    for (let app = 0; app < 100; app++) for (let g = 0; g < 5; g++) expect(limiter.limit(`1:${app}`, `/p${g}`)).toBe(`/p${g}`);
    expect(limiter.limit('1:99', '/p5')).toBe('(overflow)'); // the per-application bound still holds
  });
});

describe('row bound and retention', () => {
  it('413 names the bound', () => {
    expect(() => checkRequestRows('metrics export', 1001, 1000)).toThrow(PayloadTooLargeError);
    expect(() => checkRequestRows('metrics export', 1000, 1000)).not.toThrow();
  });

  it('a minute is past retention once its hour ended minuteDays ago', () => {
    const hour = 1_700_000_000 - (1_700_000_000 % 3600);
    expect(pastMinuteRetention(hour + 59 * 60, 8, hour + 3600 + 8 * 86400 - 1)).toBe(false);
    expect(pastMinuteRetention(hour + 59 * 60, 8, hour + 3600 + 8 * 86400)).toBe(true);
    expect(() => checkMinuteRetention('metric_data', hour, 8, hour + 3600 + 8 * 86400)).toThrow(PastRetentionError);
  });

  it('a max age must stay below the shortest minute retention less an hour', () => {
    expect(maxAgeProblem(86400, 8)).toBeUndefined();
    expect(maxAgeProblem(8 * 86400 - 3601, 8)).toBeUndefined();
    expect(maxAgeProblem(8 * 86400 - 3600, 8)).toMatch(/APM_COLLECTOR_MAX_AGE_SECONDS \(687600\) must be below/);
    expect(maxAgeProblem(60, 0)).toMatch(/shortest minute retention of any plan \(0 days/);
  });
});
