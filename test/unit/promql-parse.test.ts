import { describe, expect, it } from 'vitest';
import { parsePromQL } from '../../dashboard/prometheus/promql-parse.js';
import { durationSeconds, stringValue } from '../../dashboard/prometheus/promql-literals.js';
import { formatValue } from '../../dashboard/prometheus/prom-format.js';
import { parseDuration, parseTime } from '../../dashboard/prometheus/prom-params.js';

describe('PromQL through the Prometheus grammar', () => {
  it('selectors with all four matcher kinds, ranges and offsets', () => {
    expect(parsePromQL('rate(apm_calls_total{app="shop",metric=~"Web.*",scope!="",host!~"x|y"}[1h30m] offset -5m)')).toEqual({
      kind: 'call',
      name: 'rate',
      args: [{
        kind: 'matrix',
        range: 5400,
        selector: {
          kind: 'selector',
          offset: -300,
          matchers: [
            { name: '__name__', type: '=', value: 'apm_calls_total' },
            { name: 'app', type: '=', value: 'shop' },
            { name: 'metric', type: '=~', value: 'Web.*' },
            { name: 'scope', type: '!=', value: '' },
            { name: 'host', type: '!~', value: 'x|y' },
          ],
        },
      }],
    });
  });

  it('aggregations with the modifier before or after, and precedence of binary operators', () => {
    expect(parsePromQL('topk(3, x) without (a)')).toMatchObject({ kind: 'aggregate', op: 'topk', param: { kind: 'number', value: 3 }, grouping: ['a'], without: true });
    expect(parsePromQL('sum by (app) (x) / on(app) y > bool 2')).toMatchObject({
      kind: 'binary', op: '>', returnBool: true,
      lhs: { kind: 'binary', op: '/', matching: { on: true, labels: ['app'] }, lhs: { kind: 'aggregate', op: 'sum', grouping: ['app'] } },
      rhs: { kind: 'number', value: 2 },
    });
  });

  it('literals: durations, numbers, strings in the three quotings', () => {
    expect(durationSeconds('1d2h3m4s')).toBe(93784);
    expect(durationSeconds('90')).toBe(90);
    expect(durationSeconds('250ms')).toBe(0.25);
    expect(stringValue('"a\\"b\\n\\x41\\u00e9"')).toBe('a"b\nAé');
    expect(stringValue("'it\\'s'")).toBe("it's");
    expect(stringValue('`raw\\n`')).toBe('raw\\n');
    expect(parsePromQL('0x10 + 1e3 + Inf')).toMatchObject({ lhs: { lhs: { value: 16 }, rhs: { value: 1000 } }, rhs: { value: Infinity } });
  });
});

describe('API encoding and parameters', () => {
  it.each([
    [0.5, '0.5'], [1e21, '1000000000000000000000'], [1.5e-7, '0.00000015'], [-2.5e22, '-25000000000000000000000'],
    [Number.NaN, 'NaN'], [Infinity, '+Inf'], [-Infinity, '-Inf'], [42, '42'],
  ])('formatValue(%d) = %s', (v, s) => {
    expect(formatValue(v)).toBe(s);
  });

  it('times in Unix seconds or RFC 3339, durations in seconds or PromQL form (ms)', () => {
    expect(parseTime('1700000000.5', 'time')).toBe(1_700_000_000_500);
    expect(parseTime('2026-11-23T10:00:00Z', 'time')).toBe(Date.UTC(2026, 10, 23, 10));
    expect(parseTime('2026-11-23T11:00:00.250+01:00', 'time')).toBe(Date.UTC(2026, 10, 23, 10) + 250);
    expect(() => parseTime('yesterday', 'start')).toThrow('invalid parameter "start"');
    expect(parseDuration('15s', 'step')).toBe(15_000);
    expect(parseDuration('0.5', 'step')).toBe(500);
    expect(parseDuration('1m30s', 'step')).toBe(90_000);
  });
});

describe('the SQL of a pushed-down sum (dashboard/series-sql.ts, sumMetrics)', () => {
  it('groups by bucket only, under the first metric id, every value a parameter', async () => {
    const { compileSeriesQuery, READ_COLUMNS } = await import('../../dashboard/series-sql.js');
    const q = compileSeriesQuery({
      segments: [{ table: 'ts_7_2026112310', kind: 'minute', version: 1, columns: [...READ_COLUMNS], from: 200, to: 500 }],
      agentId: 3,
      metricIds: [11, 12],
      bucket: 300,
      sumMetrics: true,
    })!;
    expect(q.sql).toBe(
      'SELECT ? AS metric_id, (period DIV ?) * ? AS bucket, SUM(call_count) AS call_count, SUM(total_time) AS total_time, SUM(exclusive_time) AS exclusive_time, MIN(min_time) AS min_time, MAX(max_time) AS max_time, SUM(sum_of_squares) AS sum_of_squares FROM `ts_7_2026112310` WHERE agent_id = ? AND metric_id IN (?, ?) AND period >= ? AND period < ? GROUP BY bucket',
    );
    expect(q.parameters).toEqual([11, 300, 300, 3, 11, 12, 200, 500]);
  });
});
