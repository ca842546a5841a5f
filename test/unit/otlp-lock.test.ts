import { describe, expect, it } from 'vitest';
import { KeyedLock } from '../../lib/concurrency/keyed-lock.js';
import { SeriesStateStore } from '../../collector/otlp/otlp-series-state.js';

describe('KeyedLock', () => {
  it('runs holders of one key one at a time, in arrival order, and other keys in parallel', async () => {
    const lock = new KeyedLock();
    const order: string[] = [];
    const hold = async (name: string, keys: string[], ms: number) => {
      const release = await lock.acquire(keys);
      order.push(`${name}+`);
      await new Promise((r) => setTimeout(r, ms));
      order.push(`${name}-`);
      release();
    };
    await Promise.all([hold('a', ['x'], 20), hold('b', ['y'], 5), hold('c', ['x', 'y'], 1), hold('d', ['x'], 1)]);
    expect(order).toEqual(['a+', 'b+', 'b-', 'a-', 'c+', 'c-', 'd+', 'd-']);
    expect(lock.size).toBe(0);
  });

  it('refuses with 429 past the waiting bound', async () => {
    const lock = new KeyedLock(2);
    const r1 = await lock.acquire(['k']);
    const second = lock.acquire(['k']);
    await expect(lock.acquire(['k'])).rejects.toMatchObject({ status: 429, retryAfterSeconds: 1 });
    r1();
    (await second)();
    expect(lock.size).toBe(0);
  });
});

describe('SeriesStateStore', () => {
  it('drops idle series and only applies committed transactions', () => {
    const store = new SeriesStateStore({ maxSeries: 10, idleSeconds: 60, startedAtNs: 0n });
    const txn = store.begin();
    txn.set('a', { kind: 'counter', timeNs: 1n, value: 1 }, 1, 5n);
    expect([txn.get('a')?.kind, store.get('a')]).toEqual(['counter', undefined]);
    txn.commit(1000);
    store.begin().set('b', { kind: 'counter', timeNs: 1n, value: 1 }, 1, 9n); // never committed
    expect(store.size).toBe(1);
    const later = store.begin();
    later.set('c', { kind: 'counter', timeNs: 2n, value: 1 }, 2, 7n);
    later.commit(1061); // 'a' is now idle for 61 s
    expect([store.get('a'), store.get('c')?.kind, store.evicted]).toEqual([undefined, 'counter', 1]);
    // The evicted series of account 1 started at 5 ns: account 1's series that started at or before it are baselined.
    expect([store.countsFromStart(1, 5n), store.countsFromStart(1, 6n), store.countsFromStart(2, 1n)]).toEqual([false, true, true]);
  });
});
