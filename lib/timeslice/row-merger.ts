import { mergeInto, type TimesliceRow } from './timeslice.js';

/**
 * Merges rows that share (metric, agent, period), keyed by numbers (no per-row string keys: this
 * runs for every row the writer commits). add() copies a row the first time it sees its key and
 * merges later ones into that copy; the caller's rows are never mutated.
 */
export class RowMerger {
  readonly #byMetric = new Map<number, Map<number, Map<number, TimesliceRow>>>();
  readonly #order: TimesliceRow[] = [];
  /** How many add() calls merged into an existing row (0: every row is a copy of one caller's row). */
  merged = 0;

  /** Adds `row`, or (with `agentId`) the same values under another agent (an application's pseudo-agent). */
  add(row: TimesliceRow, agentId = row.agentId): void {
    let byAgent = this.#byMetric.get(row.metricId);
    if (!byAgent) this.#byMetric.set(row.metricId, (byAgent = new Map()));
    let byPeriod = byAgent.get(agentId);
    if (!byPeriod) byAgent.set(agentId, (byPeriod = new Map()));
    const have = byPeriod.get(row.period);
    if (have) {
      mergeInto(have, row);
      this.merged++;
      return;
    }
    const copy = agentId === row.agentId ? { ...row } : { ...row, agentId };
    byPeriod.set(row.period, copy);
    this.#order.push(copy);
  }

  /** The merged rows, in the order their keys were first seen. */
  rows(): TimesliceRow[] {
    return this.#order;
  }

  get size(): number {
    return this.#order.length;
  }
}
