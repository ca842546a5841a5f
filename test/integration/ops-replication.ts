import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { ensureMariadb } from '../../lib/mariadb/mariadb-install.js';
import { mariadbArgs } from '../../lib/mariadb/mariadb-settings.js';
import { freePort } from '../harness/ports.js';

/**
 * A real replicated pair for the shard-health tests: a primary with a binary log and a replica that
 * applies it with a delay (MASTER_DELAY), so its lag is real and grows by the second. Both are tiny
 * MariaDB servers on free ports with private data directories (the harness's LocalMariadb has no
 * binary log, so these are started here with the same settings plus the replication options).
 */
export interface ReplicatedPair {
  primary: { host: string; port: number };
  replica: { host: string; port: number };
  stop(): Promise<void>;
}

async function startServer(baseDir: string, name: string, port: number, extra: string[]): Promise<{ port: number; child: ChildProcess }> {
  const bins = ensureMariadb();
  const dir = path.join(baseDir, name);
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const init = ['--no-defaults', `--datadir=${dataDir}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...(isRoot ? ['--user=root'] : [])];
  const r = spawnSync(bins.installDb, init, { encoding: 'utf8', env: { ...process.env, TMPDIR: path.join(dir, 'tmp') } });
  if (r.status !== 0) throw new Error(`cannot initialise ${name}: ${r.stderr}`);
  const args = mariadbArgs({
    dataDir, port, socket: path.join(dir, 'm.sock'), tmpDir: path.join(dir, 'tmp'), pidFile: path.join(dir, 'm.pid'), errorLog: path.join(dir, 'error.log'),
    bufferPoolBytes: 32 * 1024 * 1024, logFileBytes: 16 * 1024 * 1024, flushLogAtTrxCommit: 2, tableCache: 400, ...(isRoot ? { user: 'root' } : {}),
  });
  const child = spawn(bins.mariadbd, [...args, ...extra], { stdio: 'ignore' });
  for (let i = 0; i < 600; i++) {
    try {
      const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', password: '', connectTimeout: 1000 });
      await c.end();
      return { port, child };
    } catch {
      if (child.exitCode !== null) break;
      await new Promise((res) => setTimeout(res, 100));
    }
  }
  child.kill('SIGKILL');
  throw new Error(`cannot start ${name}: ${fs.existsSync(path.join(dir, 'error.log')) ? fs.readFileSync(path.join(dir, 'error.log'), 'utf8').slice(-2000) : 'no log'}`);
}

export async function startReplicatedPair(baseDir: string, delaySeconds = 3600): Promise<ReplicatedPair> {
  const primary = await startServer(baseDir, 'primary', await freePort(), ['--log-bin=primary-bin', '--server-id=1']);
  let replica: { port: number; child: ChildProcess } | undefined;
  try {
    const port = await freePort();
    replica = await startServer(baseDir, 'replica', port, ['--server-id=2', '--report-host=127.0.0.1', `--report-port=${port}`]);
  } catch (err) {
    primary.child.kill('SIGTERM');
    throw err;
  }
  const conn = await mysql.createConnection({ host: '127.0.0.1', port: replica.port, user: 'root', password: '' });
  try {
    await conn.query(`CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ${primary.port}, MASTER_USER = 'root', MASTER_PASSWORD = '', MASTER_DELAY = ${delaySeconds}`);
    await conn.query('START SLAVE');
  } finally {
    await conn.end();
  }
  const stop = async () => {
    for (const s of [replica!, primary]) {
      if (s.child.exitCode !== null) continue;
      const done = new Promise((r) => s.child.once('exit', r));
      s.child.kill('SIGTERM');
      await done;
    }
  };
  return { primary: { host: '127.0.0.1', port: primary.port }, replica: { host: '127.0.0.1', port: replica.port }, stop };
}
