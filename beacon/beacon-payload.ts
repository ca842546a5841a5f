import { BeaconRejection } from './beacon-rejection.js';
import { isSaneTiming, marksProblem, MARK_ORDER, MAX_TIMING_MS, type NavigationMarks } from './page-phases.js';

/**
 * Decoding and validation of one rum.js beacon (payload version 1; the script's header comment is
 * the other half of this contract). Pure: text in, a checked BeaconView out, or a BeaconRejection
 * naming the problem. Unknown fields are ignored so newer scripts still report to older servers.
 */
export interface BeaconView {
  browserKey: string;
  /** Application name from data-app; DEFAULT_APPLICATION when the tag names none. */
  application: string;
  /** location.pathname as the page sent it (page-group.ts normalizes it). */
  path: string;
  marks: NavigationMarks;
  /** Milliseconds after activation, or null when not measured (page hidden, unsupported, no input yet). */
  fcp: number | null;
  lcp: number | null;
  inp: number | null;
  /** Cumulative layout shift score (unitless, >= 0). */
  cls: number;
}

export const DEFAULT_APPLICATION = 'Browser';
export const MAX_KEY_LENGTH = 128;
export const MAX_APPLICATION_LENGTH = 100;
export const MAX_PATH_LENGTH = 2048;
/** CLS is a sum of shift fractions; real pages stay far below this. */
export const MAX_CLS = 100;

const bad = (why: string) => new BeaconRejection('bad_payload', `cannot accept beacon: ${why}`);
const badTiming = (why: string) => new BeaconRejection('bad_timing', `cannot accept beacon: ${why}`);
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function text(o: Record<string, unknown>, field: string, max: number, required: boolean): string {
  const v = o[field];
  if (v === undefined || v === null || v === '') {
    if (required) throw bad(`field "${field}" is missing`);
    return '';
  }
  if (typeof v !== 'string') throw bad(`field "${field}" must be a string`);
  if (v.length > max) throw bad(`field "${field}" is longer than ${max} characters`);
  if (CONTROL.test(v)) throw bad(`field "${field}" contains control characters`);
  return v;
}

function optionalTiming(o: Record<string, unknown>, field: string): number | null {
  const v = o[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number') throw bad(`field "${field}" must be a number or null`);
  if (!isSaneTiming(v)) throw badTiming(`${field} ${v} ms is not within [0, ${MAX_TIMING_MS})`);
  return v;
}

function marksOf(v: unknown): NavigationMarks {
  if (!Array.isArray(v) || v.length !== MARK_ORDER.length) {
    throw bad(`field "m" must be an array of ${MARK_ORDER.length} navigation marks`);
  }
  const marks = {} as NavigationMarks;
  MARK_ORDER.forEach((name, i) => {
    const x: unknown = v[i];
    if (typeof x !== 'number') throw bad(`mark ${name} must be a number`);
    marks[name] = x;
  });
  const problem = marksProblem(marks);
  if (problem) throw badTiming(problem);
  return marks;
}

/** Parses and checks a beacon body (POST) or the `d` query parameter (image GET). */
export function decodeBeacon(body: string): BeaconView {
  let o: unknown;
  try {
    o = JSON.parse(body);
  } catch {
    throw bad('the body is not JSON');
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad('the body is not a JSON object');
  const rec = o as Record<string, unknown>;
  if (rec.v !== 1) throw bad(`payload version ${JSON.stringify(rec.v)} is not supported (expected 1)`);
  const path = text(rec, 'u', MAX_PATH_LENGTH, true);
  if (!path.startsWith('/')) throw bad('field "u" must be a path starting with /');
  const cls = rec.cls ?? 0;
  if (typeof cls !== 'number') throw bad('field "cls" must be a number');
  if (!Number.isFinite(cls) || cls < 0 || cls > MAX_CLS) throw badTiming(`cls ${cls} is not within [0, ${MAX_CLS}]`);
  return {
    browserKey: text(rec, 'k', MAX_KEY_LENGTH, true),
    application: text(rec, 'a', MAX_APPLICATION_LENGTH, false).trim() || DEFAULT_APPLICATION,
    path,
    marks: marksOf(rec.m),
    fcp: optionalTiming(rec, 'fcp'),
    lcp: optionalTiming(rec, 'lcp'),
    inp: optionalTiming(rec, 'inp'),
    cls,
  };
}
