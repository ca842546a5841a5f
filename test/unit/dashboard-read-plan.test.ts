import { describe, expect, it } from 'vitest';
import type { RollupState, TableInfo } from '../../lib/shard/shard-database.js';
import { nextTableSpanStart, tableName, tableSpanStart, type TableKind } from '../../lib/shard/table-naming.js';
import { planRead, type DayRollupState } from '../../dashboard/read-plan.js';
import type { Resolution } from '../../dashboard/resolution.js';
import { compileSeriesQuery, MAX_LISTED_LOOKUPS, READ_COLUMNS } from '../../dashboard/series-sql.js';
import { idsPerQuery } from '../../dashboard/series-reader.js';

const A = 7;
const H = 3600;
const D = 86400;
const T0 = Date.UTC(2026, 10, 23, 0) / 1000; // 2026-11-23 00:00 UTC
const V1 = [...READ_COLUMNS];
const V2 = [...READ_COLUMNS, 'periods'];

function table(kind: TableKind, t: number, state: RollupState = 'done', version = 2): TableInfo {
  const start = tableSpanStart(kind, t);
  return { name: tableName(kind, A, t), accountId: A, kind, start, end: nextTableSpanStart(kind, start), version, columns: kind === 'minute' || version === 1 ? V1 : V2, rollupState: state, listsPeriods: false };
}
const res = (kind: TableKind, step: number, from: number, to: number): Resolution => ({ kind, step, from, to, points: (to - from) / step });
const noDays = new Map<number, DayRollupState>();
const brief = (p: ReturnType<typeof planRead>) => p.segments.map((s) => [s.table, s.from - T0, s.to - T0]);

