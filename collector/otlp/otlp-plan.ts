import { timesliceProblem } from '../../lib/timeslice/timeslice-bounds.js';
import type { Timeslice } from '../../lib/timeslice/timeslice.js';
import { attributedMetricName, attributesText, instrumentMetricName } from './otlp-attributes.js';
import type { BucketCounts } from '../../lib/distribution/log-buckets.js';
import { countsOfDistribution } from './otlp-dists.js';
import { diffDistribution, distributionTimeslice as timesliceOfDistribution, stateOf, type Distribution } from './otlp-distribution.js';
import type { DecodedExport, DistributionPoint, NumberPoint, OtlpMetric, Rejection, ResourceIdentity } from './otlp-model.js';
import { GAUGE_RECENT_TIMES, type SeriesEntry, type SeriesTxn } from './otlp-series-state.js';

/**
 * Decoded export → per-minute timeslice contributions, through the temporality state (pure apart
 * from the transaction it is given). A point belongs to the minute of its end time. Each
 * contribution goes to the instrument's merged name and to its attribute set's name.
 */

export interface PlannedRow {
  /** Index into export.resources. */
  resource: number;
  /** Metric names, merged name first. */
  names: string[];
  /** Minute start, Unix seconds. */
  minute: number;
  slice: Timeslice;
  /** A histogram's observations in the stored distribution scheme (percentiles), see otlp-dists.ts. */
  dist?: BucketCounts;
}

export interface PlanOutcome {
  rows: PlannedRow[];
  /** Points that produced rows. */
  written: number;
  /** First points of cumulative series this receiver cannot delta yet (kept as the baseline). */
  baseline: number;
  /** Points already accounted for (resent cumulative or identical gauge samples). */
  duplicate: number;
  /** Distribution points with no new observations. */
  empty: number;
  /** Points refused while converting (e.g. a cumulative value that went down). */
  rejected: Rejection[];
  /** The distribution of the point just converted (moved into its row). */
  pendingDist?: BucketCounts | undefined;
}

export function minuteOf(timeNs: bigint): number {
  return Number(timeNs / 60_000_000_000n) * 60;
}

/** Identifies a series across exports: account, sender, instrument, attribute set. */
export function seriesId(accountId: number, who: ResourceIdentity, metric: OtlpMetric, attrs: string): string {
  return [accountId, who.serviceName, who.instance ?? '', who.pid, who.language, metric.shape, metric.name, attrs].join('\u0000');
}

export function planExport(exp: DecodedExport, accountId: number, txn: SeriesTxn): PlanOutcome {
  const out: PlanOutcome = { rows: [], written: 0, baseline: 0, duplicate: 0, empty: 0, rejected: [] };
  exp.resources.forEach((resource, r) => {
    for (const metric of resource.metrics) {
      const points = [...metric.points].sort((a, b) => (a.timeNs < b.timeNs ? -1 : a.timeNs > b.timeNs ? 1 : 0));
      for (const p of points) {
        const id = seriesId(accountId, resource.identity, metric, attributesText(p.attributes));
        const slice = sliceOf(metric, p, id, accountId, txn, out);
        if (!slice) continue;
        // After deltas, estimates and merging of buckets: never a value the merge could overflow with.
        const problem = timesliceProblem(slice);
        if (problem !== undefined) {
          out.rejected.push({ metric: metric.name, reason: `out of bounds: ${problem}`, code: 'out_of_bounds' });
          continue;
        }
        const attributed = attributedMetricName(metric.name, p.attributes);
        const names = attributed ? [instrumentMetricName(metric.name), attributed] : [instrumentMetricName(metric.name)];
        const dist = out.pendingDist;
        out.pendingDist = undefined;
        out.rows.push({ resource: r, names, minute: minuteOf(p.timeNs), slice, ...(dist ? { dist } : {}) });
        out.written++;
      }
    }
  });
  return out;
}

function sliceOf(metric: OtlpMetric, p: NumberPoint | DistributionPoint, id: string, accountId: number, txn: SeriesTxn, out: PlanOutcome): Timeslice | undefined {
  if (metric.shape === 'distribution') return distributionSlice(metric, p as DistributionPoint, id, accountId, txn, out);
  const np = p as NumberPoint;
  if (metric.shape === 'gauge') return gaugeSlice(np, id, accountId, txn, out, metric.name);
  if (metric.temporality === 'delta') return valueSlice(np.value);
  return counterSlice(np, id, accountId, txn, out, metric.name);
}

/** An increase (counter) or signed change: one report of `v`. */
export function valueSlice(v: number): Timeslice {
  return { callCount: 1, totalTime: v, exclusiveTime: v, minTime: v, maxTime: v, sumOfSquares: v * v };
}

type CumulativeEntry = Extract<SeriesEntry, { kind: 'counter' | 'distribution' }>;

/**
 * One point of a cumulative series (keyed by series and start time), shared by counters and
 * distributions: it records `next` unless the point is a resend (not newer than the last one:
 * counted as duplicate), and says whether it is the series' first point (counted from its start
 * when the series began after this collector did, else a baseline) or follows `prev`.
 */
