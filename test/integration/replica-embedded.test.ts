import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAppConfig } from '../../bin/app-variables.js';
import { silentLog } from '../../lib/log/log.js';
import { replicaPairs } from '../../lib/mariadb/embedded-replicas.js';
import { startEmbeddedShards } from '../../lib/mariadb/embedded-shards.js';
import type { LocalMariadb } from '../../lib/mariadb/local-mariadb.js';
import { freePort } from '../harness/ports.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'apm-embedded-replicas-'));
let servers: LocalMariadb | undefined;

/** A base port whose next port is free too (primary, replica). */
async function twoFreePorts(): Promise<number> {
  for (;;) {
    const p = await freePort();
    const free = await new Promise<boolean>((resolve) => {
      const s = net.createServer().once('error', () => resolve(false)).listen(p + 1, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free && p < 65535) return p;
  }
}

async function query(port: number, sql: string): Promise<any[]> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', password: '' });
  try {
    return (await c.query<any[]>(sql))[0];
  } finally {
    await c.end();
  }
}

async function caughtUp(primary: number, replica: number): Promise<void> {
  const [pos] = await query(primary, 'SELECT @@GLOBAL.gtid_binlog_pos AS pos');
  const [r] = await query(replica, `SELECT MASTER_GTID_WAIT('${String(pos.pos)}', 30) AS done`);
  expect(Number(r.done)).toBe(0);
}

afterAll(async () => {
  await servers?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('APM_EMBEDDED_REPLICAS', () => {
  it('starts a GTID replica per shard, and re-creates a lost replica from its primary at rest', async () => {
    const base = await twoFreePorts();
    const config = loadAppConfig({ APM_DATA_DIR: dataDir, APM_EMBEDDED_SHARDS: '1', APM_EMBEDDED_BASE_PORT: String(base), APM_EMBEDDED_REPLICAS: '1', APM_MARIADB_BUFFER_POOL: '64M', APM_MARIADB_FLUSH_LOG_AT_TRX_COMMIT: '2' });
    servers = await startEmbeddedShards(config, silentLog);
    expect(replicaPairs(servers)).toEqual([{ primary: { host: '127.0.0.1', port: base }, replica: { host: '127.0.0.1', port: base + 1 } }]);
    expect((await query(base, 'SELECT @@log_bin AS b, @@binlog_format AS f'))[0]).toEqual({ b: 1, f: 'ROW' });
    const [status] = await query(base + 1, 'SHOW SLAVE STATUS');
    expect([status.Slave_IO_Running, status.Slave_SQL_Running, status.Using_Gtid, status.Master_Port]).toEqual(['Yes', 'Yes', 'Slave_Pos', base]);
    await query(base, 'CREATE DATABASE t1');
    await query(base, 'CREATE TABLE t1.x (id INT PRIMARY KEY, v DOUBLE)');
    await query(base, 'INSERT INTO t1.x VALUES (1, 0.1), (2, 1e-300)');
    await caughtUp(base, base + 1);
    expect(await query(base + 1, 'SELECT id, v FROM t1.x ORDER BY id')).toEqual([{ id: 1, v: 0.1 }, { id: 2, v: 1e-300 }]);

    // Lose the replica: the next start copies the primary (stopped) and replicates from its position.
    await servers.stop();
    fs.rmSync(path.join(dataDir, 'mariadb', 'replicas'), { recursive: true, force: true });
    servers = await startEmbeddedShards(config, silentLog);
    await query(base, 'INSERT INTO t1.x VALUES (3, 3.5)');
    await caughtUp(base, base + 1);
    expect(await query(base + 1, 'SELECT id, v FROM t1.x ORDER BY id')).toEqual([{ id: 1, v: 0.1 }, { id: 2, v: 1e-300 }, { id: 3, v: 3.5 }]);
    // A plain restart keeps replicating.
    await servers.stop();
    servers = await startEmbeddedShards(config, silentLog);
    await query(base, 'INSERT INTO t1.x VALUES (4, 4.5)');
    await caughtUp(base, base + 1);
    expect((await query(base + 1, 'SELECT COUNT(*) AS n FROM t1.x'))[0].n).toBe(4);
  }, 240_000);
});
