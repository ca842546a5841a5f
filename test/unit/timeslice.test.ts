import { describe, expect, it } from 'vitest';
import { meanOf, mergeInto, mergeTimeslices, stdDevOf, timesliceOf, type Timeslice } from '../../lib/timeslice/timeslice.js';
import { upsertSql } from '../../lib/shard/shard-writer-sql.js';

describe('timeslice merge', () => {
  it('adds counts, totals and squares; keeps least min and greatest max', () => {
    const a = timesliceOf(0.2);
    const b: Timeslice = { callCount: 3, totalTime: 0.9, exclusiveTime: 0.6, minTime: 0.1, maxTime: 0.5, sumOfSquares: 0.35 };
    expect(mergeTimeslices(a, b)).toEqual({ callCount: 4, totalTime: 1.1, exclusiveTime: 0.8, minTime: 0.1, maxTime: 0.5, sumOfSquares: 0.39 });
    const c = { ...a };
    mergeInto(c, b);
    expect(c).toEqual(mergeTimeslices(a, b));
  });

  it('merges Apdex slots (satisfied, tolerating, frustrated, T, T) the same way', () => {
    const x: Timeslice = { callCount: 5, totalTime: 2, exclusiveTime: 1, minTime: 0.5, maxTime: 0.5, sumOfSquares: 0 };
    const y: Timeslice = { callCount: 1, totalTime: 0, exclusiveTime: 3, minTime: 0.5, maxTime: 0.5, sumOfSquares: 0 };
    expect(mergeTimeslices(x, y)).toEqual({ callCount: 6, totalTime: 2, exclusiveTime: 4, minTime: 0.5, maxTime: 0.5, sumOfSquares: 0 });
  });

  it('keeps mean and standard deviation exact', () => {
    const m = [0.1, 0.2, 0.3, 0.6].map((v) => timesliceOf(v)).reduce(mergeTimeslices);
    expect(meanOf(m)).toBeCloseTo(0.3, 12);
    expect(stdDevOf(m)).toBeCloseTo(Math.sqrt((0.04 + 0.01 + 0 + 0.09) / 4), 12);
    expect(meanOf({ ...m, callCount: 0 })).toBe(0);
  });

  it('writes the same merge as SQL', () => {
    const sql = upsertSql('ts_1_2026112314', [{ metricId: 1, agentId: 2, period: 1795442400, ...timesliceOf(0.25) }]);
    expect(sql).toBe(
      'INSERT INTO ts_1_2026112314 (metric_id, agent_id, period, call_count, total_time, exclusive_time, min_time, max_time, sum_of_squares) ' +
        'VALUES (1,2,1795442400,1,0.25e0,0.25e0,0.25e0,0.25e0,0.0625e0) ON DUPLICATE KEY UPDATE call_count = call_count + VALUES(call_count), ' +
        'total_time = total_time + VALUES(total_time), exclusive_time = exclusive_time + VALUES(exclusive_time), ' +
        'min_time = LEAST(min_time, VALUES(min_time)), max_time = GREATEST(max_time, VALUES(max_time)), sum_of_squares = sum_of_squares + VALUES(sum_of_squares)',
    );
    expect(() => upsertSql('t', [{ metricId: 1, agentId: 2, period: 0, ...timesliceOf(NaN) }])).toThrow(/finite/);
  });
});

describe('writer batch picking', async () => {
  const { takeBatch } = await import('../../lib/shard/shard-writer-batch.js');
  const q = (accountId: number, n: number, id: string) => ({ id, req: { accountId, rows: new Array(n) } });
  it('takes whole requests in order up to the row bound, at least one', () => {
    const queue = [q(1, 600, 'a'), q(2, 600, 'b'), q(3, 600, 'c'), q(4, 100, 'd')];
    const r = takeBatch(queue, new Set(), 1500);
    expect(r.batch.map((p) => p.id)).toEqual(['a', 'b']);
    expect(r.rest.map((p) => p.id)).toEqual(['c', 'd']);
    expect(r.rows).toBe(1200);
    expect(takeBatch([q(1, 5000, 'big')], new Set(), 1500).batch.map((p) => p.id)).toEqual(['big']);
  });
  it('skips accounts held by a transaction in flight, keeping their order', () => {
    const queue = [q(1, 10, 'a1'), q(2, 10, 'b1'), q(1, 10, 'a2'), q(3, 10, 'c1')];
    const r = takeBatch(queue, new Set([1]), 1500);
    expect(r.batch.map((p) => p.id)).toEqual(['b1', 'c1']);
    expect(r.rest.map((p) => p.id)).toEqual(['a1', 'a2']);
    expect(takeBatch(queue, new Set([1, 2, 3]), 1500).batch).toEqual([]);
  });
  it('spreads the queued rows over the free connections, between a quarter of the bound and the bound', async () => {
    const { batchTarget } = await import('../../lib/shard/shard-writer-batch.js');
    expect(batchTarget(1200, 4, 2000)).toBe(500); // a quarter at least: 300 each would be too small
    expect(batchTarget(4000, 4, 2000)).toBe(1000);
    expect(batchTarget(1200, 2, 2000)).toBe(600);
    expect(batchTarget(9000, 3, 2000)).toBe(2000);
    expect(batchTarget(1200, 1, 2000)).toBe(1200);
    expect(batchTarget(1200, 0, 2000)).toBe(1200); // no free connection: the caller does not flush; the bound still holds
    expect(batchTarget(3, 4, 1)).toBe(1);
  });
});

describe('row merger', async () => {
  const { RowMerger } = await import('../../lib/timeslice/row-merger.js');
  it('merges rows of one key exactly and keeps first-seen order, without touching its input', () => {
    const a = { metricId: 1, agentId: 2, period: 60, ...timesliceOf(0.5) };
    const b = { metricId: 1, agentId: 3, period: 60, ...timesliceOf(0.25) };
    const c = { metricId: 1, agentId: 2, period: 60, ...timesliceOf(0.125) };
    const d = { metricId: 1, agentId: 2, period: 120, ...timesliceOf(1) };
    const m = new RowMerger();
    for (const r of [a, b, c, d]) m.add(r);
    expect(m.rows()).toEqual([
      { metricId: 1, agentId: 2, period: 60, callCount: 2, totalTime: 0.625, exclusiveTime: 0.625, minTime: 0.125, maxTime: 0.5, sumOfSquares: 0.265625 },
      { metricId: 1, agentId: 3, period: 60, ...timesliceOf(0.25) },
      { metricId: 1, agentId: 2, period: 120, ...timesliceOf(1) },
    ]);
    expect(a.callCount).toBe(1);
    expect(c.callCount).toBe(1);
    expect(m.rows()[1]).toBe(b); // a key seen once: the caller's row itself, not a copy
    expect(m.merged).toBe(1);
  });

  it("adds a row under another agent as a copy, and merges further rows of that key into the copy only", () => {
    const a = { metricId: 7, agentId: 2, period: 60, ...timesliceOf(0.5) };
    const b = { metricId: 7, agentId: 3, period: 60, ...timesliceOf(0.25) };
    const m = new RowMerger();
    m.add(a);
    m.add(a, 9);
    m.add(b, 9);
    expect(m.rows()).toEqual([a, { metricId: 7, agentId: 9, period: 60, callCount: 2, totalTime: 0.75, exclusiveTime: 0.75, minTime: 0.25, maxTime: 0.5, sumOfSquares: 0.3125 }]);
    expect([a.agentId, a.callCount, b.agentId, b.callCount]).toEqual([2, 1, 3, 1]);
    expect(m.size).toBe(2);
  });
});
