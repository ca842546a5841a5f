import type { Registry } from 'prom-client';
import type { Config } from './config/config.js';
import { createPool, ensureDatabase, formatAddress, parseAddress, REQUEST_STATEMENT_TIMEOUT_MS, type ServerAddress } from './db/connect.js';
import type { DirectoryDatabase } from './directory/directory-database.js';
import { Directory } from './directory/directory.js';
import { ShardRegistry } from './shard/shard-registry.js';
import { ShardWriter } from './shard/shard-writer.js';
import { type Log } from './log/log.js';

export interface Storage {
  directory: Directory;
  /** The shards with this storage's statement bound; `shards.jobs` for jobs (rollups, moves). */
  shards: ShardRegistry;
  writer: ShardWriter;
  /** Flushes the writer, then closes every pool. Idempotent. */
  close(): Promise<void>;
}

/**
 * Opens the directory (migrating it), registers the configured shard servers (APM_SHARDS, or the
 * embedded ones given as `shardAddresses`) when the directory has no shard yet, and builds the shard
 * registry and the shared writer.
 */
export async function openStorage(
  config: Config,
  opts: {
    shardAddresses?: ServerAddress[];
    registry?: Registry;
    now?: () => number;
    /** Register the shard servers when the directory has none yet (first start); false: never (the CLI). */
    registerShards?: boolean;
    /**
     * The bound of every statement of the directory and shard pools (default: the request bound, 5 s);
     * the CLI passes the job bound. `shards.jobs` and each pool's `jobs` have APM_JOB_STATEMENT_TIMEOUT_MS.
     */
    statementTimeoutMs?: number;
    log?: Log;
  } = {},
): Promise<Storage> {
  const creds = { user: config.str('APM_DB_USER'), password: config.str('APM_DB_PASSWORD') };
  const shardAddresses = opts.shardAddresses ?? config.list('APM_SHARDS').map(parseAddress);
  const directoryAddress = config.has('APM_DIRECTORY') ? parseAddress(config.str('APM_DIRECTORY')) : shardAddresses[0];
  if (!directoryAddress) throw new Error('cannot open storage: set APM_DIRECTORY or APM_SHARDS (or use the embedded default)');
  const database = config.str('APM_DIRECTORY_DATABASE');
  const bounds = { statementTimeoutMs: opts.statementTimeoutMs ?? REQUEST_STATEMENT_TIMEOUT_MS, jobStatementTimeoutMs: config.num('APM_JOB_STATEMENT_TIMEOUT_MS') };
  await ensureDatabase(directoryAddress, creds, database);
  const directory = new Directory(createPool<DirectoryDatabase>(directoryAddress, { ...creds, ...bounds, database, connectionLimit: 8 }));
  await directory.migrate();
  // An address becomes a shard only on a fresh directory (the first start) or by `apm shards add`.
  const registered = await directory.listShards();
  if (registered.length === 0 && opts.registerShards !== false) {
    for (const a of shardAddresses) await directory.addShard(formatAddress(a));
  } else {
    const unknown = shardAddresses.map(formatAddress).filter((a) => !registered.some((s) => s.address === a));
    if (unknown.length > 0) opts.log?.warn(`not a registered shard (register it with \`apm shards add\`): ${unknown.join(', ')}`);
  }
  const shards = new ShardRegistry(directory, {
    ...creds,
    ...bounds,
    database: config.str('APM_SHARD_DATABASE'),
    maxMetricsPerApplication: config.num('APM_MAX_METRICS_PER_APP'),
    connectionLimit: config.num('APM_WRITER_CONNECTIONS') + 8,
    accountTtlMs: 2000,
  });
  const now = opts.now ?? (() => Date.now() / 1000);
  const writer = new ShardWriter(shards, {
    batchRows: config.num('APM_WRITER_BATCH_ROWS'),
    flushMs: config.num('APM_WRITER_FLUSH_MS'),
    maxPendingRows: config.num('APM_WRITER_MAX_PENDING_ROWS'),
    connections: config.num('APM_WRITER_CONNECTIONS'),
    timeoutMs: config.num('APM_WRITER_TIMEOUT_MS'),
    loadData: config.bool('APM_WRITER_LOAD_DATA'),
    oneTrip: config.bool('APM_WRITER_ONE_TRIP'),
    bulk: config.bool('APM_WRITER_BULK'),
    ...(opts.log ? { log: opts.log } : {}),
    now,
    ...(opts.registry ? { registry: opts.registry } : {}),
  });
  let closed: Promise<void> | undefined;
  return {
    directory,
    shards,
    writer,
    close() {
      closed ??= (async () => {
        await writer.stop();
        await shards.close();
        await directory.close();
      })();
      return closed;
    },
  };
}
