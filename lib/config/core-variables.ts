import type { VariableSpec } from './variable-spec.js';

/** Variables shared by every service: storage, the embedded MariaDB servers, the shard writer. */
export const coreVariables: VariableSpec[] = [
  { name: 'APM_DATA_DIR', type: 'path', default: 'data', doc: 'Where the embedded default keeps MariaDB data directories, certificates and secrets (relative to the working directory).' },
  { name: 'APM_BIND_HOST', type: 'string', default: '127.0.0.1', doc: 'Interface every service listens on.' },
  { name: 'APM_SHARDS', type: 'list', doc: 'Comma-separated host:port of existing MySQL 8 / MariaDB 10.6+ shard servers: registered on the first start (an empty directory), later ones with `apm shards add`. Unset: the embedded default starts local servers.' },
  { name: 'APM_SERVICES', type: 'list', doc: 'Comma-separated services this process runs (collector, beacon, rollup, dashboard, admin, alerts, pinger); unset: all of them. Run one process per service against shared servers.' },
  { name: 'APM_LOG_LEVEL', type: 'enum', values: ['debug', 'info', 'warn', 'error'], default: 'info', doc: 'Lowest level of log lines written (pino). Repeated warnings and errors of one kind are written once per 10 s with a `repeated` count.' },
  { name: 'APM_LOG_FORMAT', type: 'enum', values: ['auto', 'json', 'pretty'], default: 'auto', doc: 'Log lines as one JSON object each (json), readable lines (pretty) or pretty when standard output is a terminal and JSON otherwise (auto).' },
  { name: 'APM_DIRECTORY', type: 'address', doc: 'host:port of the server holding the directory database. Default: the first shard server.' },
  { name: 'APM_DB_USER', type: 'string', default: 'root', doc: 'MySQL user for the directory and every shard.' },
  { name: 'APM_DB_PASSWORD', type: 'string', default: '', doc: 'Password of APM_DB_USER (never logged).' },
  { name: 'APM_DIRECTORY_DATABASE', type: 'string', default: 'apm_directory', doc: 'Database name of the directory.' },
  { name: 'APM_SHARD_DATABASE', type: 'string', default: 'apm_shard', doc: 'Database name used on every shard server.' },
  { name: 'APM_EMBEDDED_SHARDS', type: 'integer', default: '2', min: 1, max: 16, doc: 'How many local MariaDB shard servers the embedded default starts.' },
  { name: 'APM_EMBEDDED_BASE_PORT', type: 'port', default: '13306', doc: 'Port of the first embedded MariaDB server; the next ones count up.' },
  { name: 'APM_MARIADB_BUFFER_POOL', type: 'string', default: 'auto', doc: 'InnoDB buffer pool per embedded server, e.g. 4G or 512M; auto = 60% of the machine memory split across the embedded servers.' },
  { name: 'APM_SHARD_EXPECTED_ACCOUNTS', type: 'integer', default: '1500', min: 1, max: 100000, doc: 'Accounts each embedded shard server is sized for: table_open_cache and table_definition_cache = 7.5 per account (at least 2,000), open_files_limit from them (docs/operations.md).' },
  { name: 'APM_MARIADB_FLUSH_LOG_AT_TRX_COMMIT', type: 'enum', values: ['1', '2'], default: '1', doc: 'innodb_flush_log_at_trx_commit of the embedded servers: 1 survives an OS crash (every acknowledged batch is on disk), 2 only a server crash.' },
  { name: 'APM_WRITER_BATCH_ROWS', type: 'integer', default: '2000', min: 1, max: 100000, doc: 'Rows per multi-row upsert statement of the shard writer.' },
  { name: 'APM_WRITER_LOAD_DATA', type: 'boolean', default: 'true', doc: 'Rows that are all new keys (agents\' rows of open minutes) go to the shard by LOAD DATA LOCAL INFILE from memory (cheaper than an upsert; a batch whose key is already stored rolls back to a savepoint and upserts); false: always the upsert. A server with local_infile off is detected and upserted to.' },
  { name: 'APM_WRITER_FLUSH_MS', type: 'integer', default: '10', min: 0, max: 10000, doc: 'How long the shard writer waits to gather more rows into a batch.' },
  { name: 'APM_WRITER_MAX_PENDING_ROWS', type: 'integer', default: '500000', min: 1000, doc: 'Rows waiting per shard before new writes are refused with 503 (back-pressure).' },
  { name: 'APM_WRITER_CONNECTIONS', type: 'integer', default: '4', min: 1, max: 64, doc: 'Concurrent write transactions per shard.' },
  { name: 'APM_WRITER_TIMEOUT_MS', type: 'integer', default: '10000', min: 100, doc: 'A write not committed by then fails with 503 (the agent keeps its data).' },
  { name: 'APM_WRITER_METRICS_PORT', type: 'port', default: '9469', doc: "Plain-HTTP port of the shared shard writer's /metrics in the embedded default (rows written per shard, batch sizes, commit latency, pending rows); 0 picks a free port." },
  { name: 'APM_MAX_METRICS_PER_APP', type: 'integer', default: '20000', min: 10, doc: 'Distinct metric names per application; past it rows fold into Overflow/MetricNames.' },
];
