import { lineLog, silentLog } from '../lib/log/log.js';
import fs from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { LocalMariadb } from '../lib/mariadb/local-mariadb.js';
import { expectedOverheadBytes, tableCacheFor } from '../lib/mariadb/mariadb-settings.js';
import { createServiceRegistry } from '../lib/metrics/registry.js';
import { AccountMover } from '../lib/ops/account-mover.js';
import { addShard } from '../lib/ops/shard-admin.js';
import { ShardStatsCollector } from '../lib/ops/shard-stats.js';
import { openStorage, type Storage } from '../lib/storage.js';
import { precreateNextHour } from '../rollup/precreate.js';
import { RollupMetrics } from '../rollup/rollup-metrics.js';
import { RollupRunner } from '../rollup/rollup-runner.js';
import { benchConfig } from './pool-run.js';
import { diskBytes, globalStatus, harvestEach, pidOf, processResources, repeat, timingOf } from './tenants-measure.js';
import type { TenantsOptions, TenantsReport } from './tenants-report.js';
import { seedTenants } from './tenants-seed.js';

const H = 3600;
const creds = { user: 'root', password: '' };

/**
 * The `tenants` phase: `accounts` tenants with `minuteDays` days of minute tables (and their hour and
 * day tables) on ONE shard server, created fast, then, at that size: the admin stats pass and
 * `apm shards list`, a rollup run with nothing due, the runs that pre-create the next hour, one harvest
 * per tenant at the top of the hour (pre-created), in the middle of it, and at the top of an hour
 * without pre-creation, a purge of one hour of every tenant, a move of one tenant, and a restart of the
 * server (start-up). A second, empty server is the move's target.
 */
