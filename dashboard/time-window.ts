import { InputError } from '../lib/errors.js';

/**
 * The time window a chart shows: [from, to) in Unix seconds UTC. Chosen either as one of the presets
 * (`last=30m|3h|24h|7d|30d|1y`, ending now) or as explicit `from`/`to` (Unix seconds or ISO 8601).
 */
export interface TimeWindow {
  from: number;
  to: number;
}

/** Preset lengths in seconds, in the order the UI offers them. */
export const WINDOW_PRESETS: Readonly<Record<string, number>> = Object.freeze({
  '30m': 1800,
  '3h': 3 * 3600,
  '24h': 24 * 3600,
  '7d': 7 * 86400,
  '30d': 30 * 86400,
  '1y': 365 * 86400,
});

export const DEFAULT_PRESET = '30m';
/** Longest explicit window: ten years (the day tables keep data for ever on some plans). */
export const MAX_WINDOW_SECONDS = 10 * 366 * 86400;
/** How far past now a window may end (clock skew between the browser and the server). */
export const MAX_FUTURE_SECONDS = 86400;

export interface WindowQuery {
  last?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

/** Parses the window of a request; throws InputError naming the bad parameter. `now` in Unix seconds. */
export function parseTimeWindow(q: WindowQuery, now: number): TimeWindow {
  const hasRange = q.from !== undefined || q.to !== undefined;
  if (q.last !== undefined && hasRange) {
    throw new InputError('cannot read time window: give either last or from/to, not both');
  }
  if (!hasRange) {
    const name = q.last ?? DEFAULT_PRESET;
    const seconds = WINDOW_PRESETS[name];
    if (seconds === undefined) {
      throw new InputError(`cannot read time window: last=${JSON.stringify(name)} is not one of ${Object.keys(WINDOW_PRESETS).join(', ')}`);
    }
    const to = Math.floor(now);
    return { from: to - seconds, to };
  }
  if (q.from === undefined || q.to === undefined) {
    throw new InputError('cannot read time window: from and to must be given together');
  }
  const from = parseInstant('from', q.from);
  const to = parseInstant('to', q.to);
  if (to <= from) throw new InputError(`cannot read time window: to (${to}) must be after from (${from})`);
  if (to - from > MAX_WINDOW_SECONDS) {
    throw new InputError(`cannot read time window: ${to - from} s is longer than the limit of ${MAX_WINDOW_SECONDS} s`);
  }
  if (to > now + MAX_FUTURE_SECONDS) throw new InputError(`cannot read time window: to (${to}) is more than a day in the future`);
  return { from, to };
}

/** Unix seconds (digits) or an ISO 8601 date-time with a zone (`2026-11-23T10:00:00Z`). */
function parseInstant(name: string, raw: string): number {
  const s = raw.trim();
  let t: number;
  if (/^[0-9]{1,11}$/.test(s)) t = Number(s);
  else if (/^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:?[0-9]{2})$/.test(s)) t = Math.floor(Date.parse(s) / 1000);
  else t = Number.NaN;
  if (!Number.isFinite(t)) {
    throw new InputError(`cannot read time window: ${name}=${JSON.stringify(raw.slice(0, 40))} is neither Unix seconds nor an ISO 8601 time with a zone`);
  }
  return t;
}
