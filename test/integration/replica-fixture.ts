import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { Registry } from 'prom-client';
import type { Config } from '../../lib/config/config.js';
import { loadAppConfig } from '../../bin/app-variables.js';
import type { ServerAddress } from '../../lib/db/connect.js';
import { LocalMariadb } from '../../lib/mariadb/local-mariadb.js';
import { primaryReplicationArgs, replicaArgs, startLocalReplicas } from '../../lib/mariadb/local-replicas.js';
import { openStorage, type Storage } from '../../lib/storage.js';
import { freePort } from '../harness/ports.js';

/**
 * A shard primary with a binary log and one real GTID replica (lib/mariadb/local-replicas.ts, as the
 * embedded default starts them), the directory on the primary, the replica not yet registered.
 */
export interface ReplicatedShard {
  config: Config;
  storage: Storage;
  primary: LocalMariadb;
  replica: LocalMariadb;
  replicaAddress: ServerAddress;
  metrics: Registry;
  /** Waits (bounded, MASTER_GTID_WAIT) until the replica applied everything the primary logged. */
  caughtUp(): Promise<void>;
  /** Runs one statement on the replica (STOP SLAVE SQL_THREAD, …). */
  onReplica(sql: string): Promise<void>;
  onReplicaRows(sql: string): Promise<any[]>;
  /** Stops the replica server / starts it again on the same data and port. */
  stopReplica(): Promise<void>;
  restartReplica(): Promise<void>;
  stop(): Promise<void>;
}

const SERVER = { bufferPoolBytes: 64 * 1024 * 1024, logFileBytes: 32 * 1024 * 1024, flushLogAtTrxCommit: 2 as const, tableCache: 2000 };
const ROOT = { user: 'root', password: '' };

export async function startReplicatedShard(env: Record<string, string> = {}): Promise<ReplicatedShard> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'apm-replica-'));
  const primary = await LocalMariadb.start({ ...SERVER, baseDir: path.join(dataDir, 'primary'), ports: [await freePort()], extraArgs: (i) => primaryReplicationArgs(i, false) });
  const replicaPort = await freePort();
  const replicaOpts = { ...SERVER, baseDir: path.join(dataDir, 'replica'), ports: [replicaPort] };
  let replica = await startLocalReplicas([primary.servers[0]!.address], { ...replicaOpts, credentials: ROOT });
  const config = loadAppConfig({ APM_DATA_DIR: dataDir, APM_WRITER_FLUSH_MS: '2', APM_OTLP_HTTP_PORT: '0', ...env });
  const metrics = new Registry();
  const storage = await openStorage(config, { shardAddresses: [primary.servers[0]!.address], registry: metrics });
  const replicaAddress = { host: '127.0.0.1', port: replicaPort };
  const onReplica = async (sql: string, params: unknown[] = []) => {
    const c = await mysql.createConnection({ ...replicaAddress, ...ROOT });
    try {
      return (await c.query<any[]>(sql, params))[0];
    } finally {
      await c.end();
    }
  };
  return {
    config,
    storage,
    primary,
    get replica() {
      return replica;
    },
    replicaAddress,
    metrics,
    async caughtUp() {
      const [rows] = await (await storage.shards.storeFor(1)).pool.query<any[]>('SELECT @@GLOBAL.gtid_binlog_pos AS pos');
      const r = await onReplica('SELECT MASTER_GTID_WAIT(?, 30) AS done', [String(rows[0].pos)]);
      if (Number(r[0].done) !== 0) throw new Error(`replica did not catch up with ${rows[0].pos} within 30 s`);
    },
    async onReplica(sql: string) {
      await onReplica(sql);
    },
    onReplicaRows: (sql: string) => onReplica(sql),
    stopReplica: () => replica.stop(),
    async restartReplica() {
      replica = await LocalMariadb.start({ ...replicaOpts, extraArgs: replicaArgs });
    },
    async stop() {
      await storage.close().catch(() => undefined);
      await replica.stop();
      await primary.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
