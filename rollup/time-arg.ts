import { InputError } from '../lib/errors.js';

const ISO = /^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,3})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$/;

/**
 * A time given on the command line (`--until`): Unix seconds, or an ISO 8601 date or date-time, read
 * as UTC unless it carries an offset. Returns Unix seconds; undefined when the option is absent.
 */
export function timeArg(value: string | boolean | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === 'string' ? value.trim() : '';
  if (/^[0-9]{1,11}$/.test(text)) return Number(text);
  const zoned = text.includes('T') && !/(Z|[+-][0-9]{2}:[0-9]{2})$/.test(text) ? `${text}Z` : text;
  const ms = ISO.test(text) && realDate(text) ? Date.parse(zoned) : NaN;
  if (!Number.isFinite(ms)) {
    throw new InputError(`cannot read ${what}: expected Unix seconds or an ISO 8601 time such as 2024-03-01T12:00Z, got ${JSON.stringify(value)}`);
  }
  return Math.floor(ms / 1000);
}

/** Date.parse rolls 2024-02-30 over to March 1; refuse such dates instead. */
function realDate(text: string): boolean {
  const [y, m, d] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  const back = new Date(Date.UTC(y, m - 1, d));
  return back.getUTCMonth() === m - 1 && back.getUTCDate() === d;
}
