import os from 'node:os';

/**
 * Server settings for our workload, passed on the command line after --no-defaults so no system
 * my.cnf changes them. Each one is chosen for "one table per account per hour, written in
 * multi-row upserts, read by time range":
 *
 * - innodb_buffer_pool_size: the whole current hour of every account on the shard is the write
 *   working set (PRIMARY KEY (metric, agent, period) scatters each minute over the table), so the
 *   pool must hold ~1.5x one hour of minute data or ingest collapses late in the hour
 *   (shared/reference/ceilings.md). Embedded default: 60% of the machine's memory split across servers.
 * - innodb_log_file_size: large redo log (1 GiB embedded) so checkpoints do not throttle bulk upserts.
 * - innodb_flush_log_at_trx_commit: 1 by default (an acknowledged batch survives an OS crash; group
 *   commit makes it cheap because the writer commits thousands of rows per transaction); 2 on request.
 * - table_open_cache / table_definition_cache / innodb_open_files: at least 4 tables per account are
 *   hot (current and previous hour, hourly, daily) plus the dashboard's reads; 8000 avoids the
 *   1.5 ms-per-table cache misses measured at 40,000 tables.
 * - skip-name-resolve, bind 127.0.0.1 only for embedded servers; no binary log (single server per
 *   shard); performance_schema off (memory); max_allowed_packet 64M for large multi-row statements.
 */
export interface MariadbSettings {
  dataDir: string;
  port: number;
  socket: string;
  tmpDir: string;
  pidFile: string;
  errorLog: string;
  bufferPoolBytes: number;
  logFileBytes: number;
  flushLogAtTrxCommit: 1 | 2;
  tableCache: number;
  /** 'root' when running as root (mariadbd refuses root without --user=root). */
  user?: string;
}

const MIB = 1024 * 1024;

/** 60% of total memory split across `servers`, rounded down to 128 MiB, at least 128 MiB. */
export function autoBufferPoolBytes(servers: number, totalMemBytes = os.totalmem()): number {
  const each = (totalMemBytes * 0.6) / Math.max(1, servers);
  return Math.max(128 * MIB, Math.floor(each / (128 * MIB)) * 128 * MIB);
}

/** Parses "4G", "512M", "1073741824" into bytes; undefined when malformed. */
export function parseByteSize(text: string): number | undefined {
  const m = /^([0-9]+)([KMG]?)$/i.exec(text.trim());
  if (!m) return undefined;
  const unit = { '': 1, K: 1024, M: MIB, G: 1024 * MIB }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * unit;
}

export function mariadbArgs(s: MariadbSettings): string[] {
  const args = [
    '--no-defaults',
    `--datadir=${s.dataDir}`,
    `--port=${s.port}`,
    `--socket=${s.socket}`,
    `--tmpdir=${s.tmpDir}`,
    `--pid-file=${s.pidFile}`,
    `--log-error=${s.errorLog}`,
    '--bind-address=127.0.0.1',
    '--skip-name-resolve',
    '--performance-schema=OFF',
    `--innodb-buffer-pool-size=${s.bufferPoolBytes}`,
    `--innodb-log-file-size=${s.logFileBytes}`,
    `--innodb-flush-log-at-trx-commit=${s.flushLogAtTrxCommit}`,
    `--table-open-cache=${s.tableCache}`,
    `--table-definition-cache=${s.tableCache}`,
    `--innodb-open-files=${s.tableCache}`,
    '--open-files-limit=20000',
    '--max-connections=1000',
    '--max-allowed-packet=64M',
    '--character-set-server=utf8mb4',
    '--collation-server=utf8mb4_bin',
    '--default-time-zone=+00:00',
    '--innodb-autoinc-lock-mode=2',
    '--lock-wait-timeout=30',
    '--innodb-lock-wait-timeout=10',
  ];
  if (s.user) args.push(`--user=${s.user}`);
  return args;
}
