import { describe, expect, it } from 'vitest';
import { parseTableName, tableName, type TableKind } from '../../lib/shard/table-naming.js';
import { planPurge, type Retention } from '../../rollup/purge-plan.js';
import type { RollupState, TableState } from '../../rollup/table-state.js';

const DAY = 86400;
const H = 3600;
const JAN = Date.UTC(2024, 0, 1) / 1000;

function table(kind: TableKind, accountId: number, t: number, state: RollupState = 'done'): TableState {
  const name = tableName(kind, accountId, t);
  const p = parseTableName(name)!;
  return { name, accountId, kind, start: p.start, end: p.end, state };
}

const FREE: Retention = { minuteDays: 8, hourDays: 90, dayDays: 365 };
const PAID: Retention = { minuteDays: 8, hourDays: 90, dayDays: null };
const retentionOf = (id: number) => (id === 1 ? FREE : id === 2 ? PAID : undefined);
const names = (list: TableState[]) => list.map((t) => t.name);

describe('planPurge', () => {
  it('drops a minute table exactly when its whole hour is older than the retention', () => {
    const t = table('minute', 1, JAN + 5 * H); // covers 05:00-06:00
    const due = JAN + 6 * H + 8 * DAY;
    expect(names(planPurge([t], [], retentionOf, due - 1))).toEqual([]);
    expect(planPurge([t], [], retentionOf, due)).toEqual([{ ...t, retentionDays: 8 }]);
  });

  it('never drops a table whose rollup has not completed', () => {
    const now = JAN + 400 * DAY;
    for (const state of ['open', 'rolling', 'dirty'] as const) {
      expect(planPurge([table('minute', 1, JAN, state), table('hour', 1, JAN, state), table('day', 1, JAN, state)], [], retentionOf, now)).toEqual([]);
    }
  });

  it('keeps a sealed hour or day table while a day inside it waits for a re-roll', () => {
    const now = JAN + 800 * DAY;
    const tables = [table('hour', 1, JAN), table('day', 1, JAN)];
    expect(names(planPurge(tables, [{ accountId: 1, day: JAN + 3 * DAY, state: 'dirty' }], retentionOf, now))).toEqual([]);
    expect(names(planPurge(tables, [{ accountId: 1, day: JAN + 3 * DAY, state: 'done' }], retentionOf, now))).toEqual(['th_1_202401', 'td_1_2024']);
    // A minute table of the month not rolled yet holds the hour table too.
    expect(names(planPurge([...tables, table('minute', 1, JAN + 9 * H, 'dirty')], [], retentionOf, now))).toEqual([]);
  });

  it('applies each tier its plan retention; daily data of the paid plan stays forever', () => {
    const now = Date.UTC(2026, 0, 1) / 1000 + 10 * DAY;
    const tables = [1, 2].flatMap((a) => [table('minute', a, now - 9 * DAY), table('minute', a, now - 7 * DAY), table('hour', a, Date.UTC(2025, 8, 1) / 1000), table('hour', a, Date.UTC(2025, 10, 1) / 1000), table('day', a, Date.UTC(2024, 0, 1) / 1000), table('day', a, Date.UTC(2025, 0, 1) / 1000)]);
    expect(names(planPurge(tables, [], retentionOf, now))).toEqual([
      'td_1_2024', // ended 2025-01-01, more than 365 days ago
      'th_1_202509',
      'th_2_202509',
      'ts_1_2026010200', // 9 days old; the 7-day-old one stays
      'ts_2_2026010200',
    ]);
  });

  it('never drops a current or future table, even with a retention of 0 days', () => {
    const zero = () => ({ minuteDays: 0, hourDays: 0, dayDays: 0 });
    const now = JAN + 10 * H + 1;
    const tables = [table('minute', 5, JAN + 9 * H), table('minute', 5, JAN + 10 * H), table('minute', 5, JAN + 11 * H), table('hour', 5, JAN), table('day', 5, JAN)];
    expect(names(planPurge(tables, [], zero, now))).toEqual(['ts_5_2024010109']);
  });

  it('leaves alone accounts the directory does not know, and honours the account filter', () => {
    const now = JAN + 100 * DAY;
    const tables = [table('minute', 9, JAN), table('minute', 1, JAN), table('minute', 2, JAN)];
    expect(names(planPurge(tables, [], retentionOf, now))).toEqual(['ts_1_2024010100', 'ts_2_2024010100']);
    expect(names(planPurge(tables, [], retentionOf, now, 2))).toEqual(['ts_2_2024010100']);
  });
});
