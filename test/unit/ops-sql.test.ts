import { describe, expect, it } from 'vitest';
import { checksumSql, chunkSql, greatestUpsertSql, ident, insertSql, keysetWhere, periodChecksumSql, rowHashExpr } from '../../lib/ops/row-hash-sql.js';

describe('row hash and checksum SQL', () => {
  it('hashes every column QUOTE()d, joined by |, as a 64-bit integer', () => {
    expect(rowHashExpr(['a', 'b'])).toBe("CAST(CONV(SUBSTRING(MD5(CONCAT_WS('|', QUOTE(`a`), QUOTE(`b`))), 1, 16), 16, 10) AS UNSIGNED)");
    expect(checksumSql('ts_5_2026112301', ['a'], { sql: 'account_id = ?', params: [5] })).toBe(
      "SELECT COUNT(*) AS n, COALESCE(BIT_XOR(CAST(CONV(SUBSTRING(MD5(CONCAT_WS('|', QUOTE(`a`))), 1, 16), 16, 10) AS UNSIGNED)), 0) AS h FROM `ts_5_2026112301` WHERE account_id = ?",
    );
    expect(periodChecksumSql('t', ['period'])).toMatch(/^SELECT period AS p, COUNT\(\*\) AS n, BIT_XOR\(.*\) AS h FROM `t` GROUP BY period$/);
  });

  it('refuses anything but plain identifiers', () => {
    expect(() => ident('a`; DROP TABLE x')).toThrow(/BUG: .* is not a plain SQL identifier/);
    expect(() => ident('')).toThrow(/BUG/);
    expect(() => rowHashExpr([])).toThrow(/at least one column/);
  });
});

describe('keyset pagination', () => {
  it('one key', () => {
    expect(keysetWhere(['id'], [7])).toEqual({ sql: '`id` > ?', params: [7] });
  });
  it('three keys nest OR/AND in key order', () => {
    expect(keysetWhere(['m', 'a', 'p'], [1, 2, 3])).toEqual({ sql: '(`m` > ? OR (`m` = ? AND (`a` > ? OR (`a` = ? AND `p` > ?))))', params: [1, 1, 2, 2, 3] });
  });
  it('refuses mismatched keys and values', () => {
    expect(() => keysetWhere(['a', 'b'], [1])).toThrow(/BUG: keyset of 2 keys after 1 values/);
  });
  it('chunks in key order, after the last key, within a filter', () => {
    expect(chunkSql('agents', ['account_id', 'id', 'host'], ['account_id', 'id'], 500, { sql: 'account_id = ?', params: [5] }, [5, 9])).toEqual({
      sql: 'SELECT `account_id`, `id`, `host` FROM `agents` WHERE (account_id = ?) AND ((`account_id` > ? OR (`account_id` = ? AND `id` > ?))) ORDER BY `account_id`, `id` LIMIT 500',
      params: [5, 5, 5, 9],
    });
    expect(chunkSql('t', ['a'], ['a'], 10)).toEqual({ sql: 'SELECT `a` FROM `t` ORDER BY `a` LIMIT 10', params: [] });
    expect(() => chunkSql('t', ['a'], ['a'], 0)).toThrow(/positive integer/);
  });
});

describe('inserts', () => {
  it('plain, ignore, and greatest-wins for counters', () => {
    expect(insertSql('metric_names', ['account_id', 'id'], 'ignore')).toBe('INSERT IGNORE INTO `metric_names` (`account_id`, `id`) VALUES ?');
    expect(insertSql('t', ['a'], 'insert')).toBe('INSERT INTO `t` (`a`) VALUES ?');
    expect(greatestUpsertSql('account_counters', ['account_id', 'next_metric_id', 'next_agent_id'], ['account_id'])).toBe(
      'INSERT INTO `account_counters` (`account_id`, `next_metric_id`, `next_agent_id`) VALUES ? ON DUPLICATE KEY UPDATE `next_metric_id` = GREATEST(`next_metric_id`, VALUES(`next_metric_id`)), `next_agent_id` = GREATEST(`next_agent_id`, VALUES(`next_agent_id`))',
    );
    expect(greatestUpsertSql('k', ['a'], ['a'])).toBe('INSERT IGNORE INTO `k` (`a`) VALUES ?');
  });
});
