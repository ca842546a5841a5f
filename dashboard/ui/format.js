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

/** The user's choice of time zone for axes and times: 'utc' or 'local' (kept in localStorage). */
export function timeZoneMode() {
  try {
    return localStorage.getItem('apm.tz') === 'utc' ? 'utc' : 'local';
  } catch {
    return 'local';
  }
}

/** @param {'utc'|'local'} mode */
export function setTimeZoneMode(mode) {
  try {
    localStorage.setItem('apm.tz', mode);
  } catch {
    // private mode: the choice lasts for this page only
  }
}

/** "UTC" or "local, Europe/Berlin": how times are shown. */
export function timeZoneLabel() {
  return timeZoneMode() === 'utc' ? 'UTC' : `local, ${Intl.DateTimeFormat().resolvedOptions().timeZone || 'browser time'}`;
}

/** @param {number} t Unix seconds */
export function when(t) {
  const opts = /** @type {Intl.DateTimeFormatOptions} */ ({ dateStyle: 'medium', timeStyle: 'short' });
  if (timeZoneMode() === 'utc') opts.timeZone = 'UTC';
  return new Date(t * 1000).toLocaleString([], opts);
}

/** A country code as a name ("DE" → "Germany"); 'ZZ' (loopback, private or unknown addresses) → "Unknown". @param {string} cc */
export function countryName(cc) {
  if (cc === 'ZZ' || !/^[A-Z]{2}$/.test(cc)) return 'Unknown';
  try {
    return new Intl.DisplayNames(['en'], { type: 'region' }).of(cc) ?? cc;
  } catch {
    return cc;
  }
}

/** Scales an array of API values, keeping nulls. @param {Array<number|null>} a @param {number} k */
export const scaled = (a, k) => a.map((v) => (v == null ? null : v * k));
