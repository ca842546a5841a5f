import type { WriteRow } from '../../lib/shard/shard-writer-types.js';
import { mergeInto, rowKey, timesliceRow, type TimesliceRow } from '../../lib/timeslice/timeslice.js';
import type { HarvestMetric } from './metric-data.js';

/** Where one application's copy of a piece goes. */
export interface ApplicationTarget {
  agentId: number;
  applicationAgentId: number;
  /** Metric ids for the piece's metrics, same order (after the per-application overflow fold). */
  metricIds: readonly number[];
}

/**
 * The minute rows of one harvest piece: per application the agent named, one row per metric for the
 * agent, naming the application's pseudo-agent (WriteRow.applicationAgentId): the application-wide row
 * is derived by the minute seal, not written per harvest. Rows that land on the same key (names folded
 * into Overflow/MetricNames) are merged here. Pure; the stats objects of `metrics` are copied, never mutated.
 */
export function harvestRows(metrics: readonly HarvestMetric[], period: number, targets: readonly ApplicationTarget[]): WriteRow[] {
  const out: WriteRow[] = [];
  // Targets of distinct applications have distinct agents; a repeated one would repeat keys.
  let folded = new Set(targets.map((t) => t.agentId)).size !== targets.length;
  for (const target of targets) {
    if (target.metricIds.length !== metrics.length) throw new Error('BUG: one metric id per metric expected');
    if (new Set(target.metricIds).size !== target.metricIds.length) folded = true;
    for (let i = 0; i < metrics.length; i++) {
      out.push({ kind: 'minute', t: period, row: timesliceRow(metrics[i]!.stats, target.metricIds[i]!, target.agentId, period), applicationAgentId: target.applicationAgentId });
    }
  }
  // Keys repeat only when names were folded into the overflow metric: merge those (rare) rows.
  return folded ? mergeRows(out) : out;
}

function mergeRows(rows: WriteRow[]): WriteRow[] {
  const byKey = new Map<string, WriteRow>();
  for (const w of rows) {
    const key = rowKey(w.row.metricId, w.row.agentId, w.row.period);
    const seen = byKey.get(key);
    if (seen) mergeInto(seen.row, w.row);
    else byKey.set(key, w);
  }
  return [...byKey.values()];
}
