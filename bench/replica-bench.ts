import { lineLog } from '../lib/log/log.js';
import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { startDashboard } from '../dashboard/dashboard.js';
import { createServiceRegistry } from '../lib/metrics/registry.js';
import { LocalMariadb } from '../lib/mariadb/local-mariadb.js';
import { primaryReplicationArgs, startLocalReplicas } from '../lib/mariadb/local-replicas.js';
import { HeartbeatWriter } from '../lib/replica/heartbeat-writer.js';
import { probeLag } from '../lib/replica/lag-probe.js';
import { ReplicaDirectory } from '../lib/replica/replica-directory.js';
import { openStorage } from '../lib/storage.js';
import { createFleet, resolveIds, type AccountIds } from './bench-fleet.js';
import { benchMetrics } from './bench-metrics.js';
import type { BenchOptions } from './bench-options.js';
import type { BenchEnv } from './bench-run.js';
import { writeCeilingHour } from './ceiling-writer.js';
import { HttpLoader, type LoadRequest } from './http-load.js';
import { LatencyHistogram, type LatencySummary } from './latency-histogram.js';
import { benchConfig } from './pool-run.js';
import { CpuMeter } from './proc-stats.js';

/** One measured round: an hour of full-rate ingest with the dashboard reading all the while. */
export interface ReplicaFigure {
  variant: 'primary only' | 'with replica';
  round: number;
  ingestRowsPerSecond: number;
  /** Overview requests over the hour being written (1 h ending at the simulated now). */
  fresh: { requests: number; failed: number; latency: LatencySummary };
  /** Overview requests over the hour before (written by the previous round). */
  old: { requests: number; failed: number; latency: LatencySummary };
  primaryCpuCores: number | null;
  replicaCpuCores: number | null;
  /** Dashboard reads by target and routing reason (apm_dashboard_replica_reads_total). */
  reads: Record<string, number>;
  /** Heartbeat lag when the ingest ended, seconds. */
  lagAtEndSeconds: number | null;
}

const ROOT = { user: 'root', password: '' };

function pidOf(server: LocalMariadb): number {
  const file = path.join(path.dirname(server.servers[0]!.dataDir), 'mariadb.pid');
  return Number(fs.readFileSync(file, 'utf8').trim());
}

/**
 * `npm run bench -- --replicas`: a primary with a binary log and one GTID replica (the embedded
 * default's settings), the first pool size of --pools for both. Four interleaved rounds (primary only,
 * with replica, primary only, with replica), each writing one simulated hour at the database's full
 * rate (the ceiling writer: the writer's own upserts, as fast as the primary takes them) while two
 * dashboard clients read overviews of the hour being written and of the hour before. Measured: dashboard
 * latency, the primary's and the replica's CPU (from /proc), where reads went, and the lag at the end.
 */
