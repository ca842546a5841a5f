// @ts-check
// Formatting of values for tiles, tables, axes and legends. API values: seconds, per-minute rates,
// fractions (error rate) and scores; shown as ms, rpm, % and scores.

/** @param {number | null | undefined} v */
export const ms = (v) => (v == null ? '–' : `${fixed(v * 1000)} ms`);
/** @param {number | null | undefined} v */
export const rpm = (v) => (v == null ? '–' : `${fixed(v)} rpm`);
/** @param {number | null | undefined} v */
export const ppm = (v) => (v == null ? '–' : `${fixed(v)} ppm`);
/** @param {number | null | undefined} v */
export const pct = (v) => (v == null ? '–' : `${fixed(v * 100)} %`);
/** @param {number | null | undefined} v */
export const score = (v) => (v == null ? '–' : v.toFixed(2));
/** @param {number | null | undefined} v */
export const count = (v) => (v == null ? '–' : Math.round(v).toLocaleString());

/** @param {number} v */
export function fixed(v) {
  const a = Math.abs(v);
  if (a >= 100) return Math.round(v).toLocaleString();
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  if (a === 0) return '0';
  return v.toPrecision(2);
}

/** @param {number} t Unix seconds */
export function when(t) {
  return new Date(t * 1000).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

/** Scales an array of API values, keeping nulls. @param {Array<number|null>} a @param {number} k */
export const scaled = (a, k) => a.map((v) => (v == null ? null : v * k));