describe('planRead', () => {
  it('minute resolution reads the minute tables, clipped to the window', () => {
    const tables = [table('minute', T0 + 10 * H, 'done'), table('minute', T0 + 11 * H, 'open'), table('hour', T0, 'open')];
    const p = planRead({ resolution: res('minute', 60, T0 + 10.5 * H, T0 + 11 * H + 1200), tables, days: noDays, maxStitchTables: 6 });
    expect(brief(p)).toEqual([
      ['ts_7_2026112310', 10.5 * H, 11 * H],
      ['ts_7_2026112311', 11 * H, 11 * H + 1200],
    ]);
    expect(p.stitchedHours).toEqual([]);
  });

  it('hour resolution reads rolled hours from the hour table and stitches the ones not rolled from minutes', () => {
    const tables = [
      table('hour', T0, 'open'),
      table('minute', T0 + 20 * H, 'done'),
      table('minute', T0 + 21 * H, 'dirty'), // late data after its rollup: the hourly row is stale
      table('minute', T0 + 22 * H, 'rolling'),
      table('minute', T0 + 23 * H, 'open'),
    ];
    const p = planRead({ resolution: res('hour', H, T0, T0 + D), tables, days: noDays, maxStitchTables: 6 });
    expect(brief(p)).toEqual([
      ['th_7_202611', 0, 21 * H],
      ['ts_7_2026112321', 21 * H, 22 * H],
      ['ts_7_2026112322', 22 * H, 23 * H],
      ['ts_7_2026112323', 23 * H, 24 * H],
    ]);
    expect(p.stitchedHours).toEqual([T0 + 21 * H, T0 + 22 * H, T0 + 23 * H]);
    expect(p.unrolledHours).toEqual([]);
  });

  it('reads both monthly hour tables across a month boundary, whatever their template version', () => {
    const dec = Date.UTC(2026, 11, 1) / 1000;
    const tables = [table('hour', dec - H, 'done', 1), table('hour', dec, 'open', 2)];
    const p = planRead({ resolution: res('hour', H, dec - 5 * H, dec + 5 * H), tables, days: noDays, maxStitchTables: 6 });
    expect(p.segments.map((s) => [s.table, s.version, s.columns.includes('periods'), s.from - dec, s.to - dec])).toEqual([
      ['th_7_202611', 1, false, -5 * H, 0],
      ['th_7_202612', 2, true, 0, 5 * H],
    ]);
  });

  it('stitches at most maxStitchTables hours, newest first, and reports the others', () => {
    const tables = [table('hour', T0, 'open'), ...[0, 1, 2, 3, 4].map((h) => table('minute', T0 + h * H, 'open'))];
    const p = planRead({ resolution: res('hour', H, T0, T0 + 5 * H), tables, days: noDays, maxStitchTables: 2 });
    expect(brief(p)).toEqual([
      ['th_7_202611', 0, 3 * H],
      ['ts_7_2026112303', 3 * H, 4 * H],
      ['ts_7_2026112304', 4 * H, 5 * H],
    ]);
    expect(p.stitchedHours).toEqual([T0 + 3 * H, T0 + 4 * H]);
    expect(p.unrolledHours).toEqual([T0, T0 + H, T0 + 2 * H]);
  });

  it('day resolution composes the days not rolled yet from hours and minutes', () => {
    const from = T0 - 29 * D;
    const tables = [
      table('day', T0, 'open'),
      table('hour', from, 'done'),
      table('hour', T0, 'open'),
      table('minute', T0 + 9 * H, 'done'),
      table('minute', T0 + 10 * H, 'open'),
    ];
    // On 29 October an hour was re-rolled after its day: the daily row is stale until the day is re-rolled.
    const days = new Map<number, DayRollupState>([[T0 - 25 * D, 'dirty'], [T0 - 11 * D, 'done'], [T0, 'pending']]);
    const p = planRead({ resolution: res('day', D, from, T0 + D), tables, days, maxStitchTables: 6 });
    expect(brief(p)).toEqual([
      ['td_7_2026', -29 * D, -25 * D],
      ['th_7_202610', -25 * D, -24 * D],
      ['td_7_2026', -24 * D, 0],
      ['th_7_202611', 0, 10 * H],
      ['ts_7_2026112310', 10 * H, 11 * H],
      ['th_7_202611', 11 * H, D], // today's later hours: nothing there yet
    ]);
    expect(p.stitchedHours).toEqual([T0 + 10 * H]);
  });

  it('day resolution reads both yearly day tables across a year boundary; missing tables are skipped', () => {
    const y27 = Date.UTC(2027, 0, 1) / 1000;
    const tables = [table('day', y27 - D, 'done', 1), table('day', y27, 'open')];
    const p = planRead({ resolution: res('day', D, y27 - 3 * D, y27 + 2 * D), tables, days: noDays, maxStitchTables: 6 });
    expect(p.segments.map((s) => [s.table, s.version, s.from - y27, s.to - y27])).toEqual([
      ['td_7_2026', 1, -3 * D, 0],
      ['td_7_2027', 2, 0, 2 * D],
    ]);
    expect(planRead({ resolution: res('hour', H, T0, T0 + 3 * H), tables: [], days: noDays, maxStitchTables: 6 }).segments).toEqual([]);
  });
});

