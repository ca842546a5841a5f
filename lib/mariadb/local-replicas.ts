import fs from 'node:fs';
import path from 'node:path';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import type { Credentials, ServerAddress } from '../db/connect.js';
import { LocalMariadb, type LocalMariadbOptions } from './local-mariadb.js';

/**
 * Local read replicas: MariaDB asynchronous replication with GTID, one replica per primary.
 *
 * - Primary: binary log in its data directory (binlog.*), row format with minimal row images (exact
 *   doubles on the replica whatever the statement; the writer's upserts log only the changed columns),
 *   sync_binlog=1 when innodb_flush_log_at_trx_commit=1 (an acknowledged batch survives an OS crash on
 *   the replica's source too), logs kept 2 days.
 * - Replica: read-only, relay log in its data directory, server id 1001+index; replication restarts by
 *   itself with the server (the connection is kept in the replica's master.info).
 */
export function primaryReplicationArgs(index: number, durable: boolean): string[] {
  return [
    '--log-bin=binlog',
    `--server-id=${index + 1}`,
    '--binlog-format=ROW',
    '--binlog-row-image=MINIMAL',
    `--sync-binlog=${durable ? 1 : 0}`,
    '--binlog-expire-logs-seconds=172800',
  ];
}

export function replicaArgs(index: number): string[] {
  return [`--server-id=${1001 + index}`, '--read-only=ON', '--relay-log=relay-bin', '--relay-log-recovery=ON'];
}

const NOT_COPIED = /^(binlog\.|relay-bin\.|master\.info$|relay-log\.info$|multi-master\.info$|.*\.pid$|.*\.sock$)/;

/**
 * A replica's data directory from its primary's, while the primary is stopped (`npm start` does this
 * before starting the servers): the copy is exactly the primary's state, so replication starts from
 * the primary's binary log position at its next start. Without a primary data directory (first start)
 * nothing is copied: both servers are initialised empty. Returns whether it copied.
 */
export function copyPrimaryForReplica(primaryDataDir: string, replicaDataDir: string): boolean {
  if (fs.existsSync(path.join(replicaDataDir, 'mysql')) || !fs.existsSync(path.join(primaryDataDir, 'mysql'))) return false;
  const pidFile = path.join(path.dirname(primaryDataDir), 'mariadb.pid');
  const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').trim()) : 0;
  if (pid > 0 && running(pid)) throw new Error(`cannot create the read replica of ${primaryDataDir}: its server (pid ${pid}) is running; stop it first`);
  fs.rmSync(replicaDataDir, { recursive: true, force: true });
  fs.cpSync(primaryDataDir, replicaDataDir, { recursive: true, filter: (src) => !NOT_COPIED.test(path.basename(src)) });
  return true;
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Points a replica at its primary and starts replication: a replica never configured starts from the
 * primary's current GTID position (its data is the primary's as of now: a fresh pair or a copy made at
 * rest); a configured one is started again (a no-op when it runs).
 */
export async function startReplication(primary: ServerAddress, replica: ServerAddress, creds: Credentials): Promise<void> {
  const r = await mysql.createConnection({ ...replica, ...creds, connectTimeout: 5000 });
  try {
    const [status] = await r.query<Array<RowDataPacket & Record<string, unknown>>>('SHOW SLAVE STATUS');
    if (status.length === 0) {
      const p = await mysql.createConnection({ ...primary, ...creds, connectTimeout: 5000 });
      let pos: string;
      try {
        const [rows] = await p.query<Array<RowDataPacket & { pos: string | null }>>('SELECT @@GLOBAL.gtid_binlog_pos AS pos');
        pos = String(rows[0]?.pos ?? '');
      } finally {
        await p.end();
      }
      await r.query('SET GLOBAL gtid_slave_pos = ?', [pos]);
      await r.query('CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1', [
        primary.host, primary.port, creds.user, creds.password,
      ]);
    }
    await r.query('START SLAVE');
    // Started means connected: wait (at most 10 s) until the IO thread has reached the primary, so a
    // caller that reads the status, or writes and expects it replicated, does not race the connection.
    // Past the bound replication keeps retrying on its own (MASTER_CONNECT_RETRY) and the status shows it.
    for (let i = 0; i < 100; i++) {
      const [now] = await r.query<Array<RowDataPacket & Record<string, unknown>>>('SHOW SLAVE STATUS');
      if (now[0]?.Slave_IO_Running === 'Yes' && now[0]?.Slave_SQL_Running === 'Yes') return;
      await new Promise((done) => setTimeout(done, 100));
    }
  } finally {
    await r.end();
  }
}

/**
 * One replica per primary (`primaries[i]` ↔ `ports[i]`), under `<baseDir>/shard-<n>`, with replication
 * set up and started. The primaries must run with primaryReplicationArgs.
 */
export async function startLocalReplicas(
  primaries: ReadonlyArray<ServerAddress>,
  opts: Omit<LocalMariadbOptions, 'extraArgs'> & { credentials: Credentials },
): Promise<LocalMariadb> {
  const replicas = await LocalMariadb.start({ ...opts, extraArgs: replicaArgs });
  try {
    for (const [i, p] of primaries.entries()) await startReplication(p, replicas.servers[i]!.address, opts.credentials);
  } catch (err) {
    await replicas.stop();
    throw err;
  }
  return replicas;
}
