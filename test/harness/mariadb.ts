import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import type { Config } from '../../lib/config/config.js';
import { loadAppConfig } from '../../bin/app-variables.js';
import type { Directory } from '../../lib/directory/directory.js';
import { LocalMariadb, type LocalServer } from '../../lib/mariadb/local-mariadb.js';
import type { ShardRegistry } from '../../lib/shard/shard-registry.js';
import type { ShardWriter } from '../../lib/shard/shard-writer.js';
import { openStorage, type Storage } from '../../lib/storage.js';
import type { ServiceDeps } from '../../lib/services.js';
import { freePort } from './ports.js';
import { silentLog } from '../../lib/log/log.js';

export interface TestCluster {
  servers: LocalServer[];
  mariadb: LocalMariadb;
  config: Config;
  directory: Directory;
  registry: ShardRegistry;
  writer: ShardWriter;
  storage: Storage;
  /** Registry holding the writer's self-metrics. */
  metrics: Registry;
  /** Private temporary directory of this cluster (data dirs, certificates, secrets). */
  dataDir: string;
  /** Dependencies for starting a service against this cluster; `now` defaults to the real clock. */
  deps(overrides?: Partial<ServiceDeps>): ServiceDeps;
  stop(): Promise<void>;
}

/**
 * Real MariaDB servers for one test file: free ports, a private temporary data directory, small
 * buffer pools, the directory on the first server and every server registered as an open shard.
 */
export async function startTestCluster(opts: { shards?: number; env?: Record<string, string>; now?: () => number } = {}): Promise<TestCluster> {
  const n = opts.shards ?? 1;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'apm-test-'));
  const ports = await Promise.all(Array.from({ length: n }, () => freePort()));
  const mariadb = await LocalMariadb.start({
    baseDir: path.join(dataDir, 'mariadb'),
    ports,
    bufferPoolBytes: 64 * 1024 * 1024,
    logFileBytes: 32 * 1024 * 1024,
    flushLogAtTrxCommit: 2,
    tableCache: 2000,
  });
  // APM_OTLP_HTTP_PORT 0: the collector's plain OTLP listener takes a free port in tests (never 4318).
  const config = loadAppConfig({ APM_DATA_DIR: dataDir, APM_WRITER_FLUSH_MS: '2', APM_OTLP_HTTP_PORT: '0', ...opts.env });
  const metrics = new Registry();
  let storage: Storage;
  try {
    storage = await openStorage(config, { shardAddresses: mariadb.servers.map((s) => s.address), registry: metrics, ...(opts.now ? { now: opts.now } : {}) });
  } catch (err) {
    await mariadb.stop();
    throw err;
  }
  const now = opts.now ?? (() => Date.now() / 1000);
  let stopped: Promise<void> | undefined;
  return {
    servers: mariadb.servers,
    mariadb,
    config,
    directory: storage.directory,
    registry: storage.shards,
    writer: storage.writer,
    storage,
    metrics,
    dataDir,
    deps: (o = {}) => ({ config, directory: storage.directory, shards: storage.shards, writer: storage.writer, now, dataDir, log: silentLog, ...o }),
    stop() {
      stopped ??= (async () => {
        await storage.close().catch(() => undefined);
        await mariadb.stop();
        fs.rmSync(dataDir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
