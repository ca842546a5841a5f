import type { Timeslice } from './timeslice.js';

/**
 * Bounds on every value an edge (New Relic, OTLP, beacon) accepts into a timeslice, documented in
 * schema/README.md ("Value bounds"). With every input inside them, no merge in TypeScript or SQL can
 * overflow: a request merges at most a few million inputs into one row (≤ 1e15 × 1e7 = 1e22), a
 * rollup at most a year of rows, all far below the DOUBLE limit (1.8e308), and counts stay exact
 * integers of BIGINT UNSIGNED for any realistic number of merges.
 */

/** Largest count of one input: a non-negative integer below 2^53. */
export const MAX_COUNT = Number.MAX_SAFE_INTEGER;
/** Largest magnitude of a total, exclusive, min or max of one input (seconds, bytes, MB, a level…). */
export const MAX_VALUE = 1e15;
/** Largest sum of squares of one input (MAX_VALUE²). */
export const MAX_SUM_OF_SQUARES = 1e30;

const FIELDS = ['callCount', 'totalTime', 'exclusiveTime', 'minTime', 'maxTime', 'sumOfSquares'] as const;

/**
 * Why a computed timeslice (after unit scaling, deltas, estimates) cannot be stored, or undefined:
 * every field finite and within the bounds above, the count a non-negative integer, min ≤ max.
 */
export function timesliceProblem(t: Timeslice): string | undefined {
  for (const f of FIELDS) {
    const v = t[f];
    if (!Number.isFinite(v)) return `${f} is not a finite number (${v})`;
  }
  if (!Number.isSafeInteger(t.callCount) || t.callCount < 0) return `count ${t.callCount} is not an integer in [0, 2^53)`;
  for (const f of ['totalTime', 'exclusiveTime', 'minTime', 'maxTime'] as const) {
    if (Math.abs(t[f]) > MAX_VALUE) return `${f} ${t[f]} is beyond ±${MAX_VALUE}`;
  }
  if (t.sumOfSquares < 0 || t.sumOfSquares > MAX_SUM_OF_SQUARES) return `sum of squares ${t.sumOfSquares} is not within [0, ${MAX_SUM_OF_SQUARES}]`;
  if (t.minTime > t.maxTime) return `min ${t.minTime} is greater than max ${t.maxTime}`;
  return undefined;
}
