import { mergeInto, type TimesliceRow } from './timeslice.js';

/**
 * Merges rows that share (metric, agent, period), keyed by numbers (no per-row string keys: this
 * runs for every row the writer commits). Keys are nested agent → period → metric, the way rows
 * arrive (a harvest is one agent and one minute of many metrics), so one map per (agent, minute)
 * holds its metrics instead of one map per row. A row is held as given until a second row of its key
 * comes: only then is it copied (and merged into the copy), so the caller's rows are never mutated
 * and rows with distinct keys (the usual batch) are never copied.
 */
export class RowMerger {
  readonly #byAgent = new Map<number, Map<number, Map<number, number>>>();
  readonly #order: TimesliceRow[] = [];
  /** Per position of #order: the row there is this merger's own copy (merging into it is allowed). */
  readonly #owned: boolean[] = [];
  /** How many add() calls merged into an existing row (0: every row is one caller's row, unchanged). */
  merged = 0;

  /** Adds `row`, or (with `agentId`) the same values under another agent (an application's pseudo-agent). */
  add(row: TimesliceRow, agentId = row.agentId): void {
    let byPeriod = this.#byAgent.get(agentId);
    if (!byPeriod) this.#byAgent.set(agentId, (byPeriod = new Map()));
    let byMetric = byPeriod.get(row.period);
    if (!byMetric) byPeriod.set(row.period, (byMetric = new Map()));
    const at = byMetric.get(row.metricId);
    if (at !== undefined) {
      if (!this.#owned[at]) {
        this.#order[at] = { ...this.#order[at]! };
        this.#owned[at] = true;
      }
      mergeInto(this.#order[at]!, row);
      this.merged++;
      return;
    }
    const own = agentId !== row.agentId;
    byMetric.set(row.metricId, this.#order.length);
    this.#order.push(own ? { ...row, agentId } : row);
    this.#owned.push(own);
  }

  /** The merged rows, in the order their keys were first seen (rows never merged are the caller's own objects). */
  rows(): TimesliceRow[] {
    return this.#order;
  }

  get size(): number {
    return this.#order.length;
  }
}
