import { describe, expect, it } from 'vitest';
import { loadSql, loadText } from '../../lib/shard/shard-writer-load.js';
import { valuesTuple } from '../../lib/shard/shard-writer-sql.js';

describe('LOAD DATA text of the writer (lib/shard/shard-writer-load.ts)', () => {
  const row = { metricId: 7, agentId: 42, period: 1_795_000_000, callCount: 2 ** 53 - 1, totalTime: 0.1 + 0.2, exclusiveTime: 1e-300, minTime: 5e-324, maxTime: 1.7976931348623157e308, sumOfSquares: 1 / 3 };

  it('writes one tab-separated line per row in column order, numbers as the upsert writes them', () => {
    const text = loadText([row, { ...row, metricId: 8, totalTime: 1.5 }]).toString('latin1');
    expect(text).toBe(
      '7\t42\t1795000000\t9007199254740991\t0.30000000000000004\t1e-300\t5e-324\t1.7976931348623157e+308\t0.3333333333333333\n' +
        '8\t42\t1795000000\t9007199254740991\t1.5\t1e-300\t5e-324\t1.7976931348623157e+308\t0.3333333333333333\n',
    );
    // The very number texts of the upsert's VALUES tuple (same shortest round-trip form).
    expect(text.split('\n')[0]!.split('\t').join(',')).toBe(valuesTuple(row).slice(1, -1));
  });

  it('writes every number exactly as String() does: integers digit by digit, negatives, exponents, -0', () => {
    let seed = 7;
    const next = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const specials = [0, -0, 1, 9, 10, 99, 100, 2 ** 31, 2 ** 32 + 1, 1e15, 2 ** 53 - 1, 2 ** 53, 1e21, 3.0, -1, -2.5, -1e-7, 1e-7, 123456.789, Number.MAX_VALUE, -Number.MAX_VALUE, 5e-324, -2.2250738585072014e-308];
    const values = [...specials, ...Array.from({ length: 500 }, () => (next() - 0.3) * 10 ** Math.floor(next() * 40 - 20))];
    const rows = values.map((v, i) => ({ metricId: i, agentId: 2 ** 32 - 1 - i, period: 1_795_000_000 + 60 * i, callCount: Math.floor(next() * 2 ** 40), totalTime: v, exclusiveTime: -v, minTime: v / 3, maxTime: v * 7, sumOfSquares: v * v }));
    const expected = rows.map((r) => `${r.metricId}\t${r.agentId}\t${r.period}\t${r.callCount}\t${r.totalTime}\t${r.exclusiveTime}\t${r.minTime}\t${r.maxTime}\t${r.sumOfSquares}\n`).join('');
    expect(loadText(rows).toString('latin1')).toBe(expected);
    expect(loadText([]).length).toBe(0);
  });

  it('names our in-memory file, the columns, and no escaping', () => {
    expect(loadSql('ts_1_2026112310')).toBe(
      "LOAD DATA LOCAL INFILE 'apm-rows' INTO TABLE ts_1_2026112310 CHARACTER SET latin1 FIELDS TERMINATED BY '\\t' ESCAPED BY '' LINES TERMINATED BY '\\n' " +
        '(metric_id, agent_id, period, call_count, total_time, exclusive_time, min_time, max_time, sum_of_squares)',
    );
  });
});