function cumulativeStep<E extends CumulativeEntry>(
  next: E,
  id: string,
  p: { startNs: bigint; timeNs: bigint },
  accountId: number,
  txn: SeriesTxn,
  out: PlanOutcome,
): { kind: 'first'; fromStart: boolean } | { kind: 'duplicate' } | { kind: 'next'; prev: E } {
  const key = `c\u0000${id}\u0000${p.startNs}`;
  const prev = txn.get(key);
  if (prev?.kind !== next.kind) {
    txn.set(key, next, accountId, p.startNs);
    const fromStart = txn.store.countsFromStart(accountId, p.startNs);
    if (!fromStart) out.baseline++;
    return { kind: 'first', fromStart };
  }
  if (p.timeNs <= prev.timeNs) {
    out.duplicate++;
    return { kind: 'duplicate' };
  }
  txn.set(key, next, accountId, p.startNs);
  return { kind: 'next', prev: prev as E };
}

function counterSlice(p: NumberPoint, id: string, accountId: number, txn: SeriesTxn, out: PlanOutcome, name: string): Timeslice | undefined {
  const step = cumulativeStep({ kind: 'counter', timeNs: p.timeNs, value: p.value }, id, p, accountId, txn, out);
  if (step.kind === 'first') return step.fromStart ? valueSlice(p.value) : undefined;
  if (step.kind === 'duplicate') return undefined;
  if (p.value < step.prev.value) {
    // Without a start time a drop is the only sign of a reset: the value counts from zero.
    if (p.startNs === 0n) return valueSlice(p.value);
    out.rejected.push({ metric: name, reason: 'cumulative value went down without a new start time', code: 'went_down' });
    return undefined;
  }
  return valueSlice(p.value - step.prev.value);
}

function distributionSlice(metric: OtlpMetric, p: DistributionPoint, id: string, accountId: number, txn: SeriesTxn, out: PlanOutcome): Timeslice | undefined {
  out.pendingDist = undefined;
  const distributionTimeslice = (d: Distribution) => {
    out.pendingDist = countsOfDistribution(d);
    return timesliceOfDistribution(d);
  };
  if (metric.temporality === 'delta') return nonEmpty(p, out) ? distributionTimeslice(p) : undefined;
  const step = cumulativeStep({ kind: 'distribution', timeNs: p.timeNs, state: stateOf(p) }, id, p, accountId, txn, out);
  if (step.kind === 'first') return step.fromStart && nonEmpty(p, out) ? distributionTimeslice(p) : undefined;
  if (step.kind === 'duplicate') return undefined;
  const d = diffDistribution(step.prev.state, p);
  if (typeof d === 'string') {
    if (p.startNs === 0n && p.count < step.prev.state.count) return nonEmpty(p, out) ? distributionTimeslice(p) : undefined;
    out.rejected.push({ metric: metric.name, reason: d, code: 'went_down' });
    return undefined;
  }
  return nonEmpty(d, out) ? distributionTimeslice(d) : undefined;
}

function nonEmpty(d: { count: number }, out: PlanOutcome): boolean {
  if (d.count > 0) return true;
  out.empty++;
  return false;
}

/**
 * A gauge sample: call_count 1, total/min/max/sum of squares of the value, and exclusive_time
 * carrying the minute's LAST value. Rows merge by addition, so exclusive_time is written as the
 * correction (new last − last already written for this series and minute). A sample not newer than
 * the newest one, or at the time of one of the series' recent samples, is a resend and skipped (never
 * counted twice); another older one is out of order: rejected (partialSuccess), since its minute's last slot may hold a later sample.
 */
function gaugeSlice(p: NumberPoint, id: string, accountId: number, txn: SeriesTxn, out: PlanOutcome, metricName: string): Timeslice | undefined {
  const key = `g\u0000${id}`;
  const prev = txn.get(key);
  const minute = minuteOf(p.timeNs);
  const v = p.value;
  if (prev?.kind === 'gauge' && (p.timeNs === prev.timeNs || prev.recent.includes(p.timeNs))) {
    out.duplicate++;
    return undefined;
  }
  if (prev?.kind === 'gauge' && p.timeNs < prev.timeNs) {
    // Its minute's "last" slot may already hold a later sample: not stored, and said so.
    out.rejected.push({ metric: metricName, reason: 'gauge sample is older than the newest sample of its series (out of order)', code: 'out_of_order' });
    return undefined;
  }
  const last = prev?.kind === 'gauge' && prev.minute === minute ? v - prev.last : v;
  const recent = [...(prev?.kind === 'gauge' ? prev.recent : []), p.timeNs].slice(-GAUGE_RECENT_TIMES);
  txn.set(key, { kind: 'gauge', minute, timeNs: p.timeNs, last: v, recent }, accountId, 0n);
  return { callCount: 1, totalTime: v, exclusiveTime: last, minTime: v, maxTime: v, sumOfSquares: v * v };
}
