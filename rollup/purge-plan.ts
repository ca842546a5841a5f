import { anyWithin, unrolledTimes } from './seal-plan.js';
import { DAY, type DayPeriod, type TableState } from './table-state.js';

/** How long each tier is kept, in days (Directory `Account.retention`); dayDays null = forever. */
export interface Retention {
  minuteDays: number;
  hourDays: number;
  dayDays: number | null;
}

export interface PurgeCandidate extends TableState {
  /** Retention of its tier in days, for the dry-run listing. */
  retentionDays: number;
}

/**
 * Pure retention: the whole tables to DROP. A table goes only when
 * - its account is known (tables of an account the directory does not know are left alone),
 * - its whole span ended at least its tier's retention ago (end + days × 86400 <= now), so a current
 *   or future table never goes, not even with a retention of 0 days,
 * - it is 'done': a minute table rolled into its hour; an hour or day table sealed (see seal-plan.ts),
 * - and nothing of its account inside its span is still waiting to be rolled (checked again here, so a
 *   table sealed before a late hour arrived is not dropped while that hour waits).
 */
export function planPurge(
  tables: readonly TableState[],
  days: readonly DayPeriod[],
  retentionOf: (accountId: number) => Retention | undefined,
  now: number,
  accountId?: number,
): PurgeCandidate[] {
  const unrolled = unrolledTimes(tables, days);
  const out: PurgeCandidate[] = [];
  for (const t of tables) {
    if (accountId !== undefined && t.accountId !== accountId) continue;
    const retention = retentionOf(t.accountId);
    if (!retention || t.state !== 'done' || t.end > now) continue;
    const keepDays = t.kind === 'minute' ? retention.minuteDays : t.kind === 'hour' ? retention.hourDays : retention.dayDays;
    if (keepDays === null || !(keepDays >= 0) || t.end + keepDays * DAY > now) continue;
    if (t.kind !== 'minute' && anyWithin(unrolled.get(t.accountId), t.start, t.end)) continue;
    out.push({ ...t, retentionDays: keepDays });
  }
  out.sort((a, b) => a.end - b.end || a.accountId - b.accountId || a.name.localeCompare(b.name));
  return out;
}
