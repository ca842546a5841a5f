import path from 'node:path';
import type { Config } from '../config/config.js';
import { LocalMariadb } from './local-mariadb.js';
import { autoBufferPoolBytes, parseByteSize, tableCacheFor } from './mariadb-settings.js';
import { type Log } from '../log/log.js';

const GIB = 1024 * 1024 * 1024;

/** The embedded default's shard servers: APM_EMBEDDED_SHARDS local MariaDB servers under APM_DATA_DIR. */
export async function startEmbeddedShards(config: Config, log: Log): Promise<LocalMariadb> {
  const count = config.num('APM_EMBEDDED_SHARDS');
  const base = config.num('APM_EMBEDDED_BASE_PORT');
  const pool = config.str('APM_MARIADB_BUFFER_POOL');
  const bufferPoolBytes = pool === 'auto' ? autoBufferPoolBytes(count) : parseByteSize(pool);
  if (bufferPoolBytes === undefined) throw new Error(`cannot start MariaDB: APM_MARIADB_BUFFER_POOL=${pool} is not a size like 4G or 512M`);
  return LocalMariadb.start({
    baseDir: path.resolve(config.str('APM_DATA_DIR'), 'mariadb'),
    ports: Array.from({ length: count }, (_, i) => base + i),
    bufferPoolBytes,
    logFileBytes: GIB,
    flushLogAtTrxCommit: config.str('APM_MARIADB_FLUSH_LOG_AT_TRX_COMMIT') === '2' ? 2 : 1,
    // Sized for the accounts a shard is expected to hold (lib/mariadb/mariadb-settings.ts, docs/operations.md).
    tableCache: tableCacheFor(config.num('APM_SHARD_EXPECTED_ACCOUNTS')),
    log,
  });
}
