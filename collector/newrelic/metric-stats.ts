import { InputError } from '../../lib/errors.js';
import { MAX_SUM_OF_SQUARES, MAX_VALUE } from '../../lib/timeslice/timeslice-bounds.js';
import type { Timeslice } from '../../lib/timeslice/timeslice.js';

/**
 * The six statistics of one New Relic metric, checked against the bounds documented in
 * schema/README.md ("Value bounds"). Every rule names the slot that breaks it:
 * - every slot a finite number; the call count an integer in [0, 2^53);
 * - total, exclusive, min, max in [0, 1e15]; sum of squares in [0, 1e30];
 * - min ≤ max;
 * - exclusive ≤ total, except for byte metrics (`…/Output/Bytes`), whose exclusive slot holds another size;
 * - with calls, the sum of squares consistent with them: total²/count ≤ sum of squares ≤ count × max²
 *   (relative tolerance 1e-6 for rounding);
 * - Apdex metrics (`Apdex`, `Apdex/…`): satisfied, tolerating and frustrated (count, total, exclusive)
 *   whole numbers; the two rules above do not apply to them.
 */
const SLOTS = ['call count', 'total time', 'exclusive time', 'min', 'max', 'sum of squares'] as const;
const TOLERANCE = 1e-6;

const fail = (why: string) => new InputError(`cannot accept metric_data: ${why}`);

export function isApdexName(name: string): boolean {
  return name === 'Apdex' || name.startsWith('Apdex/');
}

/** `[count, total, exclusive, min, max, sumOfSquares]` of metric `name`; `what()` names it in messages (built only for one). */
export function parseStats(stats: unknown, name: string, what: () => string): Timeslice {
  if (!Array.isArray(stats) || stats.length !== 6) throw fail(`${what()}: stats must be [count, total, exclusive, min, max, sum_of_squares]`);
  const callCount = finite(stats, 0, what);
  const totalTime = finite(stats, 1, what);
  const exclusiveTime = finite(stats, 2, what);
  const minTime = finite(stats, 3, what);
  const maxTime = finite(stats, 4, what);
  const sumOfSquares = finite(stats, 5, what);
  if (callCount < 0) throw fail(`${what()}: call count ${callCount} is negative`);
  if (!Number.isSafeInteger(callCount)) throw fail(`${what()}: call count ${callCount} is not a whole number below 2^53`);
  // Times: each in [0, MAX_VALUE] (one comparison pair a slot; the message names the slot that broke).
  if (!(totalTime >= 0 && totalTime <= MAX_VALUE && exclusiveTime >= 0 && exclusiveTime <= MAX_VALUE && minTime >= 0 && minTime <= MAX_VALUE && maxTime >= 0 && maxTime <= MAX_VALUE)) {
    const values = [totalTime, exclusiveTime, minTime, maxTime];
    for (let k = 0; k < 4; k++) {
      if (values[k]! < 0) throw fail(`${what()}: ${SLOTS[k + 1]} ${values[k]} is negative`);
      if (values[k]! > MAX_VALUE) throw fail(`${what()}: ${SLOTS[k + 1]} ${values[k]} is above the maximum ${MAX_VALUE}`);
    }
  }
  if (sumOfSquares < 0) throw fail(`${what()}: sum of squares ${sumOfSquares} is negative`);
  if (sumOfSquares > MAX_SUM_OF_SQUARES) throw fail(`${what()}: sum of squares ${sumOfSquares} is above the maximum ${MAX_SUM_OF_SQUARES}`);
  if (minTime > maxTime) throw fail(`${what()}: min ${minTime} is greater than max ${maxTime}`);
  if (isApdexName(name)) {
    if (!Number.isInteger(totalTime) || !Number.isInteger(exclusiveTime)) {
      throw fail(`${what()}: Apdex tolerating (total time ${totalTime}) and frustrated (exclusive time ${exclusiveTime}) must be whole numbers`);
    }
  } else {
    if (exclusiveTime > totalTime * (1 + TOLERANCE) && !name.includes('/Output/Bytes')) {
      throw fail(`${what()}: exclusive time ${exclusiveTime} is greater than total time ${totalTime}`);
    }
    if (callCount > 0) {
      const least = (totalTime * totalTime) / callCount;
      const most = callCount * maxTime * maxTime;
      if (sumOfSquares < least * (1 - TOLERANCE) - 1e-12 || sumOfSquares > most * (1 + TOLERANCE) + 1e-12) {
        throw fail(`${what()}: sum of squares ${sumOfSquares} is inconsistent with ${callCount} calls of total ${totalTime} and max ${maxTime} (must lie in [total²/count, count × max²])`);
      }
    }
  }
  return { callCount, totalTime, exclusiveTime, minTime, maxTime, sumOfSquares };
}

/** Slot `k` of `stats`, which must be a finite number. */
function finite(stats: readonly unknown[], k: number, what: () => string): number {
  const v = stats[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw fail(`${what()}: ${SLOTS[k]} must be a finite number, got ${JSON.stringify(v) ?? 'undefined'}`);
  return v;
}
