import { mergeInto, stdDevOf, type Timeslice } from '../lib/timeslice/timeslice.js';
import type { MetricSeries } from './series-reader.js';

/**
 * Pure arithmetic from timeslices to chart values. Every function returns null for "no data"
 * (charts draw a gap), never a made-up zero.
 */

/**
 * Minutes a bucket stands for when turning counts into per-minute rates: the whole bucket, except
 * the bucket holding `now`, which counts only its elapsed part (at least one minute) so the newest
 * point is not diluted by time that has not happened yet. Null for a bucket wholly in the future.
 */
export function bucketMinutes(start: number, step: number, now: number): number | null {
  if (start >= now) return null;
  const end = Math.min(start + step, now);
  return Math.max(60, end - start) / 60;
}

/** Calls per minute. */
export function perMinute(t: Timeslice | undefined, start: number, step: number, now: number): number | null {
  const minutes = bucketMinutes(start, step, now);
  if (t === undefined || minutes === null) return null;
  return t.callCount / minutes;
}

/** Mean seconds per call (total / count). */
export function meanOrNull(t: Timeslice | undefined): number | null {
  return t !== undefined && t.callCount > 0 ? t.totalTime / t.callCount : null;
}

/** Apdex score (satisfied + tolerating / 2) / all, from an Apdex timeslice (slots reused). */
export function apdexScore(t: Timeslice | undefined): number | null {
  if (t === undefined) return null;
  const all = t.callCount + t.totalTime + t.exclusiveTime;
  return all > 0 ? (t.callCount + t.totalTime / 2) / all : null;
}

/** Sum over a component's time per request of the parent metric (e.g. database seconds per web request). */
export function perCall(component: Timeslice | undefined, parent: Timeslice | undefined): number | null {
  if (parent === undefined || parent.callCount <= 0) return null;
  return (component?.totalTime ?? 0) / parent.callCount;
}

/** Every bucket of a series merged into one timeslice (exact), or undefined when it has none. */
export function mergeSeries(s: MetricSeries | undefined): Timeslice | undefined {
  if (!s || s.size === 0) return undefined;
  let out: Timeslice | undefined;
  for (const t of s.values()) {
    if (!out) out = { ...t };
    else mergeInto(out, t);
  }
  return out;
}

/** Minutes of [from, to) that have happened by `now` (at least one), for window-wide rates. */
export function windowMinutes(from: number, to: number, now: number): number {
  return Math.max(60, Math.min(to, now) - from) / 60;
}

/** Population standard deviation per call, seconds (see lib/timeslice stdDevOf); null without calls. */
export function stdDevOrNull(t: Timeslice | undefined): number | null {
  return t !== undefined && t.callCount > 0 ? stdDevOf(t) : null;
}
