#!/usr/bin/env node
/**
 * `npm start`: the embedded default. Starts local MariaDB shard servers (or uses APM_SHARDS), the
 * directory, the shared writer, then every service, and prints their addresses. Ctrl-C (SIGINT) or
 * SIGTERM stops upstream first (the services, flushing what they hold), then the writer, then the
 * shard servers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../lib/config/config.js';
import { loadAppConfig } from './app-variables.js';
import { startEmbeddedShards } from '../lib/mariadb/embedded-shards.js';
import type { LocalMariadb } from '../lib/mariadb/local-mariadb.js';
import { createServiceRegistry, startMetricsServer } from '../lib/metrics/registry.js';
import type { ServiceDeps, ServiceHandle } from '../lib/services.js';
import { openStorage, type Storage } from '../lib/storage.js';
import { demoKeyCommand, demoKeysFile, ensureDemoAccount, keyPrefix } from '../collector/demo-account.js';
import { replicaPairs } from '../lib/mariadb/embedded-replicas.js';
import { HeartbeatWriter } from '../lib/replica/heartbeat-writer.js';
import { registerReplicas } from '../lib/replica/replica-directory.js';
// Service imports: one line per service (keep this marker).
import { startCollectorService } from '../collector/collector-service.js';
// @service-imports
import { startAlerts } from '../alerts/alerts.js';
import { startPinger } from '../pinger/pinger.js';
import { startAdmin } from '../admin/admin.js';
import { startDashboard } from '../dashboard/dashboard.js';
import { startRollup } from '../rollup/rollup.js';
import { startBeacon } from '../beacon/beacon.js';
import { logFromConfig } from './app-log.js';
import { type Log } from '../lib/log/log.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadAppConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const rootLog = logFromConfig(config);
  const log = rootLog.child({ service: 'apm' });
  const dataDir = path.resolve(config.str('APM_DATA_DIR'));
  fs.mkdirSync(dataDir, { recursive: true });
  const handles: ServiceHandle[] = [];
  let mariadb: LocalMariadb | undefined;
  let storage: Storage | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (why: string) => {
    stopping ??= (async () => {
      log.info(`${why}: stopping`);
      for (const h of [...handles].reverse()) await h.stop().catch((e: Error) => log.warn(`cannot stop ${h.name}: ${e.message}`));
      await storage?.close().catch((e: Error) => log.warn(`cannot close storage: ${e.message}`));
      await mariadb?.stop();
      log.info('stopped');
    })();
    return stopping;
  };
  process.on('SIGINT', () => void stop('SIGINT').then(() => process.exit(0)));
  process.on('SIGTERM', () => void stop('SIGTERM').then(() => process.exit(0)));
  try {
    if (config.list('APM_SHARDS').length === 0) mariadb = await startEmbeddedShards(config, log);
    const writerRegistry = createServiceRegistry('writer', { defaultMetrics: false });
    storage = await openStorage(config, { ...(mariadb ? { shardAddresses: mariadb.servers.map((s) => s.address) } : {}), registry: writerRegistry, log });
    const shards = await storage.directory.listShards();
    log.info(`directory ready; shards: ${shards.map((s) => `${s.id}=${s.address} (${s.state})`).join(', ')}`);
    // A shard that does not answer does not stop the start: its accounts get 503 with Retry-After
    // until it answers; it is reconnected on the next use, without a restart.
    const opened = await Promise.allSettled(shards.map((s) => storage!.shards.storeFor(s.id)));
    opened.forEach((r, i) => {
      if (r.status === 'rejected') log.warn(`shard ${shards[i]!.id} at ${shards[i]!.address} is DOWN (${(r.reason as Error).message}); its accounts get 503 with Retry-After until it answers`);
    });
    // Read replicas: the embedded ones registered; the heartbeat on every primary with replicas (one writer per primary across processes).
    if (mariadb) await registerReplicas(storage.directory, replicaPairs(mariadb));
    const heartbeat = new HeartbeatWriter({ directory: storage.directory, credentials: { user: config.str('APM_DB_USER'), password: config.str('APM_DB_PASSWORD') }, database: config.str('APM_SHARD_DATABASE'), log }).start();
    handles.push({ name: 'heartbeat', addresses: [], stop: () => heartbeat.stop() });
    const writerMetrics = await startMetricsServer([writerRegistry], { host: config.str('APM_BIND_HOST'), port: config.num('APM_WRITER_METRICS_PORT') });
    handles.push({ name: 'writer', addresses: [`${writerMetrics.url} (shared shard writer metrics)`], stop: () => writerMetrics.stop() });
    log.info(`writer: ${writerMetrics.url} (shared shard writer metrics)`);
    const deps: ServiceDeps = {
      config,
      directory: storage.directory,
      shards: storage.shards,
      writer: storage.writer,
      now: () => Date.now() / 1000,
      dataDir,
      log: rootLog,
    };
    // Upstream services last, so stop() (in reverse) stops them first. APM_SERVICES picks a subset:
    // one process per service when running against existing servers.
    const starters: Array<[string, (d: ServiceDeps) => Promise<ServiceHandle>]> = [
      // The demo account (with a printable license key) only in the embedded default.
      // APM_COLLECTOR_PROCESSES > 1: that many supervised collector processes sharing the ports.
      ['collector', (d) => startCollectorService(d, { demoAccount: config.list('APM_SHARDS').length === 0, ...(mariadb ? { shardAddresses: mariadb.servers.map((s) => s.address) } : {}) })],
      // @service-starts
      ['alerts', (d) => startAlerts(d)],
      ['pinger', (d) => startPinger(d)],
      ['admin', startAdmin],
      ['dashboard', startDashboard],
      ['rollup', (d) => startRollup(d)],
      ['beacon', startBeacon],
    ];
    const wanted = new Set(config.list('APM_SERVICES'));
    const unknown = [...wanted].filter((n) => !starters.some(([name]) => name === n));
    if (unknown.length > 0) throw new Error(`APM_SERVICES names unknown service(s) ${unknown.join(', ')} (known: ${starters.map(([n]) => n).join(', ')})`);
    // Before the collector (which reads the same keys file), so this call sees whether it was created.
    const demo = config.list('APM_SHARDS').length === 0 && (wanted.size === 0 || wanted.has('collector')) ? await ensureDemoAccount(storage.directory, demoKeysFile(dataDir)) : undefined;
    for (const [name, start] of starters) {
      if (wanted.size > 0 && !wanted.has(name)) continue;
      const h = await start(deps);
      handles.push(h);
      for (const a of h.addresses) log.info(`${h.name}: ${a}`);
    }
    if (demo) {
      // Keys never go into the log (it may be shipped elsewhere): shown once, on a terminal, when the
      // account is created; otherwise their first characters and where to read them.
      const file = demoKeysFile(dataDir);
      if (demo.created && process.stdout.isTTY) {
        process.stdout.write(
          `\nDemo account ${demo.accountId} created. Its keys, shown only now (also kept in ${file}, mode 0600):\n` +
            `  license key (agents):       ${demo.licenseKey}\n  browser key (rum.js):       ${demo.browserKey}\n  read key (dashboard sign-in): ${demo.readKey}\n\n`,
        );
      }
      log.info(`demo account ${demo.accountId}: keys in ${file} (license ${keyPrefix(demo.licenseKey)}, browser ${keyPrefix(demo.browserKey)}, read ${keyPrefix(demo.readKey)})`);
      log.info(`demo account ${demo.accountId}: print the dashboard sign-in (read) key with: ${demoKeyCommand(file, 'readKey')}`);
      log.info(`demo account ${demo.accountId}: allow your site for rum.js: npm run apm -- apps set ${demo.accountId} Browser --origin https://your.site`);
    }
    log.info(`ready (${handles.length} service(s)). More accounts: npm run apm -- accounts create <name>. Ctrl-C stops everything.`);
  } catch (err) {
    console.error(`[apm] cannot start: ${(err as Error).message}`);
    await stop('start-up failed');
    process.exit(1);
  }
}

void main();
