/**
 * A timeslice: what one metric measured over one period (a minute, an hour or a day) for one agent.
 * Times are in seconds, as the New Relic agent sends them. Merging is exact and associative:
 * counts, totals and sums of squares add, min takes the least, max the greatest. The SQL upserts
 * (lib/shard/shard-writer-sql.ts), the rollups and the dashboard's reads are generated from the column
 * table in lib/timeslice/timeslice-columns.ts and compute exactly the same.
 *
 * Apdex metrics reuse the slots: callCount = satisfied, totalTime = tolerating,
 * exclusiveTime = frustrated, minTime = maxTime = the threshold T in seconds, sumOfSquares = 0.
 */
export interface Timeslice {
  /** How many calls; an integer >= 0. */
  callCount: number;
  totalTime: number;
  exclusiveTime: number;
  minTime: number;
  maxTime: number;
  sumOfSquares: number;
}

/** A timeslice addressed to a row of a per-period table: (metric, agent, period start). */
export interface TimesliceRow extends Timeslice {
  metricId: number;
  /** The agent's id, or APPLICATION_AGENT_ID-style pseudo-agent id for application-wide rows. */
  agentId: number;
  /** Period start as Unix seconds (UTC), aligned to the table's kind (minute, hour or day). */
  period: number;
}

/**
 * The row of `s` for (metric, agent, period), built field by field in one order, so every row the
 * writer reads has one shape: rows spread from stats of mixed field kinds (an Apdex row's integral
 * times among others' fractions) then given their keys read ~20 times slower in the writer's
 * bulkGroups (measured: 2 against 0.11 µs a row), keys first then a spread ~1.5 times. Collectors make
 * one for every metric of every harvest (docs/benchmark.md, "A slower machine…").
 */
export function timesliceRow(s: Timeslice, metricId: number, agentId: number, period: number): TimesliceRow {
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

export function mergeTimeslices(a: Timeslice, b: Timeslice): Timeslice {
  return {
    callCount: a.callCount + b.callCount,
    totalTime: a.totalTime + b.totalTime,
    exclusiveTime: a.exclusiveTime + b.exclusiveTime,
    minTime: Math.min(a.minTime, b.minTime),
    maxTime: Math.max(a.maxTime, b.maxTime),
    sumOfSquares: a.sumOfSquares + b.sumOfSquares,
  };
}

/** Merges b into a in place (for hot aggregation loops that own `a`). */
export function mergeInto(a: Timeslice, b: Timeslice): void {
  a.callCount += b.callCount;
  a.totalTime += b.totalTime;
  a.exclusiveTime += b.exclusiveTime;
  if (b.minTime < a.minTime) a.minTime = b.minTime;
  if (b.maxTime > a.maxTime) a.maxTime = b.maxTime;
  a.sumOfSquares += b.sumOfSquares;
}

/** One observed duration (seconds) as a timeslice of one call. */
export function timesliceOf(seconds: number, exclusiveSeconds = seconds): Timeslice {
  return {
    callCount: 1,
    totalTime: seconds,
    exclusiveTime: exclusiveSeconds,
    minTime: seconds,
    maxTime: seconds,
    sumOfSquares: seconds * seconds,
  };
}

/** Mean per call in seconds; 0 when there were no calls. */
export function meanOf(t: Timeslice): number {
  return t.callCount > 0 ? t.totalTime / t.callCount : 0;
}

/** Population standard deviation per call in seconds; 0 when there were no calls. */
export function stdDevOf(t: Timeslice): number {
  if (t.callCount <= 0) return 0;
  const mean = t.totalTime / t.callCount;
  const variance = t.sumOfSquares / t.callCount - mean * mean;
  return variance > 0 ? Math.sqrt(variance) : 0;
}

/** Key of a row inside one table, for in-memory aggregation maps. */
export function rowKey(metricId: number, agentId: number, period: number): string {
  return `${metricId}:${agentId}:${period}`;
}
