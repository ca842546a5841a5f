import { describe, expect, it } from 'vitest';
import { bulkGroups, bulkUpsertSql } from '../../lib/shard/shard-writer-bulk-trip.js';
import type { TimesliceRow } from '../../lib/timeslice/timeslice.js';

const row = (metricId: number, totalTime: number, callCount = 1): TimesliceRow => ({ metricId, agentId: 7, period: 1_796_572_860, callCount, totalTime, exclusiveTime: 0.25, minTime: 0.5, maxTime: 1.5, sumOfSquares: 0.75 });

describe('bulk trip rows (lib/shard/shard-writer-bulk-trip.ts)', () => {
  it('groups rows by the parameter types the connector sends (INT for an integer in the 32-bit range, else DOUBLE), keeping their order within a group', () => {
    const rows = [row(1, 0.5), row(2, 2), row(3, 0.75), row(4, 2147483647), row(5, 3), row(6, 0.1, 2 ** 31), row(7, -2147483648), row(8, -2147483649)];
    expect(bulkGroups(rows).map((g) => g.map((values) => values[0]))).toEqual([[1, 3, 4, 8], [2, 5, 7], [6]]);
  });

  it('gives each row its values in the upsert\'s column order', () => {
    expect(bulkGroups([row(9, 0.125)])).toEqual([[[9, 7, 1_796_572_860, 1, 0.125, 0.25, 0.5, 1.5, 0.75]]]);
    expect(bulkUpsertSql('minute_1_2')).toBe(
      'INSERT INTO minute_1_2 (metric_id, agent_id, period, call_count, total_time, exclusive_time, min_time, max_time, sum_of_squares) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE ' +
        'call_count = call_count + VALUES(call_count), total_time = total_time + VALUES(total_time), exclusive_time = exclusive_time + VALUES(exclusive_time), ' +
        'min_time = LEAST(min_time, VALUES(min_time)), max_time = GREATEST(max_time, VALUES(max_time)), sum_of_squares = sum_of_squares + VALUES(sum_of_squares)',
    );
  });
});
