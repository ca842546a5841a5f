import fs from 'node:fs';
import path from 'node:path';
import { startBeacon } from '../beacon/beacon.js';
import { startCollector } from '../collector/collector.js';
import { startCollectorProcesses } from '../collector/collector-processes.js';
import { applyCollectorHeapFlags } from '../collector/collector-heap.js';
import { startDashboard } from '../dashboard/dashboard.js';
import { tableName } from '../lib/shard/table-naming.js';
import { startRollup } from '../rollup/rollup.js';
import type { ShardReport } from '../rollup/rollup-runner.js';
import { distWriteTotals } from '../lib/distribution/dist-writer.js';
import { startBareEndpoint } from './bare-endpoint.js';
import { distributionCensus } from './dist-census.js';
import { probeDashboard } from './dashboard-probe.js';
import { probePrometheus, seedMinuteHistory } from './prometheus-probe.js';
import { seedHistory } from './history-seed.js';
import { HourMeter } from './hour-meter.js';
import { BenchSealer } from './bench-seal.js';
import { LatencyHistogram } from './latency-histogram.js';
import { gib, progress, type PoolState } from './pool-state.js';
import { CpuMeter } from './proc-stats.js';

/**
 * The phases that run the real services of this repository in the bench process, on the pool run's
 * storage and simulated clock: the collector (end-to-end hour), the dashboard (read latency), the
 * rollup (input rows/s) and the beacon (beacons/s beside a bare endpoint).
 */

/** The collector's HTTPS port, from the address it prints (`https://127.0.0.1:<port>/agent_listener/…`). */
export function portOfAddress(address: string): number {
  const m = /^https?:\/\/[^/]*:([0-9]+)\//.exec(address);
  if (!m) throw new Error(`cannot find the port in the service address ${JSON.stringify(address)}`);
  return Number(m[1]);
}

/** Agents connect, then post one harvest per simulated minute of the hour through the collector. */
export async function endToEndPhase(st: PoolState): Promise<void> {
  const { ctx } = st;
  st.clock.now = ctx.hourStart + 3599;
  // --collector-processes N: N supervised processes on the bench's clock, sharing the port; else in this process.
  const n = ctx.o.collectorProcesses;
  const procs = n ? await startCollectorProcesses({ count: n, config: st.deps.config.with({ APM_LOG_LEVEL: 'warn' }), log: st.deps.log, shardAddresses: [st.server.server.address], fixedNow: st.clock.now }) : undefined;
  // Inside the bench process, the collector's heap setting for this phase only (collector-heap.ts); forked processes start with it.
  const restoreHeap = procs ? () => undefined : applyCollectorHeapFlags();
  const collector = procs ?? (await startCollector(st.deps));
  try {
    const origin = `https://127.0.0.1:${portOfAddress(collector.addresses[0]!)}`;
    const ca = fs.readFileSync(path.join(ctx.dir, 'collector', 'tls', 'ca.crt'), 'utf8');
    const deadline = Math.min(ctx.runDeadline, Date.now() + ctx.o.phaseTimeoutSeconds * 1000);
    const t0 = Date.now();
    const conn = await ctx.load.connect({ target: { origin, ca }, licenseKeys: st.accounts.map((a) => a.licenseKey), agents: ctx.o.agents, concurrency: ctx.o.concurrency, deadline });
    const agents = st.accounts.length * ctx.o.agents;
    if (conn.connected !== agents) throw new Error(`cannot connect the simulated agents: ${conn.connected} of ${agents} got a run id (${conn.stats.failures.join('; ')})`);
    const connectSeconds = (Date.now() - t0) / 1000;
    const meter = await HourMeter.start({
      store: st.jobStore,
      shardPid: st.server.pid,
      ...(ctx.load.inline ? {} : { generatorPid: ctx.load.pid }),
      ...(procs ? { collectorPids: procs.pids().map((p) => p!) } : {}),
      accounts: st.accounts,
      agents: ctx.o.agents,
      metrics: ctx.o.metrics,
      hourStart: ctx.hourStart,
      minutes: ctx.o.minutes,
    });
    const startedAt = Date.now();
    // The rollup service's minute seal, beside the pipeline (application rows derived per closed minute).
    const sealer = new BenchSealer(st.jobStore, st.accounts.map((a) => a.id), ctx.hourStart);
    const result = await ctx.load.harvestHour({ hourStart: ctx.hourStart, minutes: ctx.o.minutes, metrics: ctx.o.metrics, concurrency: ctx.o.concurrency, deadline }, (k) => {
      meter.minuteDone(k);
      sealer.minuteDone(k);
      progress(st, 'end-to-end', k, startedAt);
    });
    await sealer.finish(result.minutesDone);
    const report = await meter.finish(result);
    const s = result.stats;
    report.posts = {
      ok: s.ok,
      perSecond: report.seconds > 0 ? s.ok / report.seconds : 0,
      failed: s.failed,
      retries: s.retries,
      abandoned: s.abandoned,
      statuses: s.statuses,
      failures: s.failures,
      latency: LatencyHistogram.fromJSON(s.latency).summary(),
      meanBodyBytes: s.ok > 0 ? result.bodyBytes / (s.ok + s.failed + s.abandoned) : 0,
      concurrency: ctx.o.concurrency,
      connectSeconds,
    };
    st.report.endToEnd = report;
    ctx.log(`pool ${gib(ctx.bufferPoolBytes)}: end to end ${Math.round(report.rowsPerSecond).toLocaleString('en-US')} rows/s, ${Math.round(report.posts.perSecond)} posts/s (${report.exact ? 'exact' : 'MISMATCH'})`);
  } finally {
    await collector.stop();
    restoreHeap();
  }
}

