import { mergeInto, rowKey, type TimesliceRow } from '../../lib/timeslice/timeslice.js';
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
  const rows = new Map<string, TimesliceRow>();
  for (const target of targets) {
    if (target.metricIds.length !== metrics.length) throw new Error('BUG: one metric id per metric expected');
    for (let i = 0; i < metrics.length; i++) {
      const metricId = target.metricIds[i]!;
      for (const agentId of [target.agentId, target.applicationAgentId]) {
        const key = rowKey(metricId, agentId, period);
        const seen = rows.get(key);
        if (seen) mergeInto(seen, metrics[i]!.stats);
        else rows.set(key, { ...metrics[i]!.stats, metricId, agentId, period });
      }
    }
  }
  return [...rows.values()];
}
