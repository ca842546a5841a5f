import { describe, expect, it } from 'vitest';
import { parseTableName, tableName } from '../../lib/shard/table-naming.js';
import { maxLag, rollupLag } from '../../rollup/rollup-lag.js';
import type { RollupState, TableState } from '../../rollup/table-state.js';

const D0 = Date.UTC(2024, 2, 1) / 1000;
const H = 3600;

function minute(accountId: number, t: number, state: RollupState): TableState {
  const name = tableName('minute', accountId, t);
  const p = parseTableName(name)!;
  return { name, accountId, kind: 'minute', start: p.start, end: p.end, state };
}

describe('rollupLag', () => {
  it('measures how far behind the oldest due, never rolled period is', () => {
    const tables = [minute(1, D0, 'open'), minute(1, D0 + H, 'rolling'), minute(1, D0 + 2 * H, 'done'), minute(1, D0 + 5 * H, 'dirty'), minute(2, D0 + 9 * H, 'open')];
    const now = D0 + 10 * H + 600; // grace 300: account 1's hour 0 was due at 01:05, 9 h 5 min ago
    const lags = rollupLag(tables, [{ accountId: 3, day: D0 - 86400, state: 'pending' }, { accountId: 2, day: D0 - 86400, state: 'dirty' }], now, 300);
    expect(lags).toEqual([
      { accountId: 1, lagSeconds: 9 * H + 300, pendingHours: 2, dirtyHours: 1, pendingDays: 0, dirtyDays: 0, oldestDue: D0 },
      { accountId: 2, lagSeconds: 300, pendingHours: 1, dirtyHours: 0, pendingDays: 0, dirtyDays: 1, oldestDue: D0 + 9 * H },
      { accountId: 3, lagSeconds: 10 * H + 300, pendingHours: 0, dirtyHours: 0, pendingDays: 1, dirtyDays: 0, oldestDue: D0 - 86400 },
    ]);
    expect(maxLag(lags)).toBe(10 * H + 300);
  });

  it('is zero when every due period is rolled, and ignores hours still within the grace period', () => {
    const lags = rollupLag([minute(1, D0, 'done'), minute(1, D0 + H, 'open')], [], D0 + 2 * H + 299, 300);
    expect(lags).toEqual([{ accountId: 1, lagSeconds: 0, pendingHours: 0, dirtyHours: 0, pendingDays: 0, dirtyDays: 0 }]);
    expect(maxLag([])).toBe(0);
  });
});