export async function runReplicaBench(o: BenchOptions, env: BenchEnv, hourStart: number): Promise<ReplicaFigure[]> {
  const dir = path.resolve(o.dataDir, 'replicas');
  fs.rmSync(dir, { recursive: true, force: true });
  const server = { bufferPoolBytes: o.bufferPools[0]!, logFileBytes: o.redoLogBytes, flushLogAtTrxCommit: o.flushLogAtTrxCommit, tableCache: 8000, log: lineLog(env.log) };
  const primary = await LocalMariadb.start({ ...server, baseDir: path.join(dir, 'primary'), ports: [await env.freePort()], extraArgs: (i) => primaryReplicationArgs(i, o.flushLogAtTrxCommit === 1) });
  const figures: ReplicaFigure[] = [];
  try {
    const replica = await startLocalReplicas([primary.servers[0]!.address], { ...server, baseDir: path.join(dir, 'replica'), ports: [await env.freePort()], credentials: ROOT });
    primary.companions.push(replica);
    const clock = { now: hourStart + 3599 };
    const config = benchConfig(dir);
    const storage = await openStorage(config, { shardAddresses: [primary.servers[0]!.address], registry: createServiceRegistry('writer', { defaultMetrics: false }), now: () => clock.now });
    const heartbeat = new HeartbeatWriter({ directory: storage.directory, credentials: ROOT, database: config.str('APM_SHARD_DATABASE') }).start();
    try {
      const [store] = await storage.shards.all();
      const metrics = benchMetrics(o.metrics);
      const accounts = await createFleet(storage.directory, o.accounts, 'replicas');
      const ids: AccountIds[] = [];
      for (const a of accounts) ids.push(await resolveIds(store!, a, metrics, o.agents));
      const replicas = new ReplicaDirectory(storage.directory);
      const replicaAddress = `127.0.0.1:${replica.servers[0]!.address.port}`;
      const variants = ['primary only', 'with replica', 'primary only', 'with replica'] as const;
      for (const [k, variant] of variants.entries()) {
        const hour = hourStart + k * 3600;
        clock.now = hour + 3599;
        if (variant === 'with replica') await replicas.add(1, replicaAddress);
        else await replicas.remove(1, replicaAddress).catch(() => undefined);
        await caughtUp(primary, replica);
        const dashboard = await startDashboard({ config, directory: storage.directory, shards: storage.shards, writer: storage.writer, now: () => clock.now, dataDir: dir, log: lineLog(env.log, 'warn') });
        try {
          const cpu = [new CpuMeter(pidOf(primary)), new CpuMeter(pidOf(replica))];
          let done = false;
          const started = Date.now();
          const ingest = writeCeilingHour(
            { store: store!, accounts: ids, metrics, hourStart: hour, minutes: o.minutes, connections: o.ceilingConnections, batchRows: o.ceilingBatchRows, bulk: config.bool('APM_WRITER_BULK'), deadline: Date.now() + o.phaseTimeoutSeconds * 1000 },
            () => {},
          ).finally(() => (done = true));
          const [fresh, old, result] = await Promise.all([reads(dashboard.url, accounts, hour, hour + 3600, () => done), reads(dashboard.url, accounts, hour - 3600, hour, () => done), ingest]);
          const [p, r] = cpu.map((c) => c.stop()?.cores ?? null);
          const seconds = (Date.now() - started) / 1000;
          figures.push({
            variant,
            round: Math.floor(k / 2) + 1,
            ingestRowsPerSecond: result.rowsSent / seconds,
            fresh,
            old,
            primaryCpuCores: p ?? null,
            replicaCpuCores: r ?? null,
            reads: await readCounts(dashboard.metricsUrl),
            lagAtEndSeconds: await lagOf(replica),
          });
          env.log(`replicas: ${variant} round ${Math.floor(k / 2) + 1}: fresh p50 ${fresh.latency.p50Ms.toFixed(1)} ms, old p50 ${old.latency.p50Ms.toFixed(1)} ms, primary ${p?.toFixed(2)} cores`);
        } finally {
          await dashboard.stop();
        }
      }
    } finally {
      await heartbeat.stop();
      await storage.close();
    }
  } finally {
    await primary.stop();
    if (!o.keepData) fs.rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}

/** Two clients reading overviews of [from, to) round-robin over the accounts until `stop()`. */
async function reads(origin: string, accounts: ReadonlyArray<{ readKey: string; applicationId: number }>, from: number, to: number, stop: () => boolean) {
  const loader = new HttpLoader({ origin }, 2);
  try {
    let i = 0;
    const source: Iterator<LoadRequest> = {
      next: () => {
        if (stop()) return { done: true, value: undefined };
        const a = accounts[i++ % accounts.length]!;
        return { done: false, value: { method: 'GET', path: `/api/applications/${a.applicationId}/overview?from=${from}&to=${to}`, headers: { 'X-Api-Key': a.readKey } } };
      },
    };
    const s = await loader.run(source, { concurrency: 2, deadline: Date.now() + 3_600_000, maxRetries: 0 });
    return { requests: s.ok, failed: s.failed + s.abandoned, latency: LatencyHistogram.fromJSON(s.latency).summary() };
  } finally {
    loader.close();
  }
}

async function readCounts(metricsUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(metricsUrl)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^apm_dashboard_replica_reads_total\{([^}]*)\} ([0-9.e+]+)$/gm)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/([a-z]+)="([a-z_]+)"/g)].map((l) => [l[1], l[2]]));
    out[`${labels.target}/${labels.reason}`] = Number(m[2]);
  }
  return out;
}

async function lagOf(replica: LocalMariadb): Promise<number | null> {
  const pool = mysql.createPool({ ...replica.servers[0]!.address, ...ROOT, database: 'apm_shard', connectionLimit: 1 });
  try {
    return (await probeLag(pool)).lagSeconds;
  } finally {
    await pool.end();
  }
}

async function caughtUp(primary: LocalMariadb, replica: LocalMariadb): Promise<void> {
  const p = await mysql.createConnection({ ...primary.servers[0]!.address, ...ROOT });
  const r = await mysql.createConnection({ ...replica.servers[0]!.address, ...ROOT });
  try {
    const [rows] = await p.query<any[]>('SELECT @@GLOBAL.gtid_binlog_pos AS pos');
    await r.query('SELECT MASTER_GTID_WAIT(?, 600)', [String(rows[0].pos)]);
  } finally {
    await p.end();
    await r.end();
  }
}

/** The report's Markdown section (pure). */
export function replicaMarkdown(figures: readonly ReplicaFigure[]): string[] {
  const ms = (n: number) => `${n.toFixed(1)} ms`;
  const cores = (n: number | null) => (n === null ? '—' : `${n.toFixed(2)} cores`);
  const lines = ['## Read replicas (dashboard under full-rate ingest)', ''];
  lines.push('| round | variant | ingest rows/s | fresh hour p50 / p99 (requests) | hour before p50 / p99 (requests) | primary CPU | replica CPU | reads by target/reason | lag at end |');
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const f of figures) {
    lines.push(
      `| ${f.round} | ${f.variant} | ${Math.round(f.ingestRowsPerSecond).toLocaleString('en-US')} | ${ms(f.fresh.latency.p50Ms)} / ${ms(f.fresh.latency.p99Ms)} (${f.fresh.requests}) | ` +
        `${ms(f.old.latency.p50Ms)} / ${ms(f.old.latency.p99Ms)} (${f.old.requests}) | ${cores(f.primaryCpuCores)} | ${cores(f.replicaCpuCores)} | ` +
        `${Object.entries(f.reads).map(([k, v]) => `${k} ${v}`).join(', ') || '—'} | ${f.lagAtEndSeconds === null ? '—' : `${f.lagAtEndSeconds.toFixed(1)} s`} |`,
    );
  }
  lines.push('');
  return lines;
}
