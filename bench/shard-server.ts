import fs from 'node:fs';
import path from 'node:path';
import type { Pool } from 'mysql2/promise';
import { LocalMariadb, type LocalServer } from '../lib/mariadb/local-mariadb.js';
import { lineLog } from '../lib/log/log.js';

/** One bench shard server: a fresh local MariaDB with the pool size under test. */
export interface ShardServer {
  mariadb: LocalMariadb;
  server: LocalServer;
  /** mariadbd's pid (from its pid file), for its CPU time. */
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts MariaDB with lib/mariadb's settings for our workload (the ones `npm start` uses) and the
 * given buffer pool, on `port` (127.0.0.1), data under `dir` (created fresh: any old data there is
 * removed first so every pool run starts from an empty server).
 */
export async function startShardServer(dir: string, o: { port: number; bufferPoolBytes: number; redoLogBytes: number; flushLogAtTrxCommit: 1 | 2; log: (l: string) => void }): Promise<ShardServer> {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const mariadb = await LocalMariadb.start({
    baseDir: dir,
    ports: [o.port],
    bufferPoolBytes: o.bufferPoolBytes,
    logFileBytes: o.redoLogBytes,
    flushLogAtTrxCommit: o.flushLogAtTrxCommit,
    tableCache: 8000,
    log: lineLog(o.log),
  });
  const server = mariadb.servers[0]!;
  const pidFile = path.join(path.dirname(server.dataDir), 'mariadb.pid');
  let pid = NaN;
  for (let i = 0; i < 100 && !(pid > 0); i++) {
    if (fs.existsSync(pidFile)) pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    if (!(pid > 0)) await new Promise((r) => setTimeout(r, 50));
  }
  if (!(pid > 0)) {
    await mariadb.stop();
    throw new Error(`cannot start bench shard server: no pid in ${pidFile}`);
  }
  return { mariadb, server, pid, stop: () => mariadb.stop() };
}

/** InnoDB counters the report shows per ten minutes (bytes and page reads from disk). */
export interface ServerCounters {
  dataReadBytes: number;
  dataWrittenBytes: number;
  /** Logical reads that missed the buffer pool and went to disk. */
  poolDiskReads: number;
  rowsInserted: number;
  rowsUpdated: number;
}

const COUNTERS: Record<string, keyof ServerCounters> = {
  Innodb_data_read: 'dataReadBytes',
  Innodb_data_written: 'dataWrittenBytes',
  Innodb_buffer_pool_reads: 'poolDiskReads',
  Innodb_rows_inserted: 'rowsInserted',
  Innodb_rows_updated: 'rowsUpdated',
};

export async function serverCounters(pool: Pool): Promise<ServerCounters> {
  const [rows] = await pool.query<any[]>(`SHOW GLOBAL STATUS WHERE Variable_name IN (${Object.keys(COUNTERS).map(() => '?').join(', ')})`, Object.keys(COUNTERS));
  const out: ServerCounters = { dataReadBytes: 0, dataWrittenBytes: 0, poolDiskReads: 0, rowsInserted: 0, rowsUpdated: 0 };
  for (const r of rows) {
    const k = COUNTERS[String(r.Variable_name)];
    if (k) out[k] = Number(r.Value);
  }
  return out;
}

export function counterDelta(a: ServerCounters, b: ServerCounters): ServerCounters {
  return {
    dataReadBytes: b.dataReadBytes - a.dataReadBytes,
    dataWrittenBytes: b.dataWrittenBytes - a.dataWrittenBytes,
    poolDiskReads: b.poolDiskReads - a.poolDiskReads,
    rowsInserted: b.rowsInserted - a.rowsInserted,
    rowsUpdated: b.rowsUpdated - a.rowsUpdated,
  };
}
