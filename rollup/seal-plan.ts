import type { DayPeriod, TableState } from './table-state.js';

/**
 * Pure choice of the hour and day tables to mark 'done' ("sealed"): the table's span (a month, a year)
 * has ended at least `graceSeconds` ago and nothing of its account inside that span is still to be
 * rolled — no minute table that is not 'done', no rollup_days row that is not 'done', and for a day
 * table no hour table that is not 'done' after this sealing. Purge only drops sealed tables.
 */
export function planSeals(
  tables: readonly TableState[],
  days: readonly DayPeriod[],
  now: number,
  graceSeconds: number,
): TableState[] {
  const limit = Math.floor(now) - graceSeconds;
  const unrolled = unrolledTimes(tables, days);
  const sealedHours = new Set<string>();
  const seals: TableState[] = [];
  for (const t of tables) {
    if (t.kind !== 'hour' || t.end > limit) continue;
    if (anyWithin(unrolled.get(t.accountId), t.start, t.end)) continue;
    sealedHours.add(t.name);
    if (t.state !== 'done') seals.push(t);
  }
  // Hour tables that stay unsealed hold their day table (year) open.
  const openHours = new Map<number, number[]>();
  for (const h of tables) {
    if (h.kind !== 'hour' || h.state === 'done' || sealedHours.has(h.name)) continue;
    openHours.set(h.accountId, [...(openHours.get(h.accountId) ?? []), h.start]);
  }
  for (const t of tables) {
    if (t.kind !== 'day' || t.state === 'done' || t.end > limit) continue;
    if (anyWithin(unrolled.get(t.accountId), t.start, t.end)) continue;
    if (!anyWithin(openHours.get(t.accountId), t.start, t.end)) seals.push(t);
  }
  return seals;
}

/** Per account, the start times of minute tables and days that are not rolled yet. */
export function unrolledTimes(tables: readonly TableState[], days: readonly DayPeriod[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  const add = (accountId: number, t: number) => {
    const list = out.get(accountId);
    if (list) list.push(t);
    else out.set(accountId, [t]);
  };
  for (const t of tables) if (t.kind === 'minute' && t.state !== 'done') add(t.accountId, t.start);
  for (const d of days) if (d.state !== 'done') add(d.accountId, d.day);
  return out;
}

export function anyWithin(times: readonly number[] | undefined, start: number, end: number): boolean {
  return times !== undefined && times.some((t) => t >= start && t < end);
}
