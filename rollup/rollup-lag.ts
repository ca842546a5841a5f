import { DAY, HOUR, type DayPeriod, type TableState } from './table-state.js';

/** Rollup progress of one account on a shard. */
export interface AccountLag {
  accountId: number;
  /**
   * Seconds the rollup is behind: now − (end + grace) of the oldest period that is due (ended at least
   * grace seconds ago) and never rolled; 0 when every due period is rolled. Periods waiting for a
   * re-roll after late data are counted in dirtyHours/dirtyDays, not here: their end says nothing about
   * how long they have waited.
   */
  lagSeconds: number;
  /** Due hours whose minute table was never rolled ('open' or a 'rolling' left by a dead worker). */
  pendingHours: number;
  /** Hours with late data waiting to be re-rolled. */
  dirtyHours: number;
  /** Due days not rolled yet, and days waiting for a re-roll. */
  pendingDays: number;
  dirtyDays: number;
  /** Start of the oldest due, never rolled period; undefined when none. */
  oldestDue?: number;
}

/** Pure: the lag of every account that has tables or days on the shard, sorted by account. */
export function rollupLag(tables: readonly TableState[], days: readonly DayPeriod[], now: number, graceSeconds: number): AccountLag[] {
  const limit = Math.floor(now) - graceSeconds;
  const byAccount = new Map<number, AccountLag>();
  const lagOf = (accountId: number): AccountLag => {
    let lag = byAccount.get(accountId);
    if (!lag) {
      lag = { accountId, lagSeconds: 0, pendingHours: 0, dirtyHours: 0, pendingDays: 0, dirtyDays: 0 };
      byAccount.set(accountId, lag);
    }
    return lag;
  };
  const due = (lag: AccountLag, start: number, end: number) => {
    lag.lagSeconds = Math.max(lag.lagSeconds, limit - end);
    if (lag.oldestDue === undefined || start < lag.oldestDue) lag.oldestDue = start;
  };
  for (const t of tables) {
    const lag = lagOf(t.accountId);
    if (t.kind !== 'minute' || t.state === 'done' || t.end > limit) continue;
    if (t.state === 'dirty') lag.dirtyHours++;
    else {
      lag.pendingHours++;
      due(lag, t.start, t.start + HOUR);
    }
  }
  for (const d of days) {
    const lag = lagOf(d.accountId);
    if (d.state === 'done' || d.day + DAY > limit) continue;
    if (d.state === 'dirty') lag.dirtyDays++;
    else {
      lag.pendingDays++;
      due(lag, d.day, d.day + DAY);
    }
  }
  return [...byAccount.values()].sort((a, b) => a.accountId - b.accountId);
}

/** The worst lag over accounts (the shard's lag gauge). */
export function maxLag(lags: readonly AccountLag[]): number {
  return lags.reduce((m, l) => Math.max(m, l.lagSeconds), 0);
}
