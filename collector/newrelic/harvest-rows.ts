import { mergeInto, rowKey, type Timeslice, type TimesliceRow } from '../../lib/timeslice/timeslice.js';
import type { HarvestMetric } from './metric-data.js';

/** Where one application's copy of a piece goes. */
export interface ApplicationTarget {
  agentId: number;
  applicationAgentId: number;
  /** Metric ids for the piece's metrics, same order (after the per-application overflow fold). */
  metricIds: readonly number[];
}

/**
 * The minute rows of one harvest piece: per application the agent named, one row per metric for
 * the agent and one for the application-wide pseudo-agent (merged across agents by the upsert).
 * Rows that land on the same key (names folded into Overflow/MetricNames) are merged here.
 * Pure; the stats objects of `metrics` are copied, never mutated.
 */
export function harvestRows(metrics: readonly HarvestMetric[], period: number, targets: readonly ApplicationTarget[]): TimesliceRow[] {
  const out: TimesliceRow[] = [];
  // Targets of distinct applications have distinct agents; a repeated one would repeat keys.
  let folded = new Set(targets.flatMap((t) => [t.agentId, t.applicationAgentId])).size !== targets.length * 2;
  for (const target of targets) {
    if (target.metricIds.length !== metrics.length) throw new Error('BUG: one metric id per metric expected');
    if (new Set(target.metricIds).size !== target.metricIds.length) folded = true;
    for (let i = 0; i < metrics.length; i++) {
      const metricId = target.metricIds[i]!;
      out.push(rowOf(metrics[i]!.stats, metricId, target.agentId, period), rowOf(metrics[i]!.stats, metricId, target.applicationAgentId, period));
    }
  }
  // Keys repeat only when names were folded into the overflow metric: merge those (rare) rows.
  return folded ? mergeRows(out) : out;
}

function mergeRows(rows: TimesliceRow[]): TimesliceRow[] {
  const byKey = new Map<string, TimesliceRow>();
  for (const r of rows) {
    const key = rowKey(r.metricId, r.agentId, r.period);
    const seen = byKey.get(key);
    if (seen) mergeInto(seen, r);
    else byKey.set(key, r);
  }
  return [...byKey.values()];
}

/** One row, built field by field (this runs twice per metric of every harvest). */
function rowOf(s: Timeslice, metricId: number, agentId: number, period: number): TimesliceRow {
  return {
    metricId,
    agentId,
    period,
    callCount: s.callCount,
    totalTime: s.totalTime,
    exclusiveTime: s.exclusiveTime,
    minTime: s.minTime,
    maxTime: s.maxTime,
    sumOfSquares: s.sumOfSquares,
  };
}
