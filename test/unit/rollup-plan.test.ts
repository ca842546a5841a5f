import { describe, expect, it } from 'vitest';
import { parseTableName, tableName, type TableKind } from '../../lib/shard/table-naming.js';
import { planRollup, type RollupTask } from '../../rollup/rollup-plan.js';
import { planSeals } from '../../rollup/seal-plan.js';
import type { DayPeriod, RollupState, TableState } from '../../rollup/table-state.js';

const D0 = Date.UTC(2024, 0, 10) / 1000; // 2024-01-10T00:00Z
const H = 3600;
const DAY = 86400;

function table(kind: TableKind, accountId: number, t: number, state: RollupState = 'open'): TableState {
  const name = tableName(kind, accountId, t);
  const p = parseTableName(name)!;
  return { name, accountId, kind, start: p.start, end: p.end, state };
}

const brief = (tasks: RollupTask[]) => tasks.map((t) => `${t.kind} ${t.accountId} ${(t.period - D0) / H}${t.reroll ? ' reroll' : ''}`);

describe('planRollup', () => {
  it('rolls closed hours only after the grace period, oldest first, hours before their day', () => {
    const tables = [
      table('minute', 1, D0 + 23 * H),
      table('minute', 1, D0 + 22 * H, 'done'),
      table('minute', 1, D0 + 24 * H), // hour 0 of the next day: still open at now
      table('minute', 2, D0 + 5 * H),
    ];
    const now = D0 + DAY + 300; // 00:05 next day, exactly grace after hour 23 ended
    expect(brief(planRollup({ tables, days: [], now, graceSeconds: 300, maxTasks: 100 }))).toEqual(['hour 2 5', 'hour 1 23', 'day 1 0', 'day 2 0']);
    // One second short of the grace: hour 23 waits and so does day 1; account 2's day is complete.
    expect(brief(planRollup({ tables, days: [], now: now - 1, graceSeconds: 300, maxTasks: 100 }))).toEqual(['hour 2 5']);
  });

  it('re-rolls dirty and abandoned rolling hours, and re-rolls dirty days', () => {
    const tables = [table('minute', 1, D0 + H, 'dirty'), table('minute', 1, D0 + 2 * H, 'rolling'), table('minute', 1, D0 - DAY, 'done')];
    const days: DayPeriod[] = [
      { accountId: 1, day: D0 - DAY, state: 'dirty' },
      { accountId: 3, day: D0 - 2 * DAY, state: 'pending' },
    ];
    const tasks = planRollup({ tables, days, now: D0 + 10 * DAY, graceSeconds: 0, maxTasks: 100 });
    expect(brief(tasks)).toEqual(['day 3 -48', 'day 1 -24 reroll', 'hour 1 1 reroll', 'hour 1 2', 'day 1 0']);
  });

  it('holds a day back while one of its minute tables is not closed yet', () => {
    // The day is over, but a minute table inside it is excluded by --until: the day must wait.
    const tables = [table('minute', 1, D0 + 3 * H), table('minute', 1, D0 + 20 * H)];
    const tasks = planRollup({ tables, days: [{ accountId: 1, day: D0, state: 'pending' }], now: D0 + 2 * DAY, graceSeconds: 300, until: D0 + 4 * H, maxTasks: 9 });
    expect(brief(tasks)).toEqual(['hour 1 3']);
  });

  it('honours --account and --until, and the per-run bound keeps a prefix', () => {
    const tables = [0, 1, 2, 3, 30].map((h) => table('minute', 7, D0 + h * H)).concat([table('minute', 8, D0)]);
    const all = planRollup({ tables, days: [], now: D0 + 5 * DAY, graceSeconds: 300, maxTasks: 100 });
    expect(brief(all)).toEqual(['hour 7 0', 'hour 8 0', 'hour 7 1', 'hour 7 2', 'hour 7 3', 'day 7 0', 'day 8 0', 'hour 7 30', 'day 7 24']);
    expect(brief(planRollup({ tables, days: [], now: D0 + 5 * DAY, graceSeconds: 300, accountId: 7, until: D0 + 2 * H, maxTasks: 100 }))).toEqual(['hour 7 0', 'hour 7 1']);
    expect(brief(planRollup({ tables, days: [], now: D0 + 5 * DAY, graceSeconds: 300, maxTasks: 3 }))).toEqual(['hour 7 0', 'hour 8 0', 'hour 7 1']);
  });

  it('names the minute table each hour task reads', () => {
    const t = table('minute', 4, D0 + 7 * H);
    expect(planRollup({ tables: [t], days: [], now: D0 + DAY, graceSeconds: 0, maxTasks: 1 })).toEqual([
      { kind: 'hour', accountId: 4, period: D0 + 7 * H, source: 'ts_4_2024011007', reroll: false },
    ]);
  });
});

describe('planSeals', () => {
  const JAN = Date.UTC(2024, 0, 1) / 1000;
  const FEB = Date.UTC(2024, 1, 1) / 1000;
  const YEAR2025 = Date.UTC(2025, 0, 1) / 1000;

  it('seals an hour table once its month is over and everything in it is rolled', () => {
    const hourJan = table('hour', 1, JAN);
    const tables = [hourJan, table('minute', 1, FEB - H, 'done'), table('hour', 1, FEB)];
    expect(planSeals(tables, [], FEB + 299, 300).map((t) => t.name)).toEqual([]);
    expect(planSeals(tables, [], FEB + 300, 300).map((t) => t.name)).toEqual(['th_1_202401']);
    // A minute table not rolled, or a day not rolled, keeps it open.
    expect(planSeals([...tables, table('minute', 1, JAN + 5 * H, 'dirty')], [], FEB + DAY, 0)).toEqual([]);
    expect(planSeals(tables, [{ accountId: 1, day: JAN + 30 * DAY, state: 'pending' }], FEB + DAY, 0)).toEqual([]);
    // Another account's unrolled day does not.
    expect(planSeals(tables, [{ accountId: 2, day: JAN, state: 'dirty' }], FEB + DAY, 0).map((t) => t.name)).toEqual(['th_1_202401']);
  });

  it('seals a day table when its year is over and its hour tables are sealed (now or before)', () => {
    const dec = Date.UTC(2024, 11, 1) / 1000;
    const tables = [table('day', 1, JAN), table('hour', 1, dec), table('hour', 1, JAN, 'done')];
    expect(planSeals(tables, [], YEAR2025 + 10, 0).map((t) => t.name)).toEqual(['th_1_202412', 'td_1_2024']);
    expect(planSeals(tables, [{ accountId: 1, day: YEAR2025 - DAY, state: 'dirty' }], YEAR2025 + 10, 0).map((t) => t.name)).toEqual([]);
    expect(planSeals([table('day', 1, JAN, 'done')], [], YEAR2025 + 10, 0)).toEqual([]);
  });

  it('re-seals a dirty hour table', () => {
    expect(planSeals([table('hour', 3, JAN, 'dirty')], [{ accountId: 3, day: JAN, state: 'done' }], FEB, 0).map((t) => t.name)).toEqual(['th_3_202401']);
  });
});
