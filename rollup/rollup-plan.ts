import { DAY, HOUR, type DayPeriod, type TableState } from './table-state.js';

/**
 * Pure planning of one rollup run on one shard: which hours (minute table → hour table) and which days
 * (hour table → day table) to roll, oldest first. Times are Unix seconds UTC.
 *
 * A period is closed when it ended at least `graceSeconds` ago and, with `until`, ended at or before
 * `until`. An hour is rolled when its minute table is not 'done' ('open', 'dirty', or 'rolling' left by
 * a worker that died: the caller holds the shard lock, so nobody else is rolling). A day is rolled when
 * it is closed, it is marked 'pending'/'dirty' or one of its hours is rolled in this run, and every
 * minute table inside it is 'done' or rolled in this run (before the day: tasks are ordered by period
 * end, hours before the day that ends with them).
 */
export interface RollupPlanInput {
  /** Every period table of the shard (any kind); only minute tables are read here. */
  tables: readonly TableState[];
  /** rollup_days rows that are not 'done'. */
  days: readonly DayPeriod[];
  now: number;
  graceSeconds: number;
  /** Roll only periods that end at or before this time. */
  until?: number;
  /** Roll only this account. */
  accountId?: number;
  /** At most this many tasks (a prefix of the ordered plan, so a day never runs before its hours). */
  maxTasks: number;
}

export interface HourTask {
  kind: 'hour';
  accountId: number;
  /** Hour start. */
  period: number;
  /** The minute table rolled. */
  source: string;
  /** True when the hour was rolled before (the minute table was 'dirty'). */
  reroll: boolean;
}

export interface DayTask {
  kind: 'day';
  accountId: number;
  /** Day start. */
  period: number;
  reroll: boolean;
}

export type RollupTask = HourTask | DayTask;

export function periodEnd(task: RollupTask): number {
  return task.period + (task.kind === 'hour' ? HOUR : DAY);
}

/** Latest end a period may have to be rolled now. */
export function closedBefore(now: number, graceSeconds: number, until?: number): number {
  const byClock = Math.floor(now) - graceSeconds;
  return until === undefined ? byClock : Math.min(byClock, until);
}

export function planRollup(input: RollupPlanInput): RollupTask[] {
  const limit = closedBefore(input.now, input.graceSeconds, input.until);
  const wanted = (accountId: number) => input.accountId === undefined || input.accountId === accountId;
  const hours: HourTask[] = [];
  for (const t of input.tables) {
    if (t.kind !== 'minute' || t.state === 'done' || !wanted(t.accountId) || t.end > limit) continue;
    hours.push({ kind: 'hour', accountId: t.accountId, period: t.start, source: t.name, reroll: t.state === 'dirty' });
  }
  const planned = new Set(hours.map((h) => h.source));
  // Days that hold a minute table neither done nor rolled in this run must wait.
  const blocked = new Set<string>();
  for (const t of input.tables) {
    if (t.kind === 'minute' && t.state !== 'done' && !planned.has(t.name)) blocked.add(dayKey(t.accountId, t.start));
  }
  const days = new Map<string, DayTask>();
  const consider = (accountId: number, day: number, reroll: boolean) => {
    const key = dayKey(accountId, day);
    if (!wanted(accountId) || day + DAY > limit || blocked.has(key)) return;
    const prev = days.get(key);
    days.set(key, { kind: 'day', accountId, period: day, reroll: reroll || (prev?.reroll ?? false) });
  };
  for (const d of input.days) if (d.state !== 'done') consider(d.accountId, d.day, d.state === 'dirty');
  for (const h of hours) consider(h.accountId, dayStart(h.period), false);
  const tasks: RollupTask[] = [...hours, ...days.values()];
  tasks.sort(compareTasks);
  return tasks.slice(0, Math.max(0, input.maxTasks));
}

function compareTasks(a: RollupTask, b: RollupTask): number {
  return periodEnd(a) - periodEnd(b) || kindOrder(a) - kindOrder(b) || a.accountId - b.accountId || a.period - b.period;
}

function kindOrder(t: RollupTask): number {
  return t.kind === 'hour' ? 0 : 1;
}

export function dayStart(t: number): number {
  return Math.floor(t / DAY) * DAY;
}

function dayKey(accountId: number, t: number): string {
  return `${accountId}:${dayStart(t)}`;
}
