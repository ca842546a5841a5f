import { describe, expect, it } from 'vitest';
import { nextHourStart, planPrecreate } from '../../rollup/precreate-plan.js';
import { purgeRanges } from '../../rollup/rollup-state.js';
import { planPurge } from '../../rollup/purge-plan.js';
import { tenantTables } from '../../bench/tenants-seed.js';
import { queryBuilder } from '../../lib/db/query-builder.js';
import type { ShardDatabase } from '../../lib/shard/shard-database.js';
import { registryQuery } from '../../lib/shard/table-registry.js';

const H = 3600;
const D = 86400;
const HOUR0 = 1_764_993_600; // 2025-12-06T04:00Z, a whole hour

describe('pre-creation of next hour tables', () => {
  const active = Array.from({ length: 1500 }, (_, i) => 1500 - i); // any order, ids 1..1500
  const at = (minute: number, second = 0) => HOUR0 + minute * 60 + second;

  it('does nothing before the window, or when switched off', () => {
    expect(nextHourStart(at(49, 59))).toBe(HOUR0 + H);
    expect(planPrecreate({ now: at(49, 59), windowMinutes: 10, active, existing: new Set() })).toEqual({ hour: HOUR0 + H, accounts: [] });
    expect(planPrecreate({ now: at(55), windowMinutes: 0, active, existing: new Set() }).accounts).toEqual([]);
  });

  it('spreads the accounts evenly over the window, lowest ids first', () => {
    const first = planPrecreate({ now: at(50, 30), windowMinutes: 10, active, existing: new Set() });
    expect(first.hour).toBe(HOUR0 + H);
    expect(first.accounts).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    const existing = new Set(first.accounts);
    const second = planPrecreate({ now: at(51), windowMinutes: 10, active, existing });
    expect(second.accounts).toEqual(Array.from({ length: 150 }, (_, i) => i + 151));
    // Every minute of the window adds 150: at its last minute all 1,500 are made.
    let made = new Set<number>();
    const perMinute: number[] = [];
    for (let m = 50; m < 60; m++) {
      const p = planPrecreate({ now: at(m, 5), windowMinutes: 10, active, existing: made });
      perMinute.push(p.accounts.length);
      made = new Set([...made, ...p.accounts]);
    }
    expect(perMinute).toEqual(new Array(10).fill(150));
    expect(made.size).toBe(1500);
  });

  it('catches up a missed minute and skips tables made by the writer already', () => {
    const p = planPrecreate({ now: at(53), windowMinutes: 10, active: [7, 3, 9, 3, 5], existing: new Set([3]) });
    // ceil(4 × 4 / 10) = 2 due by the end of minute 53: ids 3 (exists) and 5.
    expect(p.accounts).toEqual([5]);
    expect(planPrecreate({ now: at(59, 59), windowMinutes: 10, active: [7, 3, 9, 5], existing: new Set([3]) }).accounts).toEqual([5, 7, 9]);
    expect(planPrecreate({ now: at(59), windowMinutes: 10, active: [], existing: new Set() }).accounts).toEqual([]);
  });

  it('a window of one minute creates everything in the hour\'s last minute', () => {
    expect(planPrecreate({ now: at(58, 59), windowMinutes: 1, active: [1, 2], existing: new Set() }).accounts).toEqual([]);
    expect(planPrecreate({ now: at(59), windowMinutes: 1, active: [2, 1], existing: new Set() }).accounts).toEqual([1, 2]);
  });
});

describe('purge ranges of the registry by state', () => {
  const free = { minuteDays: 8, hourDays: 90, dayDays: 365 };
  const paid = { minuteDays: 8, hourDays: 90, dayDays: null };
  const now = HOUR0;

  it('takes the shortest retention per tier, and no day range when days are kept forever', () => {
    expect(purgeRanges([paid], now)).toEqual([
      { kind: 'minute', startsBefore: now - 8 * D },
      { kind: 'hour', startsBefore: now - 90 * D },
    ]);
    expect(purgeRanges([paid, free, { minuteDays: 3, hourDays: 120, dayDays: 400 }], now)).toEqual([
      { kind: 'minute', startsBefore: now - 3 * D },
      { kind: 'hour', startsBefore: now - 90 * D },
      { kind: 'day', startsBefore: now - 365 * D },
    ]);
    expect(purgeRanges([], now)).toEqual([]);
  });

  it('never leaves out a table planPurge would drop', () => {
    // Every minute table of 9 days, done; planPurge over all of them equals planPurge over the range.
    const tables = Array.from({ length: 9 * 24 }, (_, i) => {
      const start = now - (i + 1) * H;
      return { name: `ts_1_${start}`, accountId: 1, kind: 'minute' as const, start, end: start + H, state: 'done' as const };
    });
    const retention = () => free;
    const all = planPurge(tables, [], retention, now);
    const [range] = purgeRanges([free], now);
    const inRange = tables.filter((t) => t.kind === range!.kind && t.start < range!.startsBefore);
    expect(planPurge(inRange, [], retention, now)).toEqual(all);
    // ends at or before now − 8 days: starts now − 8 d − 1 h and older, 9 × 24 − 8 × 24 − 1 + 1 = 24 tables
    expect(all.length).toBe(24);
    expect(inRange.length).toBe(24);
  });
});

describe('bench tenants: the tables one tenant keeps', () => {
  it('8 days of minute tables ending with the current hour, their months and years', () => {
    const now = Date.UTC(2026, 11, 6, 2) / 1000; // 2026-12-06T02:00Z
    const t = tenantTables(7, { currentHour: now, minuteDays: 8 });
    expect(t.filter((x) => x.kind === 'minute')).toHaveLength(192);
    expect(t.filter((x) => x.kind === 'minute' && x.state === 'open').map((x) => x.name)).toEqual(['ts_7_2026120602']);
    expect(t.filter((x) => x.kind === 'minute')[0]!.name).toBe('ts_7_2026112803');
    expect(t.filter((x) => x.kind !== 'minute').map((x) => `${x.name}:${x.state}`)).toEqual(['th_7_202611:done', 'th_7_202612:open', 'td_7_2026:open']);
    // Across a new year: two months, two years.
    const jan = Date.UTC(2027, 0, 2, 0) / 1000;
    expect(tenantTables(7, { currentHour: jan, minuteDays: 8 }).filter((x) => x.kind !== 'minute').map((x) => x.name)).toEqual(['th_7_202612', 'th_7_202701', 'td_7_2026', 'td_7_2027']);
  });
});

describe('registry reads by state', () => {
  const where = (f: Parameters<typeof registryQuery>[1]) => {
    const c = registryQuery(queryBuilder<ShardDatabase>(), f).compile();
    return { sql: c.sql, params: c.parameters };
  };
  it('filters on index prefixes: state, kind and a start bound; nothing for no filter', () => {
    expect(where({})).toEqual({ sql: 'select * from `table_registry`', params: [] });
    expect(where({ kind: 'minute', states: ['open', 'rolling', 'dirty'], to: 1000 })).toEqual({
      sql: 'select * from `table_registry` where `kind` = ? and `rollup_state` in (?, ?, ?) and `period_start` < ?',
      params: ['minute', 'open', 'rolling', 'dirty', 1000],
    });
    expect(where({ accountId: 7, from: 400 * 86400, to: 401 * 86400 })).toEqual({
      sql: 'select * from `table_registry` where `account_id` = ? and `period_start` < ? and `period_start` > ?',
      params: [7, 401 * 86400, 34 * 86400],
    });
  });
});
