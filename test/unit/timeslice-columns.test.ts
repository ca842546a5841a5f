import { describe, expect, it } from 'vitest';
import { aggregateList, mergeByTable, upsertMergeList, VALUE_COLUMNS } from '../../lib/timeslice/timeslice-columns.js';
import { mergeTimeslices, type Timeslice } from '../../lib/timeslice/timeslice.js';

describe('timeslice column table', () => {
  it('the hand-written TypeScript merge equals the table merge', () => {
    const a: Timeslice = { callCount: 3, totalTime: 1.5, exclusiveTime: 1, minTime: 0.25, maxTime: 0.75, sumOfSquares: 0.875 };
    const b: Timeslice = { callCount: 2, totalTime: 0.5, exclusiveTime: 0.5, minTime: 0.125, maxTime: 0.375, sumOfSquares: 0.15625 };
    expect(mergeByTable(a, b)).toEqual(mergeTimeslices(a, b));
    expect(mergeByTable(a, b)).toEqual({ callCount: 5, totalTime: 2, exclusiveTime: 1.5, minTime: 0.125, maxTime: 0.75, sumOfSquares: 1.03125 });
  });

  it('generates the SQL forms', () => {
    expect(VALUE_COLUMNS).toEqual(['call_count', 'total_time', 'exclusive_time', 'min_time', 'max_time', 'sum_of_squares']);
    expect(upsertMergeList()).toBe(
      'call_count = call_count + VALUES(call_count), total_time = total_time + VALUES(total_time), exclusive_time = exclusive_time + VALUES(exclusive_time), ' +
        'min_time = LEAST(min_time, VALUES(min_time)), max_time = GREATEST(max_time, VALUES(max_time)), sum_of_squares = sum_of_squares + VALUES(sum_of_squares)',
    );
    expect(aggregateList(true)).toBe(
      'SUM(call_count) AS call_count, SUM(total_time) AS total_time, SUM(exclusive_time) AS exclusive_time, MIN(min_time) AS min_time, MAX(max_time) AS max_time, SUM(sum_of_squares) AS sum_of_squares',
    );
  });
});
