import { describe, expect, it } from 'vitest';
import { InputError } from '../../lib/errors.js';
import { mergeInto, type Timeslice } from '../../lib/timeslice/timeslice.js';
import { deltaOf, payloadDigest, pieceKey, planHarvest, type HarvestPiece, type HarvestRecord } from '../../collector/newrelic/harvest-plan.js';
import { parseMetricData, type Harvest } from '../../collector/newrelic/metric-data.js';
import { bodyText, capture } from '../harness/newrelic-captures.js';

const RUN = 'fake-run-1';
const load = (prefix: string): { harvest: Harvest; digest: string } => {
  const c = capture(prefix);
  return { harvest: parseMetricData(c.body, RUN, { now: c.body[2] + 1, maxFutureSeconds: 300, maxAgeSeconds: 86400 }), digest: payloadDigest(bodyText(c)) };
};
const keyOf = (h: Harvest) => (end: number, digest: string) => pieceKey(7, 'n0nce', h.start, end, digest);

/** A sink that behaves like the shard writer's ledger: each key is committed at most once. */
class Sink {
  readonly keys = new Set<string>();
  readonly totals = new Map<string, Timeslice>();
  commit(p: HarvestPiece): 'committed' | 'duplicate' {
    if (this.keys.has(p.key)) return 'duplicate';
    this.keys.add(p.key);
    for (const m of p.metrics) {
      const k = `${m.name}|${m.scope}`;
      const have = this.totals.get(k);
      if (have) mergeInto(have, m.stats);
      else this.totals.set(k, { ...m.stats });
    }
    return 'committed';
  }
}

/** Applies a plan the way HarvestWriter does; `fail` makes the listed step throw (a 503). */
function apply(sink: Sink, record: HarvestRecord | undefined, h: Harvest, digest: string, fail?: 'write'): HarvestRecord | undefined {
  const plan = planHarvest(record, h, digest, keyOf(h));
  let next = record;
  if (plan.kind === 'merged') sink.commit(plan.confirm);
  if (plan.kind === 'new' || plan.kind === 'merged') next = plan.save;
  if (fail !== 'write') sink.commit(plan.write);
  return next;
}

function expectTotalsEqual(sink: Sink, h: Harvest): void {
  expect(sink.totals.size).toBe(h.metrics.length);
  for (const m of h.metrics) {
    const got = sink.totals.get(`${m.name}|${m.scope}`)!;
    expect(got.callCount, `${m.name} count`).toBe(m.stats.callCount);
    expect(got.totalTime, `${m.name} total`).toBeCloseTo(m.stats.totalTime, 9);
    expect(got.exclusiveTime).toBeCloseTo(m.stats.exclusiveTime, 9);
    expect(got.sumOfSquares).toBeCloseTo(m.stats.sumOfSquares, 6);
    expect(got.minTime).toBe(m.stats.minTime);
    expect(got.maxTime).toBe(m.stats.maxTime);
  }
}

describe('harvest plan: the captured 503 sequence (22 answered 503, 23 merged, same start)', () => {
  const first = load('22');
  const merged = load('23');

  it('22 never recorded (shard down), then 23: 23 is written whole, once', () => {
    const sink = new Sink();
    const plan = planHarvest(undefined, merged.harvest, merged.digest, keyOf(merged.harvest));
    expect(plan.kind).toBe('new');
    apply(sink, undefined, merged.harvest, merged.digest);
    expectTotalsEqual(sink, merged.harvest);
  });

  it('22 recorded but not written (writer refused), then 23: 22 is written by the retry, then only the delta', () => {
    const sink = new Sink();
    const rec = apply(sink, undefined, first.harvest, first.digest, 'write');
    expect(sink.keys.size).toBe(0);
    const plan = planHarvest(rec, merged.harvest, merged.digest, keyOf(merged.harvest));
    expect(plan.kind).toBe('merged');
    apply(sink, rec, merged.harvest, merged.digest);
    expect(sink.keys.size).toBe(2);
    expectTotalsEqual(sink, merged.harvest);
  });

  it('22 committed but the 200 was lost, then 23: the re-written 22 is a duplicate, the delta adds the rest', () => {
    const sink = new Sink();
    const rec = apply(sink, undefined, first.harvest, first.digest);
    const plan = planHarvest(rec, merged.harvest, merged.digest, keyOf(merged.harvest));
    if (plan.kind !== 'merged') throw new Error('expected merged');
    expect(sink.commit(plan.confirm)).toBe('duplicate');
    // The delta holds the 83 metrics new in 23 and the one 22 metric that grew (Output/Bytes 3 → 8 calls).
    expect(plan.write.metrics).toHaveLength(84);
    expect(plan.write.metrics.find((m) => m.name === 'Supportability/Nodejs/Collector/Output/Bytes')!.stats.callCount).toBe(5);
    expect(sink.commit(plan.write)).toBe('committed');
    expectTotalsEqual(sink, merged.harvest);
  });

  it('every resend of the same payloads afterwards changes nothing', () => {
    const sink = new Sink();
    let rec = apply(sink, undefined, first.harvest, first.digest);
    rec = apply(sink, rec, merged.harvest, merged.digest);
    for (const again of [merged, first, merged]) {
      const plan = planHarvest(rec, again.harvest, again.digest, keyOf(again.harvest));
      expect(plan.kind).toBe('duplicate');
      expect(sink.commit(plan.write)).toBe('duplicate');
    }
    expectTotalsEqual(sink, merged.harvest);
  });

  it('the next regular harvest (later start) replaces the record and is written whole', () => {
    const sink = new Sink();
    const rec = apply(sink, undefined, merged.harvest, merged.digest);
    const later = { ...merged.harvest, start: merged.harvest.end + 0.001, end: merged.harvest.end + 60 };
    const plan = planHarvest(rec, later, 'd2', keyOf(later));
    expect(plan.kind).toBe('new');
    if (plan.kind === 'new') expect(plan.save.start).toBe(later.start);
  });

  it('a stray old copy (start before the record) is written alone under its own key', () => {
    const rec = planHarvest(undefined, merged.harvest, merged.digest, keyOf(merged.harvest));
    if (rec.kind !== 'new') throw new Error('expected new');
    const older = { ...first.harvest, start: first.harvest.start - 60, end: first.harvest.start - 1 };
    const plan = planHarvest(rec.save, older, first.digest, keyOf(older));
    expect(plan.kind).toBe('older');
    expect(plan.write.key).toBe(pieceKey(7, 'n0nce', older.start, older.end, first.digest));
  });

  it('same start but not containing the recorded harvest: 400', () => {
    const rec = planHarvest(undefined, merged.harvest, merged.digest, keyOf(merged.harvest));
    if (rec.kind !== 'new') throw new Error('expected new');
    const shrunk = { ...merged.harvest, metrics: merged.harvest.metrics.slice(1) };
    expect(() => planHarvest(rec.save, shrunk, 'other', keyOf(shrunk))).toThrow(InputError);
    expect(() => planHarvest(rec.save, shrunk, 'other', keyOf(shrunk))).toThrow(/does not contain that harvest/);
  });

  it('attributes a piece to the minute containing its payload end', () => {
    const plan = planHarvest(undefined, merged.harvest, merged.digest, keyOf(merged.harvest));
    expect(plan.write.period).toBe(Math.floor(1795393514.618 / 60) * 60);
  });
});

