import { silentLog } from '../../lib/log/log.js';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DashboardMetrics } from '../../dashboard/dashboard-metrics.js';
import { ReadApi } from '../../dashboard/read-api.js';
import { SeriesReader } from '../../dashboard/series-reader.js';
import type { Account } from '../../lib/directory/directory.js';
import { HeartbeatWriter } from '../../lib/replica/heartbeat-writer.js';
import { startReadRouting } from '../../lib/replica/read-routing.js';
import { ReplicaDirectory } from '../../lib/replica/replica-directory.js';
import { Seeder, web } from './dashboard-fixture.js';
import { startReplicatedShard, type ReplicatedShard } from './replica-fixture.js';

const M = 60;
const T = Math.floor(Date.now() / 1000 / 3600) * 3600 - 3600 + 40 * M; // a minute start 20 minutes ago or more
let clock = T; // the injected clock (Unix seconds): heartbeat writer, lag measurement, the dashboard
let ttl = 0; // the routing caches' clock (ms)
let shard: ReplicatedShard;
let account: Account;
let appId = 0;
let seed: Seeder;
let heartbeat: HeartbeatWriter;
let routing: ReturnType<typeof startReadRouting>;
let viaReplicas: ReadApi;
let primaryOnly: ReadApi;
let registry: Registry;

const q = (from: number, to: number) => new URLSearchParams({ from: String(from), to: String(to) });
/** Both answers of the same read: through the router, and straight from the primary. */
async function both(from: number, to: number): Promise<{ routed: any; primary: any }> {
  const [routed, primary] = [await viaReplicas.overview(account, String(appId), q(from, to)), await primaryOnly.overview(account, String(appId), q(from, to))];
  return { routed, primary };
}
const strip = (a: any) => ({ ...a, freshness: { ...a.freshness, routing: undefined } });
async function counter(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return Number(v?.value ?? 0);
}
/** Advances both clocks and beats once (on the primary; the replica gets it only while its SQL thread runs). */
async function advance(seconds: number): Promise<void> {
  clock += seconds;
  ttl += 10_000_000;
  expect([...(await heartbeat.tick()).values()]).toEqual(['wrote']);
}

beforeAll(async () => {
  shard = await startReplicatedShard({ APM_REPLICA_MAX_LAG_SECONDS: '5', APM_REPLICA_LAG_MARGIN_SECONDS: '60', APM_REPLICA_MAX_EDGE_SECONDS: '900' });
  const made = await shard.storage.directory.createAccount({ name: 'acme' });
  account = made.account;
  appId = (await shard.storage.directory.ensureApplication(account.id, 'shop')).id;
  seed = new Seeder(await shard.storage.shards.storeFor(1), shard.storage.writer, account.id, appId);
  for (let m = 30; m >= 5; m -= 5) await seed.minute(T - m * M, web(60, 30, 6, 3, 1, [50, 6, 4]));
  await new ReplicaDirectory(shard.storage.directory).add(1, `127.0.0.1:${shard.replicaAddress.port}`);
  const deps = { config: shard.config, directory: shard.storage.directory, log: silentLog };
  heartbeat = new HeartbeatWriter({ directory: shard.storage.directory, credentials: { user: 'root', password: '' }, database: 'apm_shard', clock: () => clock });
  registry = new Registry();
  routing = startReadRouting(deps, registry, 'dashboard', { lagClock: () => clock, ttlNow: () => ttl });
  const reader = new SeriesReader({ maxPoints: 500, maxStitchTables: 12 });
  viaReplicas = new ReadApi(shard.storage.directory, shard.storage.shards, reader, () => clock, new DashboardMetrics(registry, () => 0), routing.router);
  primaryOnly = new ReadApi(shard.storage.directory, shard.storage.shards, reader, () => clock, new DashboardMetrics(new Registry(), () => 0));
  await advance(0);
  await shard.caughtUp();
}, 180_000);

afterAll(async () => {
  await heartbeat?.stop();
  await routing?.close();
  await shard?.stop();
});

