import type { Timeslice } from '../lib/timeslice/timeslice.js';

/**
 * Browser Apdex of one page view with threshold T (seconds): satisfied when the page loaded within T,
 * tolerating within 4T, frustrated beyond. Apdex slots (lib/timeslice/timeslice.ts): callCount =
 * satisfied, totalTime = tolerating, exclusiveTime = frustrated, minTime = maxTime = T, sumOfSquares = 0.
 */
export function browserApdexOf(pageLoadSeconds: number, apdexT: number): Timeslice {
  const satisfied = pageLoadSeconds <= apdexT ? 1 : 0;
  const tolerating = !satisfied && pageLoadSeconds <= 4 * apdexT ? 1 : 0;
  return {
    callCount: satisfied,
    totalTime: tolerating,
    exclusiveTime: 1 - satisfied - tolerating,
    minTime: apdexT,
    maxTime: apdexT,
    sumOfSquares: 0,
  };
}
