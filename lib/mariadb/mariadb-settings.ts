import fs from 'node:fs';
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
 * - table_open_cache / table_definition_cache: derived from the accounts a shard is expected to hold
 *   (tableCacheFor below): a shard holds accounts × (24 × minute days + months + years) tables (about
 *   200 per account), but only about 6 per account are hot (previous, current and next hour, the
 *   month's hour table, the year's day table, a dashboard read), so the caches hold the hot set, not
 *   every table. Nothing periodic opens the cold ones (lib/ops/shard-stats.ts reads InnoDB's own
 *   statistics, never information_schema.TABLES), so they are not evicted by housekeeping.
 * - innodb_file_per_table=OFF: a new table lives in the system tablespace: an empty table costs one
 *   16 KiB page + its 4 KiB .frm (about 20 KiB) instead of a 64–96 KiB .ibd file + .frm (70–108 KiB
 *   measured), creates and drops are no slower (no file to make, fsync and unlink), and 300,000 tables need no open file
 *   handles (innodb_open_files only matters for older file-per-table tables). Dropped tables' pages
 *   are reused for new tables; the file never shrinks (docs/operations.md).
 * - open_files_limit: 2 × table_open_cache + max_connections + headroom, as mariadbd requires (else it
 *   shrinks table_open_cache), capped by the process's hard limit when not running as root.
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
  /** table_open_cache and table_definition_cache (tableCacheFor: from the expected accounts). */
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

/** Tables hot per account: previous, current and next hour, the month's hour table, the year's day table, a read. */
export const HOT_TABLES_PER_ACCOUNT = 6;
export const MAX_CONNECTIONS = 1000;

/** Tables one account keeps on a shard with this retention (minute tables per hour, one per month/year). */
export function tablesPerAccount(r: { minuteDays: number; hourDays: number; dayDays: number | null }): number {
  const months = Math.ceil(r.hourDays / 28) + 1;
  const years = r.dayDays === null ? 10 : Math.ceil(r.dayDays / 365) + 1;
  return r.minuteDays * 24 + 1 + months + years;
}

/** table_open_cache / table_definition_cache for a shard expected to hold `accounts` accounts: the hot set, at least 2,000. */
export function tableCacheFor(accounts: number): number {
  const hot = Math.ceil(Math.max(0, accounts) * HOT_TABLES_PER_ACCOUNT * 1.25);
  return Math.max(2000, Math.ceil(hot / 500) * 500);
}

/**
 * open_files_limit for a table cache: mariadbd wants 2 × table_open_cache + max_connections + 10 or it
 * lowers table_open_cache. `hardLimit` (not root: the process's hard RLIMIT_NOFILE) caps it.
 */
export function openFilesLimitFor(tableCache: number, hardLimit?: number): number {
  const wanted = 2 * tableCache + MAX_CONNECTIONS + innodbOpenFilesFor(tableCache) + 200;
  return hardLimit === undefined ? wanted : Math.min(wanted, hardLimit);
}

/** innodb_open_files: .ibd files of file-per-table tables (only those made before file_per_table=OFF). */
export function innodbOpenFilesFor(tableCache: number): number {
  return Math.min(tableCache, 4000);
}

/** The hard open-files limit of this process (Linux /proc/self/limits), undefined when unknown or unlimited. */
export function hardOpenFilesLimit(limits = readLimits()): number | undefined {
  const m = /^Max open files\s+\S+\s+(\d+)/m.exec(limits);
  return m ? Number(m[1]) : undefined;
}

function readLimits(): string {
  try {
    return fs.readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return '';
  }
}

/**
 * Rough resident memory of mariadbd besides the buffer pool, for docs and the bench's comparison:
 * about 12 KiB per cached table definition (TABLE_SHARE + InnoDB dictionary entry of a 9-column table)
 * and 8 KiB per open table handle, plus a fixed 200 MiB (log buffer, threads, AHI and other caches).
 */
export function expectedOverheadBytes(tableCache: number): number {
  return 200 * MIB + tableCache * (12 + 8) * 1024;
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
    `--innodb-open-files=${innodbOpenFilesFor(s.tableCache)}`,
    `--open-files-limit=${openFilesLimitFor(s.tableCache, s.user === 'root' ? undefined : hardOpenFilesLimit())}`,
    '--innodb-file-per-table=OFF',
    `--max-connections=${MAX_CONNECTIONS}`,
    '--max-allowed-packet=64M',
    '--local-infile=1', // the writer's LOAD DATA LOCAL INFILE from memory (MariaDB's default, said anyway)
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