/**
 * Seeds a month of history for the probed accounts, then times the read API over 1 h, 24 h and 30 d;
 * then seeds a day of application-wide minute rows for every account and times 24 h PromQL queries.
 */
export async function dashboardPhase(st: PoolState): Promise<void> {
  const { ctx } = st;
  st.clock.now = ctx.hourStart + 3599;
  const probed = spread(st.ids, ctx.o.probeAccounts);
  st.report.historyRows = await seedHistory(st.jobStore, probed, st.metrics, ctx.hourStart, 30);
  const dashboard = await startDashboard(st.deps);
  try {
    const accounts = probed.map((p) => ({ readKey: p.account.readKey, applicationId: p.account.applicationId }));
    st.report.dashboard = await probeDashboard(dashboard.url, accounts, ctx.hourStart + 3600, ctx.o.dashboardRequests);
    // The Prometheus API over a day of minute rows of every account (dashboard/prometheus/).
    st.report.prometheusMinuteRows = await seedMinuteHistory(st.jobStore, st.ids, st.metrics, ctx.hourStart, 23);
    st.report.prometheus = await probePrometheus(dashboard.url, st.accounts, ctx.hourStart + 3600, ctx.o.dashboardRequests);
  } finally {
    await dashboard.stop();
  }
}

/** One rollup run once the hour (and its grace) is over: every account's hour table rolled up. */
export async function rollupPhase(st: PoolState): Promise<void> {
  st.clock.now = st.ctx.hourStart + 3600 + st.deps.config.num('APM_ROLLUP_GRACE_SECONDS') + 60;
  const rollup = await startRollup(st.deps);
  try {
    const cpu = new CpuMeter(st.server.pid);
    const t0 = performance.now();
    const reports = await rollup.runNow();
    const seconds = (performance.now() - t0) / 1000;
    const shardCpu = cpu.stop();
    if (!reports) throw new Error('cannot run the rollup: a run was already going');
    const failed = reports.filter((r) => r.skipped || r.failures > 0);
    if (failed.length > 0) throw new Error(`cannot roll up: ${failed.map((r) => r.error ?? `${r.failures} failures on shard ${r.shardId}`).join('; ')}`);
    const sum = (f: (r: ShardReport) => number) => reports.reduce((a, r) => a + f(r), 0);
    const rowsRead = sum((r) => r.rowsRead);
    st.report.rollup = {
      hours: sum((r) => r.hours + r.rerolledHours),
      days: sum((r) => r.days + r.rerolledDays),
      rowsRead,
      rowsWritten: sum((r) => r.rowsWritten),
      seconds,
      rowsPerSecond: seconds > 0 ? rowsRead / seconds : 0,
      ...(shardCpu ? { shardCpu } : {}),
    };
  } finally {
    await rollup.stop();
  }
}

