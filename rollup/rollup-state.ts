import { sql } from 'kysely';
import type { ShardStore } from '../lib/shard/shard-store.js';
import type { TableInfo } from '../lib/shard/shard-database.js';
import type { TableKind } from '../lib/shard/table-naming.js';
import type { Retention } from './purge-plan.js';
import { DAY, type DayPeriod, type TableState } from './table-state.js';

/**
 * What the planners need of a shard, read through the registry's (rollup_state, kind, period_start)
 * index (shard migration 0008): the period tables that are not 'done' (a few per active account: the
 * current and next hour's minute tables, the month's hour table, the year's day table, whatever waits to
 * be rolled or sealed) and the days not rolled yet. Never the whole registry: a shard of 1,500 accounts
 * keeps about 300,000 'done' tables, and the planners (rollup-plan, seal-plan, rollup-lag, and
 * purge-plan's "anything unrolled inside?") only look at the others.
 */
export interface ShardState {
  tables: TableState[];
  days: DayPeriod[];
}

export const UNFINISHED = ['open', 'rolling', 'dirty'] as const;

/**
 * With `closedBefore` (the latest end a period may have to be rolled now: closedBefore() of
 * rollup-plan.ts), only the unfinished tables a planner can act on are read: minute tables starting
 * before it (a later one is neither due nor inside a due day), hour tables starting 28 days and day
 * tables 365 days before it (a month or year that started later has not ended, so it cannot be
 * sealed, and its hours block no due day). That leaves out the current month's hour table, the
 * current year's day table and the pre-created next hour of every account. Without it: every
 * unfinished table (`apm rollup status`).
 */
export async function readShardState(store: ShardStore, closedBefore?: number): Promise<ShardState> {
  const tables: TableState[] = [];
  if (closedBefore === undefined) tables.push(...(await store.listTables({ states: [...UNFINISHED] })).map(tableStateOf));
  else {
    const bound: Record<TableKind, number> = { minute: closedBefore, hour: closedBefore - 28 * DAY, day: closedBefore - 365 * DAY };
    for (const kind of ['minute', 'hour', 'day'] as const) {
      tables.push(...(await store.listTables({ kind, states: [...UNFINISHED], to: bound[kind] })).map(tableStateOf));
    }
  }
  const rows = await store.kysely.selectFrom('rollup_days').select(['account_id', 'day', 'state']).where('state', '<>', 'done').orderBy('day').orderBy('account_id').execute();
  const days = rows.map((r) => ({ accountId: Number(r.account_id), day: Number(r.day), state: r.state }));
  return { tables, days };
}

export function tableStateOf(t: TableInfo): TableState {
  return { name: t.name, accountId: t.accountId, kind: t.kind, start: t.start, end: t.end, state: t.rollupState };
}

/**
 * Pure: per kind, the registry range that can hold a purgeable table: 'done' tables starting before
 * now − (shortest retention of that tier over `retentions`) days (a table ends after it starts, so one
 * starting later cannot be past its retention). Kinds no account ever purges (day tables kept forever)
 * are left out. The query of such a range is empty (one index probe) when nothing is due.
 */
export function purgeRanges(retentions: Iterable<Retention>, now: number): Array<{ kind: TableKind; startsBefore: number }> {
  const shortest: Record<TableKind, number | undefined> = { minute: undefined, hour: undefined, day: undefined };
  for (const r of retentions) {
    const days: Record<TableKind, number | null> = { minute: r.minuteDays, hour: r.hourDays, day: r.dayDays };
    for (const kind of ['minute', 'hour', 'day'] as const) {
      const d = days[kind];
      if (d === null || !(d >= 0)) continue;
      shortest[kind] = Math.min(shortest[kind] ?? Infinity, d);
    }
  }
  const out: Array<{ kind: TableKind; startsBefore: number }> = [];
  for (const kind of ['minute', 'hour', 'day'] as const) {
    const d = shortest[kind];
    if (d !== undefined) out.push({ kind, startsBefore: Math.floor(now) - d * DAY });
  }
  return out;
}

/** The 'done' tables in purgeRanges (what planPurge may drop), by the state index. */
export async function readPurgeableTables(store: ShardStore, ranges: ReadonlyArray<{ kind: TableKind; startsBefore: number }>, accountId?: number): Promise<TableState[]> {
  const out: TableState[] = [];
  for (const r of ranges) {
    const tables = await store.listTables({ kind: r.kind, states: ['done'], to: r.startsBefore, ...(accountId !== undefined ? { accountId } : {}) });
    out.push(...tables.map(tableStateOf));
  }
  return out;
}

/** Registered tables by kind and state (a GROUP BY over the index, for `apm rollup status`). */
export async function tableCounts(store: ShardStore): Promise<Record<string, number>> {
  const rows = await store.kysely
    .selectFrom('table_registry')
    .select(['kind', 'rollup_state as state', sql<number>`COUNT(*)`.as('n')])
    .groupBy(['kind', 'rollup_state'])
    .orderBy('kind')
    .orderBy('rollup_state')
    .execute();
  const out: Record<string, number> = {};
  for (const r of rows) out[`${r.kind}/${r.state}`] = Number(r.n);
  return out;
}
