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
    // Kept exactly, whatever the characters: a lone surrogate, an escape, a name cut from a longer string.
    const odd = [{ name: 'Custom/\ud800"x', scope: 'WebTransaction/é' }, { name: 'Custom/long-name-kept'.slice(7, 16), scope: '' }];
    memo.set('run-d', 7, 3, 0, odd, [5, 6]);
    expect(memo.get('run-d', 7, 3, 0, [{ name: 'Custom/\ud800"x', scope: 'WebTransaction/é' }, { name: 'long-name', scope: '' }])).toEqual([5, 6]);
    expect(memo.get('run-d', 7, 3, 0, [{ name: 'Custom/\ufffd"x', scope: 'WebTransaction/é' }, { name: 'long-name', scope: '' }])).toBeUndefined();
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

  it('is bounded by sources and by bytes: a quarter for the sources, the rest for the answers, each charged once however shared', () => {
    const bySources = new MetricIdMemo({ maxSources: 2, maxBytes: 1 << 20 });
    for (const s of ['a', 'b', 'c']) bySources.set(s, 1, undefined, 0, names('X'), [1]);
    expect(bySources.size).toBe(2);
    expect(bySources.get('a', 1, undefined, 0, names('X'))).toBeUndefined();
    expect(bySources.get('c', 1, undefined, 0, names('X'))).toEqual([1]);
    // An answer of 4 names of 100 Latin-1 characters and empty scopes: 128 + 4 × 8 (ids) + 4 × (20 + 100)
    // + 4 × 20 = 720 bytes; the answers get 1,500 of 2,000 bytes: two fit.
    const byBytes = new MetricIdMemo({ maxSources: 100, maxBytes: 2000 });
    const long = ['a', 'b', 'c', 'd'].map((ch) => ({ name: ch.repeat(100), scope: '' }));
    for (const [i, s] of ['a', 'b', 'c'].entries()) byBytes.set(s, 1, undefined, 0, long, [1, 2, 3, 4 + i]);
    expect(byBytes.get('a', 1, undefined, 0, long)).toBeUndefined();
    expect(byBytes.get('b', 1, undefined, 0, long)).toEqual([1, 2, 3, 5]);
    expect(byBytes.get('c', 1, undefined, 0, long)).toEqual([1, 2, 3, 6]);
    // Shared, the answer is charged once: ten sources of one application sending the same names all
    // answer from 3,000 bytes of answers (ten copies would be 7,200).
    const shared = new MetricIdMemo({ maxSources: 100, maxBytes: 4000 });
    for (let s = 0; s < 10; s++) shared.set(`same${s}`, 2, 7, 0, long, [1, 2, 3, 4]);
    for (let s = 0; s < 10; s++) expect(shared.get(`same${s}`, 2, 7, 0, long)).toEqual([1, 2, 3, 4]);
    // Beyond Latin-1 a character takes two bytes: 128 + 32 + 4 × (20 + 200) + 80 = 1,120; one fits.
    const wide = long.map((n) => ({ name: `€${n.name.slice(1)}`, scope: '' }));
    for (const [i, s] of ['a', 'b'].entries()) byBytes.set(s, 3, undefined, 0, wide, [1, 2, 3, 4 + i]);
    expect(byBytes.get('a', 3, undefined, 0, wide)).toBeUndefined();
    expect(byBytes.get('b', 3, undefined, 0, wide)).toEqual([1, 2, 3, 5]);
    // An answer larger than the answers' whole bound is not kept, and the source's last one goes.
    const huge = Array.from({ length: 20 }, (_, i) => ({ name: `${'h'.repeat(100)}${i}`, scope: '' }));
    byBytes.set('b', 3, undefined, 0, huge, huge.map((_, i) => i));
    expect(byBytes.get('b', 3, undefined, 0, huge)).toBeUndefined();
    expect(byBytes.get('b', 3, undefined, 0, wide)).toBeUndefined();
    // Past 10,000 sources their count is kept through their bytes: each charged at least its share,
    // 8,000,000 ÷ 4 ÷ 20,000 = 100 bytes (a key 's123\0…' is charged 64 + 2 × its length, less): 20,001
    // sources keep 20,000, all sharing one answer.
    const many = new MetricIdMemo({ maxSources: 20_000, maxBytes: 8_000_000 });
    for (let s = 0; s <= 20_000; s++) many.set(`s${s}`, 1, undefined, 0, names('X'), [1]);
    expect(many.size).toBe(20_000);
    expect(many.get('s0', 1, undefined, 0, names('X'))).toBeUndefined();
    expect(many.get('s1', 1, undefined, 0, names('X'))).toEqual([1]);
    expect(many.get('s20000', 1, undefined, 0, names('X'))).toEqual([1]);
  });
});
