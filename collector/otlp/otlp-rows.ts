import type { WriteRow } from '../../lib/shard/shard-writer.js';
import { mergeInto, rowKey, timesliceRow } from '../../lib/timeslice/timeslice.js';
import type { PlannedRow } from './otlp-plan.js';

/** Database ids of one resource of the export. */
export interface ResolvedResource {
  /**
   * The agent's id (when the resource names an instance), then the application pseudo-agent's.
   * Minute rows go to the first only (the agent's carry the pseudo-agent as applicationAgentId: the
   * minute seal derives the application row); distributions go to every one (otlp-dists.ts).
   */
  agentIds: number[];
  /** Metric name → id (possibly the overflow id). */
  metricIds: ReadonlyMap<string, number>;
}

/** Metric names of a resource in the order to register them: merged names first, so they win the bound. */
export function namesInOrder(rows: readonly PlannedRow[], resource: number): string[] {
  const merged = new Set<string>();
  const attributed = new Set<string>();
  for (const r of rows) {
    if (r.resource !== resource) continue;
    merged.add(r.names[0]!);
    for (const n of r.names.slice(1)) attributed.add(n);
  }
  return [...merged, ...[...attributed].filter((n) => !merged.has(n))];
}

/**
 * Planned contributions → minute rows for the writer: each contribution goes to every name of its
 * resource, for the resource's agent (which names its application's pseudo-agent, see WriteRow) or,
 * for a resource without an instance, for the pseudo-agent itself; merged exactly per (metric,
 * agent, minute). Two names folded into the same overflow id merge too.
 */
export function buildRows(planned: readonly PlannedRow[], resolved: readonly ResolvedResource[]): WriteRow[] {
  const rows = new Map<string, WriteRow>();
  for (const p of planned) {
    const ids = resolved[p.resource];
    if (!ids) throw new Error(`BUG: resource ${p.resource} has no resolved ids`);
    for (const name of p.names) {
      const metricId = ids.metricIds.get(name);
      if (metricId === undefined) throw new Error(`BUG: metric ${name} has no id`);
      const agentId = ids.agentIds[0]!;
      const k = rowKey(metricId, agentId, p.minute);
      const w = rows.get(k);
      if (w) mergeInto(w.row, p.slice);
      else {
        const row = timesliceRow(p.slice, metricId, agentId, p.minute);
        rows.set(k, ids.agentIds.length > 1 ? { kind: 'minute', t: p.minute, row, applicationAgentId: ids.agentIds[ids.agentIds.length - 1]! } : { kind: 'minute', t: p.minute, row });
      }
    }
  }
  return [...rows.values()];
}
