import { describe, expect, it } from 'vitest';
import { ledgerInsert, ledgerLockedRead, ledgerLookup } from '../../lib/shard/ledger-sql.js';
import { markLateQuery, sealLockQuery } from '../../lib/shard/shard-writer-seal.js';
import { deleteSql, periodsWhere } from '../../lib/ops/row-hash-sql.js';
import { countStatement, lossCheckStatement, sealStatement } from '../../rollup/rollup-sql.js';

const key = (accountId: number, byte: number) => ({ accountId, digest: Buffer.alloc(32, byte) });

describe('write ledger statements (lib/shard/ledger-sql.ts)', () => {
  it('inserts keys as (account_id, dedupe_key) pairs, with IGNORE only when asked', () => {
    const [a, b] = [key(7, 1), key(9, 2)];
    expect(ledgerInsert('wl_20240110', [a, b], true)).toEqual({
      sql: 'INSERT IGNORE INTO wl_20240110 (account_id, dedupe_key) VALUES (?, ?), (?, ?)',
      params: [7, a.digest, 9, b.digest],
    });
    expect(ledgerInsert('wl_20240110', [a], false).sql).toBe('INSERT INTO wl_20240110 (account_id, dedupe_key) VALUES (?, ?)');
  });

  it('reads a resend\'s keys FOR UPDATE and looks one key up', () => {
    const a = key(7, 1);
    expect(ledgerLockedRead('wl_20240110', [a, key(7, 3)]).sql).toBe(
      'SELECT account_id, dedupe_key FROM wl_20240110 WHERE (account_id, dedupe_key) IN ((?, ?), (?, ?)) FOR UPDATE',
    );
    expect(ledgerLookup('wl_20240110', a)).toEqual({ sql: 'SELECT 1 FROM wl_20240110 WHERE account_id = ? AND dedupe_key = ?', params: [7, a.digest] });
  });

  it('refuses a name that is not a ledger table, and an empty key list', () => {
    expect(() => ledgerLookup('wl_2024; DROP TABLE agents', key(1, 1))).toThrow(/BUG: .* is not a ledger table name/);
    expect(() => ledgerInsert('wl_20240110', [], true)).toThrow(/BUG: a ledger statement of no key/);
  });
});

describe('the writer\'s registry locks (lockMinuteSeals)', () => {
  it('locks in name order: FOR UPDATE for ended tables, LOCK IN SHARE MODE (MariaDB has no FOR SHARE) for open ones', () => {
    const names = ['ts_7_2024011004', 'ts_7_2024011005'];
    const x = sealLockQuery(names, true).compile();
    expect(x.sql).toBe('select `name`, `sealed_through` from `table_registry` where `name` in (?, ?) order by `name` for update');
    expect(x.parameters).toEqual(names);
    expect(sealLockQuery(names, false).compile().sql).toBe(
      'select `name`, `sealed_through` from `table_registry` where `name` in (?, ?) order by `name` LOCK IN SHARE MODE',
    );
  });

  it('marks rolled tables that got late rows dirty, and only those (rolling or done)', () => {
    const q = markLateQuery(['m_7_2026112310', 'm_7_2026112311']).compile();
    expect(q.sql).toBe('update `table_registry` set `rollup_state` = ? where `rollup_state` in (?, ?) and `name` in (?, ?)');
    expect(q.parameters).toEqual(['dirty', 'rolling', 'done', 'm_7_2026112310', 'm_7_2026112311']);
  });
});

describe('per-period statements moved into builders', () => {
  it('counts a period table\'s rows, all or at one period', () => {
    expect(countStatement('ts_7_2024011005')).toEqual({ sql: 'SELECT COUNT(*) AS n FROM `ts_7_2024011005`', params: [] });
    expect(countStatement('th_7_202401', 1704862800)).toEqual({ sql: 'SELECT COUNT(*) AS n FROM `th_7_202401` WHERE period = ?', params: [1704862800] });
    expect(() => countStatement('table_registry')).toThrow(/BUG/);
  });

  it('compares an hour\'s rolled keys with its minute rows (periods only for v2+ targets)', () => {
    const v2 = lossCheckStatement('ts_7_2024011005', 'th_7_202401', ['metric_id', 'periods'], 100, 3700);
    expect(v2.sql).toBe(
      'SELECT COUNT(*) AS keys_, SUM(t.periods > s.n) AS shrunk, COALESCE(SUM(s.n), 0) AS rows_ FROM ' +
        '(SELECT metric_id, agent_id, COUNT(*) AS n FROM `ts_7_2024011005` WHERE period >= ? AND period < ? GROUP BY metric_id, agent_id) s ' +
        'JOIN `th_7_202401` t ON t.metric_id = s.metric_id AND t.agent_id = s.agent_id AND t.period = ?',
    );
    expect(v2.params).toEqual([100, 3700, 100]);
    expect(lossCheckStatement('ts_7_2024011005', 'th_7_202401', ['metric_id'], 100, 3700).sql).toContain('0 AS shrunk');
  });

  it('seals an application\'s minutes from its agents\' rows (parameters: account, from, to)', () => {
    const s = sealStatement('ts_7_2024011005', 7, 60, 180);
    expect(s.params).toEqual([7, 60, 180]);
    expect(s.sql).toContain('FROM `ts_7_2024011005` r JOIN agents a ON a.account_id = ? AND a.id = r.agent_id ');
    expect(s.sql).toContain('WHERE r.period >= ? AND r.period < ? AND p.id <> a.id GROUP BY r.metric_id, p.id, r.period) s ON DUPLICATE KEY UPDATE ');
  });

  it('deletes the periods a move repairs', () => {
    expect(deleteSql('ts_7_2024011005', periodsWhere([60, 120]))).toEqual({ sql: 'DELETE FROM `ts_7_2024011005` WHERE period IN (?, ?)', params: [60, 120] });
    expect(() => periodsWhere([])).toThrow(/BUG: no period/);
  });
});
