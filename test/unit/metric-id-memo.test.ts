import { describe, expect, it } from 'vitest';
import { MetricIdMemo } from '../../lib/shard/metric-id-memo.js';

const names = (...n: string[]) => n.map((name) => ({ name, scope: name.startsWith('Datastore') ? 'WebTransaction/x' : '' }));

describe('MetricIdMemo: the last answer of a source, by position', () => {
  it('answers only the same names in the same order, for the same account, application and generation', () => {
    const memo = new MetricIdMemo();
    memo.set('run-a', 7, 3, 0, names('HttpDispatcher', 'Datastore/all'), [11, 12]);
    expect(memo.get('run-a', 7, 3, 0, names('HttpDispatcher', 'Datastore/all'))).toEqual([11, 12]);
    expect(memo.get('run-a', 7, 3, 0, names('Datastore/all', 'HttpDispatcher'))).toBeUndefined();
    expect(memo.get('run-a', 7, 3, 0, names('HttpDispatcher'))).toBeUndefined();
    expect(memo.get('run-a', 7, 3, 0, [{ name: 'HttpDispatcher', scope: '' }, { name: 'Datastore/all', scope: '' }])).toBeUndefined();
    expect(memo.get('run-a', 8, 3, 0, names('HttpDispatcher', 'Datastore/all'))).toBeUndefined();
    expect(memo.get('run-a', 7, 3, 1, names('HttpDispatcher', 'Datastore/all'))).toBeUndefined();
    expect(memo.get('run-b', 7, 3, 0, names('HttpDispatcher', 'Datastore/all'))).toBeUndefined();
    // The same characters split at another place are other names.
    memo.set('run-c', 7, 3, 0, [{ name: 'ab', scope: '' }, { name: 'c', scope: 'd' }], [1, 2]);
    expect(memo.get('run-c', 7, 3, 0, [{ name: 'ab', scope: '' }, { name: 'c', scope: 'd' }])).toEqual([1, 2]);
    expect(memo.get('run-c', 7, 3, 0, [{ name: 'a', scope: 'b' }, { name: 'c', scope: 'd' }])).toBeUndefined();
    expect(memo.get('run-c', 7, 3, 0, [{ name: 'ab', scope: '' }, { name: 'cd', scope: '' }])).toBeUndefined();
  });

  it('keeps one answer per application of a source, and hands out copies', () => {
    const memo = new MetricIdMemo();
    memo.set('run-a', 7, 3, 0, names('WebTransaction'), [21]);
    memo.set('run-a', 7, 4, 0, names('WebTransaction'), [31]);
    const got = memo.get('run-a', 7, 3, 0, names('WebTransaction'))!;
    expect(got).toEqual([21]);
    got[0] = 99;
    expect(memo.get('run-a', 7, 3, 0, names('WebTransaction'))).toEqual([21]);
    expect(memo.get('run-a', 7, 4, 0, names('WebTransaction'))).toEqual([31]);
    expect(memo.size).toBe(2);
  });

  it('sources that sent the same names share an answer, and one changing leaves the other its own', () => {
    const memo = new MetricIdMemo();
    memo.set('run-a', 7, 3, 0, names('WebTransaction', 'Datastore/all'), [21, 22]);
    memo.set('run-b', 7, 3, 0, names('WebTransaction', 'Datastore/all'), [21, 22]);
    memo.set('run-b', 7, 3, 0, names('WebTransaction'), [21]);
    expect(memo.get('run-a', 7, 3, 0, names('WebTransaction', 'Datastore/all'))).toEqual([21, 22]);
    expect(memo.get('run-b', 7, 3, 0, names('WebTransaction', 'Datastore/all'))).toBeUndefined();
    expect(memo.get('run-b', 7, 3, 0, names('WebTransaction'))).toEqual([21]);
    // Another generation's answer is not shared: the new one is remembered.
    memo.set('run-c', 7, 3, 1, names('WebTransaction', 'Datastore/all'), [31, 32]);
    expect(memo.get('run-c', 7, 3, 1, names('WebTransaction', 'Datastore/all'))).toEqual([31, 32]);
    expect(memo.size).toBe(3);
  });

  it('is bounded by sources and by the bytes of their names', () => {
    const bySources = new MetricIdMemo({ maxSources: 2, maxBytes: 1 << 20 });
    for (const s of ['a', 'b', 'c']) bySources.set(s, 1, undefined, 0, names('X'), [1]);
    expect(bySources.size).toBe(2);
    expect(bySources.get('a', 1, undefined, 0, names('X'))).toBeUndefined();
    expect(bySources.get('c', 1, undefined, 0, names('X'))).toEqual([1]);
    // An entry of 4 names of 100 characters: 128 + 4 × (200 + 16) = 992 bytes; two fit in 2,000.
    const byBytes = new MetricIdMemo({ maxSources: 100, maxBytes: 2000 });
    const long = ['a', 'b', 'c', 'd'].map((ch) => ({ name: ch.repeat(100), scope: '' }));
    for (const s of ['a', 'b', 'c']) byBytes.set(s, 1, undefined, 0, long, [1, 2, 3, 4]);
    expect(byBytes.size).toBe(2);
    expect(byBytes.get('a', 1, undefined, 0, long)).toBeUndefined();
    expect(byBytes.get('b', 1, undefined, 0, long)).toEqual([1, 2, 3, 4]);
  });
});
