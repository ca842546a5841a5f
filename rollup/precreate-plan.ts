import { HOUR } from './table-state.js';

/**
 * Pure: which accounts get their next hour's minute table now, so the first harvest of an hour costs
 * what any other does (no CREATE TABLE while agents wait at the top of the hour).
 *
 * The last `windowMinutes` minutes before the next hour are the window; by the end of its k-th minute
 * (k = 0 … windowMinutes − 1) the first ⌈active × (k + 1) / windowMinutes⌉ active accounts (by id) have
 * their table, so the creations are spread evenly over the window (a shard of 1,500 accounts creates
 * 150 tables a minute with the default 10), and a run that was missed is caught up by the next one.
 * Accounts already holding the table are skipped; before the window, and with windowMinutes 0, nothing.
 */
export interface PrecreateInput {
  /** Unix seconds. */
  now: number;
  windowMinutes: number;
  /** Accounts that wrote minute rows in the current or the previous hour. */
  active: readonly number[];
  /** Accounts whose next-hour minute table is registered already. */
  existing: ReadonlySet<number>;
}

export interface PrecreatePlan {
  /** Start of the hour whose tables are made. */
  hour: number;
  accounts: number[];
}

export function nextHourStart(now: number): number {
  return Math.floor(now / HOUR) * HOUR + HOUR;
}

export function planPrecreate(i: PrecreateInput): PrecreatePlan {
  const hour = nextHourStart(i.now);
  const windowStart = hour - Math.max(0, i.windowMinutes) * 60;
  if (i.windowMinutes <= 0 || i.now < windowStart) return { hour, accounts: [] };
  const slot = Math.min(i.windowMinutes - 1, Math.floor((i.now - windowStart) / 60));
  const active = [...new Set(i.active)].sort((a, b) => a - b);
  const dueByNow = Math.ceil((active.length * (slot + 1)) / i.windowMinutes);
  return { hour, accounts: active.slice(0, dueByNow).filter((a) => !i.existing.has(a)) };
}
