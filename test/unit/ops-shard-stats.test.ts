import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { adminToken, bearerToken, tokenMatches } from '../../admin/admin-token.js';
import { progressLine } from '../../bin/commands/move-progress.js';
import { shardRow } from '../../bin/commands/shard-view.js';
import { formatBytes, parseReplicaHosts, parseReplicaStatus, replicationSummary, rowsPerMinute, writeSampleOf } from '../../lib/ops/replication-status.js';
import type { ShardStats } from '../../lib/ops/shard-stats.js';

describe('replication status', () => {
  it('reads MariaDB (Slave_/Master_) and MySQL 8 (Replica_/Source_) fields', () => {
    expect(parseReplicaStatus([])).toBeUndefined();
    expect(parseReplicaStatus([{ Master_Host: '10.0.0.1', Master_Port: 3306, Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes', Seconds_Behind_Master: 4, Last_IO_Error: '', Last_SQL_Error: '' }])).toEqual({
      lagSeconds: 4, ioRunning: true, sqlRunning: true, primary: '10.0.0.1:3306',
    });
    expect(parseReplicaStatus([{ Source_Host: 'db1', Source_Port: 3307, Replica_IO_Running: 'Connecting', Replica_SQL_Running: 'Yes', Seconds_Behind_Source: null, Last_IO_Error: 'error connecting to master' }])).toEqual({
      lagSeconds: null, ioRunning: false, sqlRunning: true, primary: 'db1:3307', error: 'error connecting to master',
    });
  });

  it('lists registered replicas with a host and port only', () => {
    expect(parseReplicaHosts([{ Server_id: 2, Host: '127.0.0.1', Port: 3310, Master_id: 1 }, { Server_id: 3, Host: '', Port: 3306 }])).toEqual([{ serverId: 2, host: '127.0.0.1', port: 3310 }]);
  });

  it('summarises for people', () => {
    expect(replicationSummary({ replicas: [] })).toBe('none');
    expect(replicationSummary({ replicaOf: { lagSeconds: 3, ioRunning: true, sqlRunning: true, primary: 'a:1' }, replicas: [] })).toBe('replica of a:1, lag 3 s');
    expect(replicationSummary({ replicaOf: { lagSeconds: null, ioRunning: false, sqlRunning: true, error: 'boom' }, replicas: [{ address: 'r:2', lagSeconds: 7 }, { address: 'r:3', lagSeconds: null, error: 'cannot ask replica: x' }] })).toBe(
      'replica of ?, broken: boom; replica r:2: lag 7 s; replica r:3: cannot ask replica: x',
    );
  });
});

describe('rows written per minute', () => {
  it('sums inserted + updated and rates them over the window', () => {
    const s = (at: number, ins: number, upd: number) => writeSampleOf([{ Variable_name: 'Innodb_rows_inserted', Value: String(ins) }, { Variable_name: 'Innodb_rows_updated', Value: upd }, { Variable_name: 'Innodb_rows_read', Value: 999 }], at);
    expect(s(0, 10, 5)).toEqual({ at: 0, rows: 15 });
    expect(rowsPerMinute([s(0, 10, 5)])).toBeNull();
    expect(rowsPerMinute([s(0, 10, 5), s(1000, 30, 5)])).toBe(1200);
    expect(rowsPerMinute([s(0, 0, 0), s(30_000, 100, 0), s(60_000, 150, 50)])).toBe(200);
    // a server restart resets the counters: the new count is taken from zero
    expect(rowsPerMinute([s(0, 1000, 0), s(60_000, 40, 0)])).toBe(40);
    expect(rowsPerMinute([s(5, 1, 0), s(5, 2, 0)])).toBeNull();
  });

  it('formats bytes', () => {
    expect([formatBytes(null), formatBytes(512), formatBytes(1536), formatBytes(5 * 1024 ** 3)]).toEqual(['-', '512 B', '1.5 KiB', '5.0 GiB']);
  });
});

describe('CLI views', () => {
  const stats: ShardStats = {
    id: 2, address: '127.0.0.1:3307', state: 'closed', accounts: 12, movesIn: 1, movesOut: 0, fenced: 1,
    health: { reachable: true, latencyMs: 0.4, version: '10.11', replicas: [] },
    tables: { minute: 120, hour: 5, day: 1 }, dataBytes: 2048, rowsPerMinute: 3400,
  };
  it('a shard row', () => {
    expect(shardRow(stats)).toEqual({ id: 2, address: '127.0.0.1:3307', state: 'closed', health: 'up 0.4 ms', accounts: 12, moving: '1 in, 1 fenced', 'tables m/h/d': '120/5/1', size: '2.0 KiB', 'rows/min': 3400, replication: 'none' });
    const down = shardRow({ ...stats, health: { reachable: false, latencyMs: null, version: null, error: 'connect ECONNREFUSED', replicas: [] }, tables: null, dataBytes: null, rowsPerMinute: null, movesIn: 0, fenced: 0 });
    expect(down).toMatchObject({ health: 'DOWN (connect ECONNREFUSED)', moving: '-', 'tables m/h/d': '-', size: '-', 'rows/min': '-', replication: '-' });
  });
  it('the progress bar', () => {
    expect(progressLine({ moveId: 1, accountId: 5, phase: 'copying', tablesDone: 10, tablesTotal: 40, rowsCopied: 123456, detail: 'ts_5_2026112301' }, 8)).toBe('[##......] 10/40 tables  123,456 rows  copying ts_5_2026112301');
    expect(progressLine({ moveId: 1, accountId: 5, phase: 'done', tablesDone: 0, tablesTotal: 0, rowsCopied: 0 }, 4)).toBe('[####] 0/0 tables  0 rows  done');
  });
});

describe('admin token', () => {
  it('takes a configured token of at least 24 characters', () => {
    expect(adminToken('x'.repeat(24), '/nonexistent')).toEqual({ token: 'x'.repeat(24) });
    expect(() => adminToken('short', '/nonexistent')).toThrow(/at least 24 characters/);
  });
  it('makes one once in the data directory (mode 0600) and reuses it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'apm-admin-'));
    try {
      const a = adminToken(undefined, dir);
      expect(a.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(a.file).toBe(path.join(dir, 'admin-token'));
      expect(fs.statSync(a.file!).mode & 0o777).toBe(0o600);
      expect(adminToken(undefined, dir)).toEqual(a);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  it('reads bearer headers and compares in constant time', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer  abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken('')).toBeUndefined();
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abc', 'abd')).toBe(false);
    expect(tokenMatches('ab', 'abc')).toBe(false);
  });
});
