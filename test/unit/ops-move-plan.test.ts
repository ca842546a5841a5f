import { describe, expect, it } from 'vitest';
import { blocksWrites } from '../../lib/shard/account-fence.js';
import { classifyRowTable } from '../../lib/ops/account-rows.js';
import { copyOrder, fenceDelta, recheckTables, recoveryOf, type MoveFacts, type RegistryEntry } from '../../lib/ops/move-plan.js';
import { differingPeriods } from '../../lib/ops/table-sync.js';

const move = (state: MoveFacts['state']): MoveFacts => ({ id: 7, accountId: 5, fromShard: 1, toShard: 2, state, tablesTotal: 40, tablesDone: 12 });

describe('recoveryOf: what an unfinished move can do next', () => {
  it('before the switch: resume or roll back, and says how', () => {
    for (const state of ['copying', 'syncing', 'switching'] as const) {
      const r = recoveryOf(move(state), { running: false, accountShard: 1 });
      expect(r).toMatchObject({ running: false, canResume: true, canRollback: true });
      expect(r.message).toContain(`was interrupted while ${state}`);
      expect(r.message).toContain('apm accounts move 5 --resume');
      expect(r.message).toContain('apm accounts move 5 --rollback');
    }
    expect(recoveryOf(move('copying'), { running: false, accountShard: 1 }).message).toContain('(12/40 tables)');
    expect(recoveryOf(move('switching'), { running: false, accountShard: 1 }).message).not.toContain('tables)');
  });

  it('after the switch (journal or directory says so): resume only', () => {
    for (const [state, shard] of [['switched', 2], ['switching', 2]] as const) {
      const r = recoveryOf(move(state), { running: false, accountShard: shard });
      expect(r).toMatchObject({ canResume: true, canRollback: false });
      expect(r.message).toMatch(/after the switch: the account already lives on shard 2; it can only be resumed/);
    }
  });

  it('running or finished: neither', () => {
    expect(recoveryOf(move('copying'), { running: true, accountShard: 1 })).toEqual({ running: true, canResume: false, canRollback: false, message: 'move 7 of account 5 (shard 1 → 2) is running: copying (12/40 tables)' });
    expect(recoveryOf(move('done'), { running: false, accountShard: 2 }).message).toBe('move 7 of account 5 (shard 1 → 2) is done');
    expect(recoveryOf(move('rolled_back'), { running: false, accountShard: 1 })).toMatchObject({ canResume: false, canRollback: false, message: 'move 7 of account 5 (shard 1 → 2) is rolled back' });
  });
});

const entry = (name: string, start: number, end: number, state: RegistryEntry['state'] = 'done', rolledAt: string | null = 'r1'): RegistryEntry => ({ name, kind: 'minute', start, end, state, rolledAt });

describe('copyOrder', () => {
  it('closed tables oldest first, then open ones', () => {
    const t = [entry('c', 300, 400), entry('a', 100, 200), entry('open', 500, 600), entry('b', 100, 300)];
    expect(copyOrder(t, 450).map((x) => x.name)).toEqual(['a', 'b', 'c', 'open']);
  });
});

describe('recheckTables: what the switch compares again', () => {
  const at = 100_000;
  const snap = [entry('old-done', 0, 3600), entry('old-open', 0, 3600, 'open', null), entry('recent-done', at - 3600, at - 1800), entry('old-dirty', 0, 3600, 'dirty')];
  it('skips only tables rolled before, unchanged since, and ended long before the snapshot', () => {
    expect(recheckTables(snap, snap, at)).toEqual(['old-open', 'recent-done', 'old-dirty']);
  });
  it('a table turned dirty, rolled again, or new since the snapshot is compared again', () => {
    const now = [entry('old-done', 0, 3600, 'dirty'), entry('old-open', 0, 3600, 'open', null), entry('recent-done', at - 3600, at - 1800), entry('old-dirty', 0, 3600, 'dirty'), entry('new', at, at + 3600, 'open', null)];
    expect(recheckTables(snap, now, at)).toEqual(['old-done', 'old-open', 'recent-done', 'old-dirty', 'new']);
    const rerolled = [entry('old-done', 0, 3600, 'done', 'r2')];
    expect(recheckTables([entry('old-done', 0, 3600)], rerolled, at)).toEqual(['old-done']);
    expect(recheckTables([entry('old-done', 0, 3600)], [entry('old-done', 0, 3600)], at)).toEqual([]);
  });
});

describe('classifyRowTable', () => {
  it.each([
    ['metric_names', 'insert-only'],
    ['application_metrics', 'insert-only'],
    ['agents', 'insert-only'],
    ['wl_20261123', 'insert-only'],
    ['account_counters', 'counters'],
    ['rollup_days', 'replace'],
    ['harvest_records', 'replace'],
    ['some_future_table', 'replace'],
    ['table_registry', 'skip'],
    ['account_fences', 'skip'],
    ['ts_5_2026112301', 'skip'],
    ['template_hour_v2', 'skip'],
  ])('%s → %s', (name, mode) => expect(classifyRowTable(name)).toBe(mode));
});

describe('fences and periods', () => {
  it('blocksWrites: away always, fenced only while its lease holds', () => {
    expect(blocksWrites({ state: 'open', leased: false })).toBe(false);
    expect(blocksWrites({ state: 'away', leased: false })).toBe(true);
    expect(blocksWrites({ state: 'fenced', leased: true })).toBe(true);
    expect(blocksWrites({ state: 'fenced', leased: false })).toBe(false);
  });

  it('differingPeriods: changed, missing and extra periods', () => {
    const src = new Map([[60, '1:a'], [120, '2:b'], [180, '1:c']]);
    const dst = new Map([[60, '1:a'], [120, '2:x'], [240, '1:d']]);
    expect(differingPeriods(src, dst)).toEqual([120, 180, 240]);
    expect(differingPeriods(src, src)).toEqual([]);
  });
});

describe('fenceDelta: what the fenced part of a switch compares', () => {
  const reg = [entry('a', 0, 3600, 'open', null), entry('b', 3600, 7200, 'open', null), entry('c', 7200, 10800, 'done', 'r1'), entry('d', 10800, 14400, 'open', null), entry('e', 0, 1, 'open', null)];
  const pre = { equal: new Set(['a', 'b', 'c', 'd']), registry: reg, startedAt: 5000.7 };
  it('skips tables equal before the fence with no commit since; keeps the rest', () => {
    const updated = new Map<string, number | null>([['a', 4999], ['b', 5000], ['c', 100], ['d', null], ['e', 10]]);
    // a: last commit before the pass; b: commit in the pass's second; d: unknown; e: not equal before.
    expect(fenceDelta(['a', 'b', 'c', 'd', 'e'], pre, reg, updated)).toEqual(['b', 'd', 'e']);
  });
  it('a registry change since the pass (rolled, dirty, new) or an unknown table is compared again', () => {
    const now = [entry('a', 0, 3600, 'dirty', null), entry('b', 3600, 7200, 'open', null), entry('c', 7200, 10800, 'done', 'r2'), entry('f', 0, 1, 'open', null)];
    const updated = new Map<string, number | null>([['a', 1], ['b', 1], ['c', 1], ['f', 1]]);
    expect(fenceDelta(['a', 'b', 'c', 'f', 'gone'], pre, now, updated)).toEqual(['a', 'c', 'f', 'gone']);
  });
});