describe('read replicas (real GTID replication)', () => {
  it('reads from a current replica, with the primary numbers', async () => {
    const { routed, primary } = await both(T - 40 * M, T);
    expect(routed.freshness.routing).toEqual({ reason: 'current', readFrom: [{ target: 'replica', replica: `127.0.0.1:${shard.replicaAddress.port}`, from: T - 40 * M, to: T }], replicaLagSeconds: 0 });
    expect(strip(routed)).toEqual(strip(primary));
    expect(routed.series.throughput.filter((v: number | null) => v !== null)).toEqual([60, 60, 60, 60, 60, 60]);
    expect(await counter('apm_dashboard_replica_reads_total', { target: 'replica', reason: 'current' })).toBe(1);
  });

  it('with the SQL thread stopped: new minutes come from the primary edge, old windows still from the replica', async () => {
    await shard.onReplica('STOP SLAVE SQL_THREAD');
    await advance(120); // lag 120 s on the replica: its heartbeat stays at T
    await seed.minute(T + M, web(120, 60, 12, 6, 2, [100, 12, 8]));
    await seed.minute(T - M, web(30, 15, 3, 1.5, 0, [25, 3, 2]));
    const fresh = await both(T - 30 * M, T + 3 * M);
    const split = T + 120 - 120 - 60; // now - lag - margin, on a minute
    expect(fresh.routed.freshness.routing).toEqual({
      reason: 'edge',
      readFrom: [
        { target: 'replica', replica: `127.0.0.1:${shard.replicaAddress.port}`, from: T - 30 * M, to: split },
        { target: 'primary', from: split, to: T + 3 * M },
      ],
      replicaLagSeconds: 120,
    });
    // The hour's minute table is read on both servers (its old rows on the replica, its edge on the primary).
    expect(fresh.routed.freshness.tablesRead).toEqual({ minute: 2, hour: 0, day: 0 });
    const noTables = (a: any) => ({ ...strip(a), freshness: { ...strip(a).freshness, tablesRead: undefined } });
    expect(noTables(fresh.routed)).toEqual(noTables(fresh.primary));
    expect(fresh.routed.series.throughput.filter((v: number | null) => v !== null)).toEqual([60, 60, 60, 60, 60, 60, 30, 120]);
    expect(await counter('apm_dashboard_replica_primary_edge_seconds_total')).toBe(4 * M);
    // With no edge read allowed at once (APM_REPLICA_MAX_EDGE_READS=0) the replica answers alone, flagged stale from the split.
    const busy = startReadRouting({ config: shard.config.with({ APM_REPLICA_MAX_EDGE_READS: '0' }), directory: shard.storage.directory, log: silentLog }, new Registry(), 'dashboard', { lagClock: () => clock, ttlNow: () => ttl });
    try {
      const api = new ReadApi(shard.storage.directory, shard.storage.shards, new SeriesReader({ maxPoints: 500, maxStitchTables: 12 }), () => clock, new DashboardMetrics(new Registry(), () => 0), busy.router);
      const stale: any = await api.overview(account, String(appId), q(T - 30 * M, T + 3 * M));
      expect(stale.freshness.routing).toEqual({ reason: 'primary_busy', readFrom: [{ target: 'replica', replica: `127.0.0.1:${shard.replicaAddress.port}`, from: T - 30 * M, to: T + 3 * M }], replicaLagSeconds: 120, staleFrom: split });
      expect(stale.series.throughput.filter((v: number | null) => v !== null)).toEqual([60, 60, 60, 60, 60, 60]);
    } finally {
      await busy.close();
    }
    const old = await both(T - 40 * M, T - 3 * M);
    expect(old.routed.freshness.routing.reason).toBe('window_old');
    expect(old.routed.freshness.routing.readFrom).toEqual([{ target: 'replica', replica: `127.0.0.1:${shard.replicaAddress.port}`, from: T - 40 * M, to: T - 3 * M }]);
    expect(strip(old.routed)).toEqual(strip(old.primary));
  });

  it('lag far above the threshold sends at most the edge bound to the primary', async () => {
    await advance(3600); // lag 3720 s
    const before = await counter('apm_dashboard_replica_primary_edge_seconds_total');
    const r: any = await viaReplicas.overview(account, String(appId), q(clock - 60 * M, clock));
    expect(r.freshness.routing.reason).toBe('edge_bounded');
    expect(r.freshness.routing.readFrom.map((p: any) => [p.target, p.to - p.from])).toEqual([['replica', 45 * M], ['primary', 15 * M]]);
    // now - lag - margin is before the window: all of it may be stale; only its newest 15 minutes are fresh.
    expect(r.freshness.routing.staleFrom).toBe(clock - 60 * M);
    expect((await counter('apm_dashboard_replica_primary_edge_seconds_total')) - before).toBe(15 * M);
    await shard.onReplica('START SLAVE SQL_THREAD');
    await shard.caughtUp();
    await advance(0);
    const caught = await both(T - 30 * M, T + 3 * M);
    expect(caught.routed.freshness.routing.reason).toBe('current');
    expect(strip(caught.routed)).toEqual(strip(caught.primary));
  });

  it('replica down: reads fall back to the primary and return to the replica when it is back', async () => {
    await shard.stopReplica();
    // The cached lag still says "current": listings and reads fail on the replica and are read again from the primary.
    const txns = [await viaReplicas.transactions(account, String(appId), q(T - 30 * M, T + 3 * M)), await primaryOnly.transactions(account, String(appId), q(T - 30 * M, T + 3 * M))] as any[];
    expect(txns[0].freshness.routing.reason).toBe('replica_error');
    expect(strip(txns[0])).toEqual(strip(txns[1]));
    ttl += 10_000_000;
    await advance(0).catch(() => undefined);
    await shard.restartReplica();
    await shard.caughtUp();
    await advance(1);
    expect((await both(T - 30 * M, T + 3 * M)).routed.freshness.routing.reason).toBe('current');
    await shard.stopReplica();
    const failed = await both(T - 30 * M, T + 3 * M);
    expect(failed.routed.freshness.routing).toEqual({ reason: 'replica_error', readFrom: [{ target: 'primary', from: T - 30 * M, to: T + 3 * M }] });
    expect(strip(failed.routed)).toEqual(strip(failed.primary));
    await advance(1);
    const down = await both(T - 30 * M, T + 3 * M);
    expect(down.routed.freshness.routing.reason).toBe('replicas_down');
    expect(strip(down.routed)).toEqual(strip(down.primary));
    await shard.restartReplica();
    await shard.caughtUp();
    await advance(1);
    await shard.caughtUp();
    const back = await both(T - 30 * M, T + 3 * M);
    expect(back.routed.freshness.routing.reason).toBe('current');
    expect(strip(back.routed)).toEqual(strip(back.primary));
    expect(await counter('apm_dashboard_replica_failures_total')).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('an account being moved reads from its primary only', async () => {
    await shard.storage.directory.db.promise.query("INSERT INTO account_moves (account_id, from_shard, to_shard, state) VALUES (?, 1, 1, 'copying')", [account.id]);
    ttl += 10_000_000;
    const r = await both(T - 30 * M, T + 3 * M);
    expect(r.routed.freshness.routing.reason).toBe('moving');
    expect(strip(r.routed)).toEqual(strip(r.primary));
    await shard.storage.directory.db.promise.query('UPDATE account_moves SET active = NULL WHERE account_id = ?', [account.id]);
  });

  it('a table the replica has not created yet only sends that read to the primary (the replica stays in routing)', async () => {
    await advance(1);
    await shard.caughtUp();
    expect((await both(T - 30 * M, T + 3 * M)).routed.freshness.routing.reason).toBe('current');
    const failures = await counter('apm_dashboard_replica_failures_total');
    // As while replicating: the registry row is there, the table not yet (dropped here, on the replica only; last test to read).
    const tables = await shard.onReplicaRows(`SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'apm_shard' AND TABLE_NAME LIKE 'ts\\_${account.id}\\_%'`);
    await shard.onReplica(`DROP TABLE apm_shard.${tables[0].t}`);
    for (let i = 0; i < 2; i++) {
      const r = await both(T - 30 * M, T + 3 * M);
      expect(r.routed.freshness.routing.reason).toBe('replica_error');
      expect(strip(r.routed)).toEqual(strip(r.primary));
    }
    expect(await counter('apm_dashboard_replica_failures_total')).toBe(failures);
  });

  it('exactly one process writes the heartbeat; another takes over when it stops', async () => {
    const other = new HeartbeatWriter({ directory: shard.storage.directory, credentials: { user: 'root', password: '' }, database: 'apm_shard', clock: () => clock });
    try {
      expect([...(await other.tick()).values()]).toEqual(['standby']);
      await heartbeat.stop();
      const outcomes: string[] = [];
      for (let i = 0; i < 5; i++) outcomes.push(...(await other.tick()).values());
      expect(outcomes).toEqual(['standby', 'standby', 'standby', 'standby', 'wrote']);
    } finally {
      await other.stop();
    }
  });
});