/** Beacons to the beacon service, then the same load to a bare uWebSockets.js endpoint beside it. */
export async function beaconPhase(st: PoolState): Promise<void> {
  const { ctx } = st;
  const beacon = await startBeacon(st.deps);
  const bare = await startBareEndpoint('127.0.0.1');
  try {
    const job = { browserKeys: st.accounts.map((a) => a.browserKey), seconds: ctx.o.beaconSeconds, concurrency: ctx.o.beaconConcurrency, deadline: ctx.runDeadline };
    const distBefore = { ...distWriteTotals };
    const b = await ctx.load.beacons({ ...job, target: { origin: beacon.url } });
    // flush() joins a flush already running (the beacon's timer), which drained the aggregator before
    // the last beacons: flush again until nothing is left in memory or waiting for a retry.
    for (let i = 0; i < 20 && (i === 0 || beacon.aggregator.size > 0 || beacon.flusher.pendingBatches > 0); i++) await beacon.flush();
    if (beacon.aggregator.size > 0 || beacon.flusher.pendingBatches > 0) throw new Error('cannot flush the beacon: page views are still unwritten after 20 flushes');
    const committed = await pageViewsStored(st);
    const flushSeconds = Number(/^apm_beacon_flush_seconds_sum(?:\{[^}]*\})? ([0-9.e+-]+)$/m.exec(await (await fetch(beacon.metricsUrl)).text())?.[1] ?? 0);
    const distributions = {
      ...(await distributionCensus(st.jobStore, st.ids.map((i) => ({ accountId: i.account.id, agentId: i.applicationAgentId })), st.clock.now)),
      writes: distWriteTotals.writes - distBefore.writes,
      writeSeconds: distWriteTotals.seconds - distBefore.seconds,
      flushSeconds,
    };
    const bb = await ctx.load.beacons({ ...job, target: { origin: bare.url } });
    const rate = (ok: number, seconds: number) => (seconds > 0 ? ok / seconds : 0);
    const beaconRate = rate(b.stats.ok, b.stats.seconds);
    const bareRate = rate(bb.stats.ok, bb.stats.seconds);
    st.report.beacons = {
      seconds: ctx.o.beaconSeconds,
      concurrency: ctx.o.beaconConcurrency,
      beacon: {
        ok: b.stats.ok,
        perSecond: beaconRate,
        rejected: b.stats.failed + b.stats.abandoned,
        latency: LatencyHistogram.fromJSON(b.stats.latency).summary(),
        statuses: b.stats.statuses,
        committed,
      },
      bare: { ok: bb.stats.ok, perSecond: bareRate, latency: LatencyHistogram.fromJSON(bb.stats.latency).summary() },
      ratio: bareRate > 0 ? beaconRate / bareRate : 0,
      distributions,
    };
  } finally {
    bare.stop();
    await beacon.stop();
  }
}

/** Page views in the database: Browser/PageLoad call counts of every application in the clock's minute. */
async function pageViewsStored(st: PoolState): Promise<number> {
  let total = 0;
  for (const ids of st.ids) {
    const id = ids.account.id;
    const [m] = await st.store.findMetrics(id, { names: ['Browser/PageLoad'], scope: '' });
    if (!m) continue;
    const table = tableName('minute', id, st.clock.now);
    if (!(await st.store.tableInfo(table))) continue;
    const [rows] = await st.jobStore.pool.query<any[]>(`SELECT COALESCE(SUM(call_count), 0) AS n FROM ${table} WHERE metric_id = ? AND agent_id = ?`, [m.id, ids.applicationAgentId]);
    total += Number(rows[0]?.n ?? 0);
  }
  return total;
}

/** `n` items spread evenly over the list (first, …, last). */
export function spread<T>(list: readonly T[], n: number): T[] {
  if (n <= 0 || list.length === 0) return [];
  if (n >= list.length) return [...list];
  return Array.from({ length: n }, (_, i) => list[Math.floor((i * (list.length - 1)) / Math.max(1, n - 1))]!);
}
