#!/usr/bin/env node
/**
 * `npm start`: the embedded default. Starts local MariaDB shard servers (or uses APM_SHARDS), the
 * directory, the shared writer, then every service, and prints their addresses. Ctrl-C (SIGINT) or
 * SIGTERM stops upstream first (the services, flushing what they hold), then the writer, then the
 * shard servers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig } from '../lib/config/config.js';
import { startEmbeddedShards } from '../lib/mariadb/embedded-shards.js';
import type { LocalMariadb } from '../lib/mariadb/local-mariadb.js';
import { createServiceRegistry } from '../lib/metrics/registry.js';
import type { ServiceDeps, ServiceHandle } from '../lib/services.js';
import { openStorage, type Storage } from '../lib/storage.js';
// Service imports: one line per service (keep this marker).
// @service-imports

const log = (line: string) => console.log(`[apm] ${line}`);

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const dataDir = path.resolve(config.str('APM_DATA_DIR'));
  fs.mkdirSync(dataDir, { recursive: true });
  const handles: ServiceHandle[] = [];
  let mariadb: LocalMariadb | undefined;
  let storage: Storage | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (why: string) => {
    stopping ??= (async () => {
      log(`${why}: stopping`);
      for (const h of [...handles].reverse()) await h.stop().catch((e: Error) => log(`cannot stop ${h.name}: ${e.message}`));
      await storage?.close().catch((e: Error) => log(`cannot close storage: ${e.message}`));
      await mariadb?.stop();
      log('stopped');
    })();
    return stopping;
  };
  process.on('SIGINT', () => void stop('SIGINT').then(() => process.exit(0)));
  process.on('SIGTERM', () => void stop('SIGTERM').then(() => process.exit(0)));
  try {
    if (config.list('APM_SHARDS').length === 0) mariadb = await startEmbeddedShards(config, log);
    const writerRegistry = createServiceRegistry('writer', { defaultMetrics: false });
    storage = await openStorage(config, { ...(mariadb ? { shardAddresses: mariadb.servers.map((s) => s.address) } : {}), registry: writerRegistry });
    const shards = await storage.directory.listShards();
    log(`directory ready; shards: ${shards.map((s) => `${s.id}=${s.address} (${s.state})`).join(', ')}`);
    await storage.shards.all();
    const deps: ServiceDeps = {
      config,
      directory: storage.directory,
      shards: storage.shards,
      writer: storage.writer,
      now: () => Date.now() / 1000,
      dataDir,
      log,
    };
    const starters: Array<(d: ServiceDeps) => Promise<ServiceHandle>> = [
      // One entry per service (keep this marker).
      // @service-starts
    ];
    for (const start of starters) {
      const h = await start(deps);
      handles.push(h);
      for (const a of h.addresses) log(`${h.name}: ${a}`);
    }
    log(`ready (${handles.length} service(s)). Create an account with: npm run apm -- accounts create <name>. Ctrl-C stops everything.`);
  } catch (err) {
    console.error(`[apm] cannot start: ${(err as Error).message}`);
    await stop('start-up failed');
    process.exit(1);
  }
}

void main();
