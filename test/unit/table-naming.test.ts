import { describe, expect, it } from 'vitest';
import { ledgerTableName, nextTableSpanStart, parseLedgerTableName, parseTableName, parseTemplateName, rowPeriodStart, tableName, tableSpanStart, templateName } from '../../lib/shard/table-naming.js';

const t = Date.UTC(2026, 10, 23, 14, 37, 12) / 1000; // 2026-11-23T14:37:12Z

describe('table naming', () => {
  it.each([
    ['minute', 'ts_42_2026112314', Date.UTC(2026, 10, 23, 14) / 1000, Date.UTC(2026, 10, 23, 15) / 1000],
    ['hour', 'th_42_202611', Date.UTC(2026, 10, 1) / 1000, Date.UTC(2026, 11, 1) / 1000],
    ['day', 'td_42_2026', Date.UTC(2026, 0, 1) / 1000, Date.UTC(2027, 0, 1) / 1000],
  ] as const)('%s tables: name, span and inverse', (kind, name, start, end) => {
    expect(tableName(kind, 42, t)).toBe(name);
    expect(tableSpanStart(kind, t)).toBe(start);
    expect(nextTableSpanStart(kind, t)).toBe(end);
    expect(parseTableName(name)).toEqual({ kind, accountId: 42, start, end });
    expect(tableName(kind, 42, start)).toBe(name);
    expect(tableName(kind, 42, end - 1)).toBe(name);
    expect(tableName(kind, 42, end)).not.toBe(name);
  });

  it('row periods align to minute, hour and day', () => {
    expect(rowPeriodStart('minute', t)).toBe(Date.UTC(2026, 10, 23, 14, 37) / 1000);
    expect(rowPeriodStart('hour', t)).toBe(Date.UTC(2026, 10, 23, 14) / 1000);
    expect(rowPeriodStart('day', t)).toBe(Date.UTC(2026, 10, 23) / 1000);
  });

  it('December rolls over into the next year', () => {
    const dec = Date.UTC(2026, 11, 31, 23, 59) / 1000;
    expect(nextTableSpanStart('hour', dec)).toBe(Date.UTC(2027, 0, 1) / 1000);
    expect(tableName('minute', 1, dec)).toBe('ts_1_2026123123');
  });

  it.each(['ts_0_2026112314', 'ts_1_20261123', 'ts_1_2026113014x', 'ts_1_2026023014', 'ts_1_2026112324', 'tx_1_2026', 'ts_01_2026112314', 'ts_1_2026112314; DROP TABLE x', 'th_1_202613', 'td_5_1969'])(
    'rejects %s',
    (name) => expect(parseTableName(name)).toBeUndefined(),
  );

  it('builds identifiers from integers only', () => {
    expect(() => tableName('minute', 0, t)).toThrow(/positive 32-bit integer/);
    expect(() => tableName('minute', 1.5, t)).toThrow(/positive 32-bit integer/);
    expect(() => tableName('minute', 2 ** 32, t)).toThrow(/positive 32-bit integer/);
    expect(() => tableName('minute', 1, NaN)).toThrow(/finite/);
  });

  it('names templates and ledgers with inverses', () => {
    expect(templateName('hour', 2)).toBe('template_hour_v2');
    expect(parseTemplateName('template_hour_v2')).toEqual({ kind: 'hour', version: 2 });
    expect(parseTemplateName('template_week_v1')).toBeUndefined();
    expect(ledgerTableName(t)).toBe('wl_20261123');
    expect(parseLedgerTableName('wl_20261123')).toBe(Date.UTC(2026, 10, 23) / 1000);
    expect(parseLedgerTableName('wl_20261131')).toBeUndefined();
  });
});
