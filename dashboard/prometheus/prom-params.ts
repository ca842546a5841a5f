import { durationSeconds } from './promql-literals.js';
import { badData } from './prom-error.js';

/**
 * Parameters of the Prometheus HTTP API, parsed as Prometheus parses them: times in Unix seconds
 * (with a fraction) or RFC 3339; durations as seconds (with a fraction) or a PromQL duration.
 * Results are milliseconds.
 */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
/** Prometheus's minimum and maximum times, for `start`/`end` left out of metadata queries. */
export const MIN_TIME = -9223372036854775808 / 1e6;
export const MAX_TIME = 9223372036854775807 / 1e6;

export function parseTime(raw: string, name: string): number {
  const s = raw.trim();
  if (/^[+-]?\d+(\.\d+)?$/.test(s)) {
    const ms = Math.round(Number(s) * 1000);
    if (Number.isFinite(ms)) return ms;
  }
  if (RFC3339.test(s)) {
    const ms = Date.parse(s.toUpperCase());
    if (Number.isFinite(ms)) return ms;
  }
  // Grafana and the Prometheus clients send these for "no bound".
  if (s === '-292273086-05-16T16:47:06Z') return MIN_TIME;
  if (s === '292277025-08-17T07:12:55.807Z') return MAX_TIME;
  throw badData(`invalid parameter "${name}": cannot parse "${raw.slice(0, 64)}" to a valid timestamp`);
}

export function parseDuration(raw: string, name: string): number {
  const s = raw.trim();
  const seconds = durationSeconds(s);
  if (seconds === undefined || !Number.isFinite(seconds)) throw badData(`invalid parameter "${name}": cannot parse "${raw.slice(0, 64)}" to a valid duration`);
  if (seconds < 0) throw badData(`invalid parameter "${name}": duration must not be negative`);
  return Math.round(seconds * 1000);
}

export function timeParam(q: URLSearchParams, name: string, fallback: number): number {
  const raw = q.get(name);
  return raw === null || raw === '' ? fallback : parseTime(raw, name);
}

/** `match[]` selectors (at least one when required). */
export function matchParams(q: URLSearchParams, required: boolean): string[] {
  const all = q.getAll('match[]');
  if (required && all.length === 0) throw badData('no match[] parameter provided');
  if (all.length > 100) throw badData('too many match[] parameters: at most 100');
  return all;
}