describe('harvest plan: records saved with their piece (formats 2 and later: pendingCommitted)', () => {
  const first = load('22');
  const merged = load('23');
  /** No ledger: every piece given is counted (a guarded piece has no key), so a piece written twice shows. */
  const counted = (sink: Sink, p: HarvestPiece) => {
    sink.keys.delete(p.key);
    return sink.commit(p);
  };
  const saved = (h: Harvest, digest: string): HarvestRecord => {
    const plan = planHarvest(undefined, h, digest, keyOf(h));
    if (plan.kind !== 'new') throw new Error('expected new');
    return { ...plan.save, pendingCommitted: true };
  };

  it('22 committed with its record but the 200 lost, then 23: nothing of 22 is written again, the delta adds the rest', () => {
    const sink = new Sink();
    const rec = saved(first.harvest, first.digest);
    counted(sink, rec.pending);
    const plan = planHarvest(rec, merged.harvest, merged.digest, keyOf(merged.harvest));
    if (plan.kind !== 'merged') throw new Error('expected merged');
    expect(plan.confirm.metrics).toEqual([]);
    expect(plan.write.metrics).toHaveLength(84);
    counted(sink, plan.confirm);
    counted(sink, plan.write);
    expectTotalsEqual(sink, merged.harvest);
  });

  it('a resend of a committed payload writes nothing', () => {
    const sink = new Sink();
    const rec = saved(merged.harvest, merged.digest);
    counted(sink, rec.pending);
    const plan = planHarvest(rec, merged.harvest, merged.digest, keyOf(merged.harvest));
    expect(plan.kind).toBe('duplicate');
    expect(plan.write.metrics).toEqual([]);
    counted(sink, plan.write);
    expectTotalsEqual(sink, merged.harvest);
  });
});

describe('deltaOf', () => {
  const m = (name: string, c: number, t: number, min: number, max: number, ss: number) => ({ name, scope: '', stats: { callCount: c, totalTime: t, exclusiveTime: t, minTime: min, maxTime: max, sumOfSquares: ss } });
  it('subtracts counts, totals and squares, keeps the merged min and max, leaves unchanged metrics out', () => {
    const prev = [m('A', 2, 0.5, 0.2, 0.3, 0.13), m('B', 1, 1, 1, 1, 1)];
    const next = [m('A', 5, 2, 0.1, 0.9, 1.19), m('B', 1, 1, 1, 1, 1), m('C', 1, 3, 3, 3, 9)];
    const d = deltaOf(prev, next)!;
    expect(d.map((x) => x.name)).toEqual(['A', 'C']);
    expect(d[0]!.stats.callCount).toBe(3);
    expect(d[0]!.stats.totalTime).toBeCloseTo(1.5, 12);
    expect(d[0]!.stats.sumOfSquares).toBeCloseTo(1.06, 12);
    expect([d[0]!.stats.minTime, d[0]!.stats.maxTime]).toEqual([0.1, 0.9]);
  });
  it('is undefined when a metric disappears or a count goes down', () => {
    expect(deltaOf([m('A', 2, 1, 0, 1, 1)], [m('B', 1, 1, 1, 1, 1)])).toBeUndefined();
    expect(deltaOf([m('A', 2, 1, 0, 1, 1)], [m('A', 1, 1, 0, 1, 1)])).toBeUndefined();
  });
});