export async function runTenants(o: TenantsOptions): Promise<TenantsReport> {
  const tableCache = tableCacheFor(o.accounts);
  const report: TenantsReport = { ...(o.registryOnly ? { registryOnly: true } : {}), accounts: o.accounts, minuteDays: o.minuteDays, tableCache, expectedOverheadBytes: expectedOverheadBytes(tableCache), errors: [] };
  fs.rmSync(o.dir, { recursive: true, force: true });
  const settings = { bufferPoolBytes: o.bufferPoolBytes, logFileBytes: 256 * 1024 * 1024, flushLogAtTrxCommit: 2 as const, tableCache, log: lineLog(o.log) };
  let big: LocalMariadb | undefined = await LocalMariadb.start({ ...settings, baseDir: path.join(o.dir, 'big'), ports: [o.ports[0]] });
  const small = await LocalMariadb.start({ ...settings, tableCache: 2000, baseDir: path.join(o.dir, 'small'), ports: [o.ports[1]] });
  let storage: Storage | undefined;
  let harvester: Storage | undefined;
  try {
    const server = big.servers[0]!;
    const config = benchConfig(o.dir);
    // The bench's own storage seeds, purges, moves and reads information_schema: the job statement bound.
    const jobBound = { statementTimeoutMs: config.num('APM_JOB_STATEMENT_TIMEOUT_MS') };
    storage = await openStorage(config, { shardAddresses: [server.address], registry: new Registry(), ...jobBound });
    const store = await storage.shards.storeFor(1);
    const t0 = Date.now();
    const accounts: number[] = [];
    for (let i = 0; i < o.accounts; i++) accounts.push((await storage.directory.createAccount({ name: `tenant-${i}`, plan: 'free' })).account.id);
    report.accountsSeconds = (Date.now() - t0) / 1000;
    const currentHour = Math.floor(Date.now() / 1000 / H) * H;
    const diskBefore = diskBytes(server.dataDir);
    report.seed = await seedTenants(server.address, store, accounts, { currentHour, minuteDays: o.minuteDays }, { parallel: o.parallel, log: o.log, registryOnly: o.registryOnly === true });
    report.diskBytesPerTable = Math.round((diskBytes(server.dataDir) - diskBefore) / report.seed.tables);
    o.log(`tenants: ${report.seed.tables.toLocaleString('en-US')} tables in ${report.seed.seconds.toFixed(0)} s (${Math.round(report.seed.tablesPerSecond)}/s), ${report.diskBytesPerTable} B on disk each`);
    await addShard(storage.directory, storage.shards, `${small.servers[0]!.address.host}:${small.servers[0]!.address.port}`, 'closed');

    // Admin stats (every 30 s in the admin service) and `apm shards list` (its default 1 s write sample).
    const stats = new ShardStatsCollector({ directory: storage.directory, shards: storage.shards, credentials: creds });
    const opened0 = await globalStatus(store.pool, ['Opened_tables']);
    let down = 0;
    const statsMs = await repeat(o.repeats, async () => {
      for (const s of await stats.collect({ sampleMs: 0 })) if (!s.health.reachable || s.statsError) down++;
    });
    const listMs = await repeat(Math.min(3, o.repeats), async () => {
      for (const s of await new ShardStatsCollector({ directory: storage!.directory, shards: storage!.shards, credentials: creds }).collect({ sampleMs: 1000 })) if (!s.health.reachable || s.statsError) down++;
    });
    const opened1 = await globalStatus(store.pool, ['Opened_tables']);
    report.stats = { adminPass: timingOf(statsMs), shardsList: timingOf(listMs), downOrLate: down, openedTables: opened1.Opened_tables! - opened0.Opened_tables! };
    o.log(`tenants: admin stats p50 ${report.stats.adminPass.p50} ms, max ${report.stats.adminPass.max} ms; shards list max ${report.stats.shardsList.max} ms; ${down} pass(es) DOWN or late`);

    // Rollup: a run with nothing due, then the runs of the pre-creation window (minutes 50–59).
    const runner = new RollupRunner({ directory: storage.directory, shards: storage.shards, metrics: new RollupMetrics(new Registry()), log: silentLog, graceSeconds: 300, maxPeriodsPerRun: 2000, lockWaitSeconds: 0 });
    // The seed leaves the current hour's minute tables unsealed (no minute of theirs ever closed under a
    // running rollup), so the first run seals every tenant's: timed apart, it is not a run with nothing due.
    const idleRun = { now: currentHour + 30 * 60, purge: true };
    const catchUpStarted = performance.now();
    const first = await runner.runShard(1, idleRun);
    report.rollupCatchUp = { ms: Math.round(performance.now() - catchUpStarted), sealedTables: first.minuteSeals?.tables ?? 0 };
    let rolled = 0;
    const idleMs = await repeat(o.repeats, async () => {
      const r = await runner.runShard(1, idleRun);
      rolled += r.hours + r.days + r.dropped.length + r.failures + (r.minuteSeals?.tables ?? 0);
    });
    report.rollupIdle = { ...timingOf(idleMs), work: rolled };
    let precreated = 0;
    const windowMs = await repeat(10, async (i) => {
      const r = await runner.runShard(1, { now: currentHour + (50 + i) * 60 + 5, purge: true, precreate: (s, now) => precreateNextHour(s, now, { windowMinutes: 10 }) });
      precreated += r.precreated ?? 0;
    });
    report.rollupPrecreate = { ...timingOf(windowMs), tables: precreated };
    o.log(`tenants: rollup's first run ${report.rollupCatchUp.ms} ms (sealed ${report.rollupCatchUp.sealedTables} minute tables); with nothing due p50 ${report.rollupIdle.p50} ms, max ${report.rollupIdle.max} ms; pre-creation runs max ${report.rollupPrecreate.max} ms (${precreated} tables)`);

    if (o.registryOnly) {
      report.before = { informationSchemaSizeMs: 0, informationSchemaOpenedTables: 0, wholeRegistryReadMs: timingOf(await repeat(3, () => store.listTables())) };
      return report;
    }
    // Harvests from a collector process of its own (its own ShardStore: the pre-created tables are not in its cache).
    harvester = await openStorage(config, { shardAddresses: [server.address], registry: createServiceRegistry('writer', { defaultMetrics: false }) });
    const h = { concurrency: o.harvestConcurrency, rows: 30 };
    // Warm-up in the current hour: the collector process has seen every account (directory, fences).
    await harvestEach(harvester.writer, accounts, currentHour + 58 * 60, h);
    const firstPre = await harvestEach(harvester.writer, accounts, currentHour + H, h);
    const warm = await harvestEach(harvester.writer, accounts, currentHour + H + 60, h);
    const firstCold = await harvestEach(harvester.writer, accounts, currentHour + 2 * H, h);
    report.harvests = { firstOfHourPrecreated: timingOf(firstPre), otherMinute: timingOf(warm), firstOfHourNotPrecreated: timingOf(firstCold) };
    o.log(`tenants: harvest p99 first-of-hour (pre-created) ${report.harvests.firstOfHourPrecreated.p99} ms, any other ${report.harvests.otherMinute.p99} ms, first-of-hour without pre-creation ${report.harvests.firstOfHourNotPrecreated.p99} ms`);

    // Purge one hour of every tenant (`apm purge`), move one tenant to the empty shard.
    const p0 = performance.now();
    // The clock at which exactly the oldest seeded hour is past the plan's minute retention.
    const keepDays = (await storage.directory.getAccount(accounts[0]!)).retention.minuteDays;
    const purged = await runner.purge({ now: currentHour - (o.minuteDays * 24 - 1) * H + H + keepDays * 86400, dryRun: false });
    report.purge = { tables: purged.reduce((n, s) => n + s.tables.length, 0), seconds: (performance.now() - p0) / 1000 };
    const moved = accounts[accounts.length - 1]!;
    const m0 = performance.now();
    await new AccountMover({ directory: storage.directory, shards: storage.shards, cleanupDelayMs: 0, log: silentLog }).move(moved, 2, undefined, { force: true }); // shard 2 is closed: the bench's empty target
    report.move = { tables: (await (await storage.shards.storeFor(2)).listTables({ accountId: moved })).length, seconds: (performance.now() - m0) / 1000 };
    o.log(`tenants: purge of ${report.purge.tables} tables ${report.purge.seconds.toFixed(1)} s; move of one tenant (${report.move.tables} tables) ${report.move.seconds.toFixed(1)} s`);

    const pid = pidOf(path.join(path.dirname(server.dataDir), 'mariadb.pid'));
    const st = await globalStatus(store.pool, ['Open_tables', 'Opened_tables', 'Open_table_definitions']);
    report.server = { ...processResources(pid), openTables: st.Open_tables!, openTableDefinitions: st.Open_table_definitions!, diskBytes: diskBytes(server.dataDir) };

    // Before #19, for comparison on the same server: the size query over information_schema.TABLES (opens
    // every table) and one whole-registry read (the rollup did up to four per minute).
    const b0 = await globalStatus(store.pool, ['Opened_tables']);
    const schemaMs = await repeat(1, () => store.pool.query('SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) AS b FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()'));
    const b1 = await globalStatus(store.pool, ['Opened_tables']);
    const registryMs = await repeat(3, () => store.listTables());
    report.before = { informationSchemaSizeMs: Math.round(schemaMs[0]!), informationSchemaOpenedTables: b1.Opened_tables! - b0.Opened_tables!, wholeRegistryReadMs: timingOf(registryMs) };
    o.log(`tenants: before #19: information_schema size query ${report.before.informationSchemaSizeMs} ms (${report.before.informationSchemaOpenedTables} tables opened), whole registry read p50 ${report.before.wholeRegistryReadMs.p50} ms`);

    // Start-up: stop the server, start it again, open the shard (migrations checked, templates loaded).
    await harvester.close();
    harvester = undefined;
    await storage.close();
    storage = undefined;
    await big.stop();
    const s0 = performance.now();
    big = await LocalMariadb.start({ ...settings, baseDir: path.join(o.dir, 'big'), ports: [o.ports[0]] });
    const serverReady = (performance.now() - s0) / 1000;
    storage = await openStorage(config, { shardAddresses: [server.address], registry: new Registry(), ...jobBound });
    await storage.shards.storeFor(1);
    report.startup = { serverSeconds: serverReady, storageSeconds: (performance.now() - s0) / 1000 - serverReady };
    o.log(`tenants: start-up ${report.startup.serverSeconds.toFixed(1)} s server + ${report.startup.storageSeconds.toFixed(1)} s shard store`);
  } catch (err) {
    report.errors.push(`tenants: ${(err as Error).stack ?? (err as Error).message}`);
  } finally {
    await harvester?.close().catch(() => undefined);
    await storage?.close().catch(() => undefined);
    await big?.stop().catch(() => undefined);
    await small.stop().catch(() => undefined);
    if (!o.keepData) fs.rmSync(o.dir, { recursive: true, force: true });
  }
  return report;
}
