import net from 'node:net';
import path from 'node:path';
import type { Config } from '../lib/config/config.js';
import { loadAppConfig } from './app-variables.js';
import type { ServerAddress } from '../lib/db/connect.js';
import { describeUse, serversInUse } from '../lib/mariadb/data-dir-lock.js';
import { startEmbeddedShards } from '../lib/mariadb/embedded-shards.js';
import type { LocalMariadb } from '../lib/mariadb/local-mariadb.js';
import { openStorage, type Storage } from '../lib/storage.js';
import { type Log } from '../lib/log/log.js';

export interface CliContext {
  config: Config;
  storage: Storage;
  /** Unix seconds. */
  now: () => number;
  close(): Promise<void>;
}

function accepts(a: ServerAddress): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(a.port, a.host);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/**
 * The embedded default's servers for a CLI command. Servers already running over APM_DATA_DIR (the
 * running `npm start`, whatever ports it was given) are used as they are: found through their
 * directory locks, never stopped. Otherwise servers on the configured ports are used; only when
 * nothing runs are servers started for the command (and stopped after it).
 */
async function embeddedServers(config: Config, log: Log): Promise<{ addresses: ServerAddress[]; mariadb?: LocalMariadb }> {
  const baseDir = path.resolve(config.str('APM_DATA_DIR'), 'mariadb');
  const running = serversInUse(baseDir);
  if (running.length > 0) {
    const first = running[0]!;
    const unknownPort = running.find((u) => u.port === undefined);
    if (first.index !== 0 || unknownPort) {
      throw new Error(
        `cannot use the MariaDB servers in ${baseDir}: ${running.map((u) => `shard-${u.index + 1} is used by ${describeUse(u)}`).join('; ')}` +
          `${first.index !== 0 ? ', but shard-1 (the directory) is not running' : ''}. Pass that system's settings (APM_DATA_DIR, APM_EMBEDDED_BASE_PORT, or APM_SHARDS) or start it first.`,
      );
    }
    const addresses = running.map((u) => ({ host: '127.0.0.1', port: u.port! }));
    log.info(`using the running MariaDB servers in ${baseDir} (${running.map(describeUse).join('; ')})`);
    return { addresses };
  }
  const base = config.num('APM_EMBEDDED_BASE_PORT');
  const addresses = Array.from({ length: config.num('APM_EMBEDDED_SHARDS') }, (_, i) => ({ host: '127.0.0.1', port: base + i }));
  const up = await Promise.all(addresses.map(accepts));
  if (up.every(Boolean)) return { addresses };
  if (up.some(Boolean)) {
    throw new Error(
      `cannot use the embedded servers: ports ${addresses.filter((_, i) => up[i]).map((a) => a.port).join(', ')} answer but ${addresses.filter((_, i) => !up[i]).map((a) => a.port).join(', ')} do not, and no server runs over ${baseDir}. ` +
        'Pass the settings of the system you manage (APM_DATA_DIR, APM_EMBEDDED_BASE_PORT, APM_EMBEDDED_SHARDS, or APM_SHARDS).',
    );
  }
  const mariadb = await startEmbeddedShards(config, log);
  return { addresses: mariadb.servers.map((s) => s.address), mariadb };
}

/**
 * Storage for one CLI command: the configured servers (APM_SHARDS), or the embedded default's
 * servers (see embeddedServers). The CLI registers no shard: only `apm shards add` does.
 */
export async function openCliContext(env: Record<string, string | undefined>, log: Log): Promise<CliContext> {
  const config = loadAppConfig(env);
  let mariadb: LocalMariadb | undefined;
  let shardAddresses: ServerAddress[] | undefined;
  if (config.list('APM_SHARDS').length === 0) ({ addresses: shardAddresses, mariadb } = await embeddedServers(config, log));
  try {
    // Every command is a job (purges, moves, rollups): its statements have the job bound.
    const storage = await openStorage(config, { ...(shardAddresses ? { shardAddresses } : {}), registerShards: false, statementTimeoutMs: config.num('APM_JOB_STATEMENT_TIMEOUT_MS') });
    return {
      config,
      storage,
      now: () => Date.now() / 1000,
      async close() {
        await storage.close();
        await mariadb?.stop();
      },
    };
  } catch (err) {
    await mariadb?.stop();
    throw err;
  }
}
