import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PROMETHEUS_LIMITS, PrometheusApi } from '../../dashboard/prometheus/prometheus-api.js';
import { PromAnswer } from '../../dashboard/prometheus/prom-format.js';
import { SeriesReader } from '../../dashboard/series-reader.js';
import type { Account } from '../../lib/directory/directory.js';
import { silentLog } from '../../lib/log/log.js';
import { HeartbeatWriter } from '../../lib/replica/heartbeat-writer.js';
import { startReadRouting } from '../../lib/replica/read-routing.js';
import { ReplicaDirectory } from '../../lib/replica/replica-directory.js';
import { Seeder, web } from './dashboard-fixture.js';
import { startReplicatedShard, type ReplicatedShard } from './replica-fixture.js';

/**
 * The Prometheus API's reads go through the read router (real GTID replica, replica-fixture.ts): a
 * row the replica has not applied yet (its SQL thread stopped, its heartbeat still current) is missing
 * from the routed answer and present in the primary's, until the replica catches up; a lagged replica
 * sends the window's edge to the primary.
 */
const M = 60;
const T = Math.floor(Date.now() / 1000 / 3600) * 3600 - 3600 + 40 * M;
let clock = T;
let ttl = 0;
let shard: ReplicatedShard;
let account: Account;
let seed: Seeder;
let heartbeat: HeartbeatWriter;
let routing: ReturnType<typeof startReadRouting>;
let routed: PrometheusApi;
let primaryOnly: PrometheusApi;
let registry: Registry;

async function calls(api: PrometheusApi, at: number, range = '30m'): Promise<number> {
  const query = `sum(increase(apm_calls_total{metric="HttpDispatcher"}[${range}]))`;
  const r = await api.query(account, new URLSearchParams({ query, time: String(at) }));
  expect(r).not.toBeInstanceOf(PromAnswer); // no warnings
  return Number((r as any).result[0].value[1]);
}
async function replicaReads(reason: string, target = 'replica'): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === 'apm_dashboard_replica_reads_total');
  return Number(m?.values.find((x) => x.labels.target === target && x.labels.reason === reason)?.value ?? 0);
}
async function advance(seconds: number): Promise<void> {
  clock += seconds;
  ttl += 10_000_000;
  expect([...(await heartbeat.tick()).values()]).toEqual(['wrote']);
}

beforeAll(async () => {
  shard = await startReplicatedShard({ APM_REPLICA_MAX_LAG_SECONDS: '5', APM_REPLICA_LAG_MARGIN_SECONDS: '60', APM_REPLICA_MAX_EDGE_SECONDS: '900' });
  account = (await shard.storage.directory.createAccount({ name: 'acme' })).account;
  const appId = (await shard.storage.directory.ensureApplication(account.id, 'shop')).id;
  seed = new Seeder(await shard.storage.shards.storeFor(1), shard.storage.writer, account.id, appId);
  for (let m = 30; m >= 5; m -= 5) await seed.minute(T - m * M, web(60, 30, 6, 3, 1, [50, 6, 4]));
  await new ReplicaDirectory(shard.storage.directory).add(1, `127.0.0.1:${shard.replicaAddress.port}`);
  heartbeat = new HeartbeatWriter({ directory: shard.storage.directory, credentials: { user: 'root', password: '' }, database: 'apm_shard', clock: () => clock });
  registry = new Registry();
  routing = startReadRouting({ config: shard.config, directory: shard.storage.directory, log: silentLog }, registry, 'dashboard', { lagClock: () => clock, ttlNow: () => ttl });
  const reader = new SeriesReader({ maxPoints: 500, maxStitchTables: 12 });
  routed = new PrometheusApi(shard.storage.directory, shard.storage.shards, reader, () => clock, DEFAULT_PROMETHEUS_LIMITS, () => {}, routing.router);
  primaryOnly = new PrometheusApi(shard.storage.directory, shard.storage.shards, reader, () => clock);
  await advance(0);
  await shard.caughtUp();
}, 180_000);

afterAll(async () => {
  await heartbeat?.stop();
  await routing?.close();
  await shard?.stop();
});

describe('Prometheus API reads through the replica router (real GTID replication)', () => {
  it('a current replica answers the whole window, with the primary\'s numbers', async () => {
    const before = await replicaReads('current');
    expect(await calls(routed, T)).toBe(360);
    expect(await calls(primaryOnly, T)).toBe(360);
    expect(await replicaReads('current')).toBeGreaterThan(before);
  });

  it('a row the replica has not applied is missing from the routed answer until it catches up', async () => {
    await shard.onReplica('STOP SLAVE SQL_THREAD');
    await seed.minute(T - 20 * M, web(7, 1, 1, 0, 0, [7, 0, 0]));
    // The replica's heartbeat still says lag 0 (the clock did not move): the route stays 'current'.
    expect(await calls(primaryOnly, T)).toBe(367);
    expect(await calls(routed, T)).toBe(360);
    await shard.onReplica('START SLAVE SQL_THREAD');
    await shard.caughtUp();
    expect(await calls(routed, T)).toBe(367);
  });

  it('a lagged replica: the edge is read from the primary (new minute included), the rest from the replica', async () => {
    await shard.onReplica('STOP SLAVE SQL_THREAD');
    await advance(120);
    await seed.minute(T + M, web(100, 50, 1, 1, 0, [100, 0, 0]));
    const before = await replicaReads('edge', 'primary');
    expect(await calls(primaryOnly, T + 2 * M, '40m')).toBe(467);
    expect(await calls(routed, T + 2 * M, '40m')).toBe(467);
    expect(await replicaReads('edge', 'primary')).toBeGreaterThan(before);
    // No edge read allowed at once (APM_REPLICA_MAX_EDGE_READS=0): the replica answers alone, without the new
    // minute, and the answer warns from when it may be stale (the read API's freshness.routing.staleFrom).
    const busy = startReadRouting({ config: shard.config.with({ APM_REPLICA_MAX_EDGE_READS: '0' }), directory: shard.storage.directory, log: silentLog }, new Registry(), 'dashboard', { lagClock: () => clock, ttlNow: () => ttl });
    try {
      const api = new PrometheusApi(shard.storage.directory, shard.storage.shards, new SeriesReader({ maxPoints: 500, maxStitchTables: 12 }), () => clock, DEFAULT_PROMETHEUS_LIMITS, () => {}, busy.router);
      const stale = await api.query(account, new URLSearchParams({ query: 'sum(increase(apm_calls_total{metric="HttpDispatcher"}[40m]))', time: String(T + 2 * M) }));
      expect(stale).toBeInstanceOf(PromAnswer);
      // now − lag − margin = T − 60, aligned down to the read's 120 s buckets (gcd of the range and the time).
      const split = Math.floor((T + 120 - 120 - 60) / 120) * 120;
      expect((stale as PromAnswer).warnings).toEqual([`data from ${new Date(split * 1000).toISOString()} on was read from a lagging read replica and may be incomplete`]);
      expect(Number(((stale as PromAnswer).data as any).result[0].value[1])).toBe(367);
    } finally {
      await busy.close();
    }
    await shard.onReplica('START SLAVE SQL_THREAD');
    await shard.caughtUp();
  });
});
