import { describe, expect, it } from 'vitest';
import mysql from 'mysql2';
import { compiledText, statementText } from '../../lib/db/statement-text.js';
import { fenceReadQuery } from '../../lib/shard/account-fence.js';
import { upsertSql } from '../../lib/shard/shard-writer-sql.js';
import { upsertMergeList } from '../../lib/timeslice/timeslice-columns.js';
import type { TimesliceRow } from '../../lib/timeslice/timeslice.js';

describe('the upsert text (lib/shard/shard-writer-sql.ts, number-text.ts)', () => {
  it('writes every number as String() does, doubles with a point and no exponent as double literals (e0)', () => {
    let seed = 11;
    const next = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const specials = [0, -0, 1, 9, 10, 99, 100, 2 ** 31, 2 ** 32 + 1, 1e15, 2 ** 53 - 1, 2 ** 53, 1e21, 3.0, -1, -2.5, -1e-7, 1e-7, 0.1 + 0.2, 123456.789, 1.7976931348623157e150, 5e-324, -2.2250738585072014e-308];
    const values = [...specials, ...Array.from({ length: 500 }, () => (next() - 0.3) * 10 ** Math.floor(next() * 40 - 20))];
    const rows: TimesliceRow[] = values.map((v, i) => ({ metricId: i, agentId: 2 ** 32 - 1 - i, period: 1_795_000_000 + 60 * i, callCount: Math.floor(next() * 2 ** 40), totalTime: v, exclusiveTime: -v, minTime: v / 3, maxTime: v * 7, sumOfSquares: v * v }));
    const dbl = (v: number) => {
      const s = String(v);
      return s.includes('.') && !s.includes('e') ? `${s}e0` : s;
    };
    const tuple = (r: TimesliceRow) => `(${r.metricId},${r.agentId},${r.period},${r.callCount},${[r.totalTime, r.exclusiveTime, r.minTime, r.maxTime, r.sumOfSquares].map(dbl).join(',')})`;
    const cols = 'metric_id, agent_id, period, call_count, total_time, exclusive_time, min_time, max_time, sum_of_squares';
    expect(upsertSql('ts_1_2026112310', rows)).toBe(`INSERT INTO ts_1_2026112310 (${cols}) VALUES ${rows.map(tuple).join(',')} ON DUPLICATE KEY UPDATE ${upsertMergeList()}`);
    // Spot checks of the literal forms, and every double reads back as itself.
    expect([dbl(0.1 + 0.2), dbl(1e-7), dbl(1e21), dbl(2.5), dbl(3)]).toEqual(['0.30000000000000004e0', '1e-7', '1e+21', '2.5e0', '3']);
    for (const v of values) expect(Number(dbl(v))).toBe(v === 0 ? 0 : v);
  });

  it('refuses a row that is not finite (a bug), naming the value', () => {
    const r: TimesliceRow = { metricId: 1, agentId: 2, period: 60, callCount: 1, totalTime: Infinity, exclusiveTime: 0, minTime: 0, maxTime: 0, sumOfSquares: 0 };
    expect(() => upsertSql('t', [r])).toThrow('BUG: total time must be finite, got Infinity');
    expect(() => upsertSql('t', [])).toThrow('BUG: upsert of no rows');
  });
});

describe('statement text (lib/db/statement-text.ts)', () => {
  const format = (sql: string, values: unknown[]) => mysql.format(sql, values as never, false, 'Z');
  const conn = { escape: (v: unknown) => mysql.escape(v as never, false, 'Z'), format };
  const cases: [string, unknown[]][] = [
    ['UPDATE harvest_records SET version = version + 1, state = ? WHERE account_id = ? AND run_nonce = ? AND version = ?', [Buffer.from([0, 0x27, 0x5c, 0xff, 7]), 12, "no'nce\\", 3]],
    ['INSERT IGNORE INTO wl_20261206 (account_id, dedupe_key) VALUES (?, ?), (?, ?)', [1, Buffer.alloc(32, 0xab), 2, Buffer.alloc(32, 1)]],
    ['select `account_id`, `state` from `account_fences` where `account_id` in (?, ?) LOCK IN SHARE MODE', [5, 6]],
    ['SELECT ? AS a, ? AS b', [null, 'x"y\n']],
    // Not split (a quote, a comment, a placeholder between backticks, a wrong count): the driver's format.
    ["SELECT '?' AS q, ? AS v", [1]],
    ['SELECT ? -- ?', [1, 2]],
    ['SELECT `a?b`, ? FROM t', [1]],
    ['SELECT ?, ?', [1]],
  ];
  it('is the driver\'s format for every statement, split once or not', () => {
    for (const [sql, values] of cases) expect(statementText(conn, sql, values)).toBe(format(sql, values));
    // The same text again (cached split): same result.
    expect(statementText(conn, cases[0]![0], cases[0]![1])).toBe(format(cases[0]![0], cases[0]![1]));
  });
});

describe('compiled texts by shape (lib/db/statement-text.ts)', () => {
  it('compiles a statement once per shape and gives its text for other values of that shape; refuses a shape whose parameters are not its values', () => {
    let compiles = 0;
    const fences = (ids: number[]) => compiledText(`test-fences:${ids.length}`, ids, () => (compiles++, fenceReadQuery(ids, { lock: true })!.compile()));
    const two = fences([5, 6]);
    expect(two).toBe(fenceReadQuery([5, 6], { lock: true })!.compile().sql);
    expect(fences([7, 9])).toBe(two);
    expect(compiles).toBe(1);
    expect(fences([7, 8, 9])).toBe(fenceReadQuery([7, 8, 9], { lock: true })!.compile().sql);
    expect(compiles).toBe(2);
    expect(() => compiledText('test-other', [1, 2], () => ({ sql: 'SELECT ?', parameters: [1] }))).toThrow('BUG: the statement of shape test-other has other parameters than its values');
  });
});
