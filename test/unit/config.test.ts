import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/config/config.js';
import { allVariables, loadAppConfig } from '../../bin/app-variables.js';
import { autoBufferPoolBytes, hardOpenFilesLimit, mariadbArgs, openFilesLimitFor, parseByteSize, tableCacheFor, tablesPerAccount } from '../../lib/mariadb/mariadb-settings.js';
import { nextShard } from '../../lib/directory/directory.js';

describe('config', () => {
  it('applies defaults and is frozen', () => {
    const c = loadAppConfig({});
    expect(c.num('APM_EMBEDDED_SHARDS')).toBe(2);
    expect(c.str('APM_BIND_HOST')).toBe('127.0.0.1');
    expect(c.list('APM_SHARDS')).toEqual([]);
    expect(Object.isFrozen(c)).toBe(true);
    expect(() => c.num('APM_NOPE')).toThrow(/BUG: configuration variable APM_NOPE is not declared/);
  });

  it('reports every bad value and unknown variable at once, each by name', () => {
    let err: unknown;
    try {
      loadAppConfig({ APM_EMBEDDED_SHARDS: '0', APM_EMBEDDED_BASE_PORT: '70000', APM_MARIADB_FLUSH_LOG_AT_TRX_COMMIT: '3', APM_DIRECTORY: 'nohost', APM_SHARDSS: 'x', APM_WRITER_BATCH_ROWS: '1.5', PATH: '/bin' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      'APM_DIRECTORY="nohost": must be host:port',
      'APM_EMBEDDED_SHARDS="0": must be at least 1',
      'APM_EMBEDDED_BASE_PORT="70000": must be at most 65535',
      'APM_MARIADB_FLUSH_LOG_AT_TRX_COMMIT="3": must be one of 1, 2',
      'APM_WRITER_BATCH_ROWS="1.5": must be a whole number',
      "APM_SHARDSS is not a known variable (see the README's configuration table)",
    ]);
  });

  it('parses lists, booleans and overrides', () => {
    const c = loadAppConfig({ APM_SHARDS: '10.0.0.1:3306, 10.0.0.2:3306' });
    expect(c.list('APM_SHARDS')).toEqual(['10.0.0.1:3306', '10.0.0.2:3306']);
    expect(c.with({ APM_EMBEDDED_SHARDS: '3' }).num('APM_EMBEDDED_SHARDS')).toBe(3);
  });

  it('documents every variable', () => {
    for (const v of allVariables()) {
      expect(v.name).toMatch(/^APM_[A-Z0-9_]+$/);
      expect(v.doc.length).toBeGreaterThan(10);
    }
  });
});

describe('MariaDB settings', () => {
  it('sizes the buffer pool from memory', () => {
    expect(autoBufferPoolBytes(2, 24 * 1024 ** 3)).toBe(7296 * 1024 ** 2); // 60% of 24 GiB / 2 = 7372.8 MiB → 7296 MiB
    expect(autoBufferPoolBytes(16, 1024 ** 3)).toBe(128 * 1024 ** 2);
    expect(parseByteSize('4G')).toBe(4 * 1024 ** 3);
    expect(parseByteSize('512m')).toBe(512 * 1024 ** 2);
    expect(parseByteSize('lots')).toBeUndefined();
  });

  it('passes --no-defaults first and the chosen settings', () => {
    const args = mariadbArgs({ dataDir: '/d', port: 3307, socket: '/s', tmpDir: '/t', pidFile: '/p', errorLog: '/e', bufferPoolBytes: 1 << 30, logFileBytes: 1 << 29, flushLogAtTrxCommit: 1, tableCache: 8000 });
    expect(args[0]).toBe('--no-defaults');
    expect(args).toContain('--innodb-buffer-pool-size=1073741824');
    expect(args).toContain('--innodb-flush-log-at-trx-commit=1');
    expect(args).toContain('--table-open-cache=8000');
    expect(args).toContain('--bind-address=127.0.0.1');
    expect(args).toContain('--table-definition-cache=8000');
    expect(args).toContain('--innodb-file-per-table=OFF');
    expect(args).toContain('--innodb-open-files=4000');
  });

  it('derives the table caches and open files from the expected accounts', () => {
    expect(tableCacheFor(1)).toBe(2000);
    expect(tableCacheFor(100)).toBe(2000);
    expect(tableCacheFor(1500)).toBe(11500); // 1500 × 6 × 1.25 = 11250 → next 500
    expect(tableCacheFor(10000)).toBe(75000);
    expect(openFilesLimitFor(11500)).toBe(2 * 11500 + 1000 + 4000 + 200);
    expect(openFilesLimitFor(2000)).toBe(4000 + 1000 + 2000 + 200);
    expect(openFilesLimitFor(11500, 20000)).toBe(20000);
    expect(hardOpenFilesLimit('Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n')).toBe(524288);
    expect(hardOpenFilesLimit('Max open files            unlimited            unlimited            files\n')).toBeUndefined();
    // 8 days of minute tables, 90 days of hours (5 months), a year of days (2 years): 192 + 1 + 5 + 2.
    expect(tablesPerAccount({ minuteDays: 8, hourDays: 90, dayDays: 365 })).toBe(200);
    expect(tablesPerAccount({ minuteDays: 8, hourDays: 90, dayDays: null })).toBe(208);
  });
});

describe('round-robin choice', () => {
  const shards = [
    { id: 1, address: 'a:1', state: 'open' as const },
    { id: 2, address: 'b:1', state: 'closed' as const },
    { id: 3, address: 'c:1', state: 'open' as const },
  ];
  it.each([
    [0, 1],
    [1, 3],
    [2, 3],
    [3, 1],
  ])('after shard %i comes shard %i, skipping the closed one', (last, next) => {
    expect(nextShard(shards, last)?.id).toBe(next);
  });
  it('has nothing when every shard is closed', () => {
    expect(nextShard(shards.map((s) => ({ ...s, state: 'closed' as const })), 0)).toBeUndefined();
  });
});