describe('compileSeriesQuery', () => {
  const seg = (name: string, kind: TableKind, columns: string[], from: number, to: number) => ({ table: name, kind, version: 1, columns, from, to });

  it('compiles one grouped SELECT per segment joined by UNION ALL, every value a parameter', () => {
    const q = compileSeriesQuery({
      segments: [seg('th_7_202611', 'hour', V2, 100, 200), seg('ts_7_2026112310', 'minute', V1, 200, 300)],
      agentId: 3,
      metricIds: [11, 12],
      bucket: 3600,
    })!;
    expect(q.sql).toBe(
      [
        'SELECT metric_id, (period DIV ?) * ? AS bucket, SUM(call_count) AS call_count, SUM(total_time) AS total_time, SUM(exclusive_time) AS exclusive_time, MIN(min_time) AS min_time, MAX(max_time) AS max_time, SUM(sum_of_squares) AS sum_of_squares FROM `th_7_202611` WHERE agent_id = ? AND metric_id IN (?, ?) AND period >= ? AND period < ? GROUP BY metric_id, bucket',
        'UNION ALL',
        'SELECT metric_id, (period DIV ?) * ? AS bucket, SUM(call_count) AS call_count, SUM(total_time) AS total_time, SUM(exclusive_time) AS exclusive_time, MIN(min_time) AS min_time, MAX(max_time) AS max_time, SUM(sum_of_squares) AS sum_of_squares FROM `ts_7_2026112310` WHERE agent_id = ? AND metric_id IN (?, ?) AND period >= ? AND period < ? GROUP BY metric_id, bucket',
      ].join('\n'),
    );
    expect(q.parameters).toEqual([3600, 3600, 3, 11, 12, 100, 200, 3600, 3600, 3, 11, 12, 200, 300]);
  });

  it('an application-wide read of a minute table: sealed minutes from the pseudo-agent, the others summed over the agents, in one statement', () => {
    const q = compileSeriesQuery({
      segments: [seg('th_7_202611', 'hour', V2, 100, 200), seg('ts_7_2026112310', 'minute', V1, 200, 300)],
      agentId: 3,
      application: { accountId: 7, applicationId: 9 },
      metricIds: [11],
      bucket: 'total',
      sumMetrics: true,
    })!;
    const select = (table: string) =>
      `SELECT ? AS metric_id, 0 AS bucket, SUM(call_count) AS call_count, SUM(total_time) AS total_time, SUM(exclusive_time) AS exclusive_time, MIN(min_time) AS min_time, MAX(max_time) AS max_time, SUM(sum_of_squares) AS sum_of_squares FROM \`${table}\` `;
    const sealed = 'COALESCE((SELECT sealed_through FROM table_registry WHERE name = ?), 0)';
    expect(q.sql.split('\nUNION ALL\n')).toEqual([
      `${select('th_7_202611')}WHERE agent_id = ? AND metric_id IN (?) AND period >= ? AND period < ? GROUP BY bucket`,
      `${select('ts_7_2026112310')}WHERE agent_id = ? AND metric_id IN (?) AND period >= ? AND period < ? AND period < ${sealed} GROUP BY bucket`,
      `${select('ts_7_2026112310')}WHERE agent_id IN (SELECT id FROM agents WHERE account_id = ? AND application_id = ?) AND metric_id IN (?) AND period >= ? AND period < ? AND period >= ${sealed} GROUP BY bucket`,
    ]);
    expect(q.parameters).toEqual([11, 3, 11, 100, 200, 11, 3, 11, 200, 300, 'ts_7_2026112310', 11, 7, 9, 11, 200, 300, 'ts_7_2026112310']);
  });

  it('lists the minutes of a v4 minute table (its primary key alone), from the first whole minute; nothing for a segment without one', () => {
    const T = 1795428000;
    const v4 = (from: number, to: number, sealedThrough?: number) => ({ ...seg('ts_7_2026112310', 'minute', V1, from, to), version: 4, listsPeriods: true, ...(sealedThrough === undefined ? {} : { sealedThrough }) });
    const q = compileSeriesQuery({ segments: [v4(T + 90, T + 300), v4(T + 3599, T + 3600)], agentId: 3, metricIds: [11, 12], bucket: 60 })!;
    expect(q.sql).toBe(
      'SELECT metric_id, (period DIV ?) * ? AS bucket, SUM(call_count) AS call_count, SUM(total_time) AS total_time, SUM(exclusive_time) AS exclusive_time, MIN(min_time) AS min_time, MAX(max_time) AS max_time, SUM(sum_of_squares) AS sum_of_squares FROM `ts_7_2026112310` WHERE agent_id = ? AND metric_id IN (?, ?) AND period IN (?, ?, ?) GROUP BY metric_id, bucket',
    );
    expect(q.parameters).toEqual([60, 60, 3, 11, 12, T + 120, T + 180, T + 240]);
    expect(compileSeriesQuery({ segments: [v4(T + 3599, T + 3600)], agentId: 3, metricIds: [11], bucket: 60 })).toBeUndefined();

    // Application-wide with a hint: the agents' part lists the minutes from the hint on, then the check of the hint.
    const a = compileSeriesQuery({ segments: [v4(T, T + 300, T + 180)], agentId: 3, application: { accountId: 7, applicationId: 9 }, metricIds: [11], bucket: 'total' })!;
    const sealed = 'COALESCE((SELECT sealed_through FROM table_registry WHERE name = ?), 0)';
    expect(a.sql.split('\nUNION ALL\n').map((p) => p.replace(/^SELECT metric_id, 0 AS bucket, .* FROM `ts_7_2026112310` /, ''))).toEqual([
      `WHERE agent_id = ? AND metric_id IN (?) AND period IN (?, ?, ?, ?, ?) AND period < ${sealed} GROUP BY metric_id, bucket`,
      `WHERE agent_id IN (SELECT id FROM agents WHERE account_id = ? AND application_id = ?) AND metric_id IN (?) AND period IN (?, ?) AND period >= ${sealed} GROUP BY metric_id, bucket`,
      'SELECT NULL AS metric_id, NULL AS bucket, NULL AS call_count, NULL AS total_time, NULL AS exclusive_time, NULL AS min_time, NULL AS max_time, NULL AS sum_of_squares FROM DUAL ' +
        `WHERE ${sealed} < ?`,
    ]);
    expect(a.parameters).toEqual([3, 11, T, T + 60, T + 120, T + 180, T + 240, 'ts_7_2026112310', 7, 9, 11, T + 180, T + 240, 'ts_7_2026112310', 'ts_7_2026112310', T + 180]);
    // Sealed through its end: no agents' part, the check alone; a v3 table (its secondary key) keeps the range.
    expect(compileSeriesQuery({ segments: [v4(T, T + 300, T + 300)], agentId: 3, application: { accountId: 7, applicationId: 9 }, metricIds: [11], bucket: 'total' })!.sql.split('\nUNION ALL\n')).toHaveLength(2);
    const v3 = compileSeriesQuery({ segments: [{ ...v4(T, T + 300, T + 180), version: 3, listsPeriods: false }], agentId: 3, application: { accountId: 7, applicationId: 9 }, metricIds: [11], bucket: 'total' })!;
    expect(v3.sql).not.toContain('IN (?, ?');
    expect(v3.parameters).toEqual([3, 11, T, T + 300, 'ts_7_2026112310', 7, 9, 11, T, T + 300, 'ts_7_2026112310']);
  });

  it('sizes chunks of metric ids so a listed minute table is asked for at most MAX_LISTED_LOOKUPS rows', () => {
    const T = 1795428000;
    const s = (version: number, from: number, to: number) => ({ ...seg('ts_7_2026112310', 'minute', V1, from, to), version, listsPeriods: version >= 4 });
    expect(MAX_LISTED_LOOKUPS).toBe(6000);
    expect(idsPerQuery([s(4, T, T + 3600)], 1000)).toBe(100);
    expect(idsPerQuery([s(4, T, T + 420), s(4, T + 3600, T + 7200)], 1000)).toBe(100);
    expect(idsPerQuery([s(4, T, T + 420)], 1000)).toBe(857);
    expect(idsPerQuery([s(4, T, T + 420)], 50)).toBe(50);
    expect(idsPerQuery([s(3, T, T + 3600), { ...seg('th_7_202611', 'hour', V2, T, T + 7200), version: 4, listsPeriods: true }], 1000)).toBe(1000);
  });

  it('sums whole windows into bucket 0 in total mode', () => {
    const q = compileSeriesQuery({ segments: [seg('td_7_2026', 'day', V2, 0, 10)], agentId: 3, metricIds: [1], bucket: 'total' })!;
    expect(q.sql).toContain('SELECT metric_id, 0 AS bucket,');
    expect(q.parameters).toEqual([3, 1, 0, 10]);
  });

  it('reads nothing without segments or metrics', () => {
    expect(compileSeriesQuery({ segments: [], agentId: 3, metricIds: [1], bucket: 60 })).toBeUndefined();
    expect(compileSeriesQuery({ segments: [seg('td_7_2026', 'day', V1, 0, 10)], agentId: 3, metricIds: [], bucket: 60 })).toBeUndefined();
  });

  it('refuses a template version without a needed column, and a name that is not a period table', () => {
    const cols = V1.filter((c) => c !== 'sum_of_squares');
    expect(() => compileSeriesQuery({ segments: [seg('th_7_202611', 'hour', cols, 0, 1)], agentId: 1, metricIds: [1], bucket: 60 })).toThrow(
      'cannot read table th_7_202611: its template version 1 lacks column(s) sum_of_squares',
    );
    expect(() => compileSeriesQuery({ segments: [seg('th_7_202611; DROP', 'hour', V1, 0, 1)], agentId: 1, metricIds: [1], bucket: 60 })).toThrow('BUG');
  });
});
