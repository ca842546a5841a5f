import net from 'node:net';
import type { Config } from '../lib/config/config.js';
import { loadAppConfig } from './app-variables.js';
import type { ServerAddress } from '../lib/db/connect.js';
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
 * Storage for one CLI command: the configured servers (APM_SHARDS), or the embedded default's
 * servers: used as they are when `npm start` runs, else started for the command and stopped after.
 */
export async function openCliContext(env: Record<string, string | undefined>, log: Log): Promise<CliContext> {
  const config = loadAppConfig(env);
  let mariadb: LocalMariadb | undefined;
  let shardAddresses: ServerAddress[] | undefined;
  if (config.list('APM_SHARDS').length === 0) {
    const base = config.num('APM_EMBEDDED_BASE_PORT');
    shardAddresses = Array.from({ length: config.num('APM_EMBEDDED_SHARDS') }, (_, i) => ({ host: '127.0.0.1', port: base + i }));
    const up = await Promise.all(shardAddresses.map(accepts));
    if (!up.every(Boolean)) mariadb = await startEmbeddedShards(config, log);
  }
  try {
    const storage = await openStorage(config, shardAddresses ? { shardAddresses } : {});
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
