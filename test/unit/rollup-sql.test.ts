import { describe, expect, it } from 'vitest';
import { recordsOf, rollupStatement, sourceCountStatement } from '../../rollup/rollup-sql.js';

const V1 = ['metric_id', 'agent_id', 'period', 'call_count', 'total_time', 'exclusive_time', 'min_time', 'max_time', 'sum_of_squares'];
const V2 = [...V1, 'periods'];

describe('rollupStatement', () => {
  it('compiles the hour rollup into a v2 table with the periods count', () => {
    const s = rollupStatement('ts_7_2024011005', 'th_7_202401', V2, 1704862800, 1704862800, 1704866400);
    expect(s.sql).toBe(
      'INSERT INTO `th_7_202401` (metric_id, agent_id, period, call_count, total_time, exclusive_time, min_time, max_time, sum_of_squares, periods) ' +
        'SELECT metric_id, agent_id, ?, SUM(call_count), SUM(total_time), SUM(exclusive_time), MIN(min_time), MAX(max_time), SUM(sum_of_squares), COUNT(*) ' +
        'FROM `ts_7_2024011005` WHERE period >= ? AND period < ? GROUP BY metric_id, agent_id ' +
        'ON DUPLICATE KEY UPDATE call_count = VALUES(call_count), total_time = VALUES(total_time), exclusive_time = VALUES(exclusive_time), ' +
        'min_time = VALUES(min_time), max_time = VALUES(max_time), sum_of_squares = VALUES(sum_of_squares), periods = VALUES(periods)',
    );
    expect(s.params).toEqual([1704862800, 1704862800, 1704866400]);
  });

  it('leaves out periods for a v1 target', () => {
    const s = rollupStatement('th_7_202401', 'td_7_2024', V1, 1704844800, 1704844800, 1704931200);
    expect(s.sql).not.toContain('periods');
    expect(s.sql).toContain('INSERT INTO `td_7_2024` (metric_id, agent_id, period, call_count, total_time, exclusive_time, min_time, max_time, sum_of_squares) SELECT');
  });

  it('refuses anything but our own table names as identifiers', () => {
    expect(() => rollupStatement('ts_7_2024011005; DROP TABLE x', 'th_7_202401', V2, 0, 0, 1)).toThrow(/BUG: .* is not a period table name/);
    expect(() => sourceCountStatement('metric_names', 0, 1)).toThrow(/BUG/);
    expect(sourceCountStatement('ts_1_2024011005', 5, 6)).toEqual({ sql: 'SELECT COUNT(*) AS n FROM `ts_1_2024011005` WHERE period >= ? AND period < ? LOCK IN SHARE MODE', params: [5, 6] });
  });
});

describe('recordsOf', () => {
  it('reads the rows an INSERT … SELECT produced', () => {
    expect(recordsOf('Records: 42  Duplicates: 40  Warnings: 0', 0)).toBe(42);
    expect(recordsOf('', 3)).toBe(3);
    expect(recordsOf(undefined, 0)).toBe(0);
  });
});
