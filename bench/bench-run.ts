import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { acquireDir, DataDirInUseError } from '../lib/mariadb/data-dir-lock.js';
import { ensureMariadb } from '../lib/mariadb/mariadb-install.js';
import { rowsPerMinute, type BenchOptions } from './bench-options.js';
import type { BenchReport, MachineInfo } from './bench-report.js';
import { childLoad, inlineLoad, type LoadDriver } from './load-driver.js';
import { runPool } from './pool-run.js';
import { gib } from './pool-state.js';
import { renderMarkdown } from './report-markdown.js';
import { tenantsRun } from './tenants-run.js';
import { runReplicaBench } from './replica-bench.js';

export interface BenchEnv {
  /** A free TCP port on 127.0.0.1 (the test suite passes its harness's). */
  freePort: () => Promise<number>;
  log: (line: string) => void;
  /** Clock for the report's start time and the simulated hour (default: the real clock). */
  now?: () => Date;
}

export interface BenchOutcome {
  report: BenchReport;
  jsonFile: string;
  markdownFile: string;
}

/** What the report says about the machine it ran on. */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  let mariadb = 'unknown';
  try {
    const r = spawnSync(ensureMariadb().mariadbd, ['--version'], { encoding: 'utf8' });
    mariadb = /Ver\s+(\S+)/.exec(r.stdout ?? '')?.[1] ?? 'unknown';
  } catch {
    // reported as unknown
  }
  return { cpuModel: cpus[0]?.model.trim() ?? 'unknown', cpus: cpus.length, memoryBytes: os.totalmem(), kernel: os.release(), node: process.version, mariadb };
}

/**
 * `npm run bench`: one pool run per buffer-pool size, one after the other (each a fresh server),
 * then the JSON and Markdown reports in options.outDir. Bounded: every phase stops at its timeout,
 * and no phase starts after the deadline.
 */
export async function runBench(o: BenchOptions, env: BenchEnv): Promise<BenchOutcome> {
  const lock = lockBenchData(o.dataDir);
  try {
    return await benchRuns(o, env);
  } finally {
    lock.release();
  }
}

/** A bench refused because another one holds its data directory (bench/run.ts prints the message alone). */
export class BenchDataInUseError extends Error {}

/**
 * Takes `dataDir` for this bench (its lock file, the one lib/mariadb takes for a server's directory):
 * every pool run removes and recreates its directories there, so a second bench over the same
 * directory would delete the first one's servers' data under them. Refused with the holder named.
 */
export function lockBenchData(dataDir: string): { release(): void } {
  const dir = path.resolve(dataDir);
  fs.mkdirSync(dir, { recursive: true });
  try {
    return acquireDir(dir, 0, 0);
  } catch (err) {
    if (!(err instanceof DataDirInUseError)) throw err;
    const by = err.use.owner ? `process ${err.use.owner.ownerPid} (${err.use.owner.command})` : `MariaDB pid ${err.use.serverPid}`;
    throw new BenchDataInUseError(`cannot run the bench in ${dir}: another bench uses it, ${by}; give this one its own --data`);
  }
}

async function benchRuns(o: BenchOptions, env: BenchEnv): Promise<BenchOutcome> {
  const started = env.now?.() ?? new Date();
  const t0 = Date.now();
  const runDeadline = t0 + o.deadlineSeconds * 1000;
  // The agents' simulated hour: two hours ago, so it reads as recent data in the dashboard.
  const hourStart = Math.floor(started.getTime() / 3_600_000) * 3600 - 2 * 3600;
  const report: BenchReport = {
    version: 1,
    mode: o.mode,
    startedAt: started.toISOString(),
    seconds: 0,
    machine: machineInfo(),
    loadAverage: { start: os.loadavg(), end: [] },
    shape: { accounts: o.accounts, agents: o.agents, metrics: o.metrics, minutes: o.minutes, rowsPerMinute: rowsPerMinute(o), concurrency: o.concurrency, generator: o.generator },
    runs: [],
    notes: notesOf(o),
  };
  if (o.replicas) {
    report.replicas = await runReplicaBench(o, env, hourStart);
    report.seconds = (Date.now() - t0) / 1000;
    report.loadAverage.end = os.loadavg();
    return { report, ...writeReport(report, o.outDir, started) };
  }
  const load: LoadDriver = o.generator === 'child' ? await childLoad() : inlineLoad();
  try {
    for (const [i, pool] of (o.phases.some((p) => p !== 'tenants') ? o.bufferPools : []).entries()) {
      if (Date.now() >= runDeadline) {
        report.notes.push(`pool run ${gib(pool)} skipped: the deadline (--deadline ${o.deadlineSeconds}) had passed`);
        continue;
      }
      env.log(`pool run ${i + 1}/${o.bufferPools.length}: buffer pool ${gib(pool)}`);
      report.runs.push(
        await runPool({
          o,
          bufferPoolBytes: pool,
          dir: path.resolve(o.dataDir, `pool-${i + 1}-${gib(pool)}`),
          mariadbPort: await env.freePort(),
          hourStart,
          runDeadline,
          load,
          log: env.log,
          freePort: env.freePort,
        }),
      );
    }
    if (o.phases.includes('tenants')) report.tenants = await tenantsRun(o, env, runDeadline);
  } finally {
    await load.close();
  }
  report.seconds = (Date.now() - t0) / 1000;
  report.loadAverage.end = os.loadavg();
  return { report, ...writeReport(report, o.outDir, started) };
}

export function writeReport(report: BenchReport, outDir: string, at: Date): { jsonFile: string; markdownFile: string } {
  fs.mkdirSync(outDir, { recursive: true });
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  const base = path.join(outDir, `bench-${report.mode}-${stamp}`);
  const jsonFile = `${base}.json`;
  const markdownFile = `${base}.md`;
  fs.writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
  fs.writeFileSync(markdownFile, renderMarkdown(report));
  fs.copyFileSync(jsonFile, path.join(outDir, `latest-${report.mode}.json`));
  fs.copyFileSync(markdownFile, path.join(outDir, `latest-${report.mode}.md`));
  return { jsonFile, markdownFile };
}

function notesOf(o: BenchOptions): string[] {
  return [
    'Minute clock compressed: each simulated minute is posted as fast as the collector answers, the next minute once every post of the previous one is answered (a 2xx means committed); rates are rows counted in the database over wall time.',
    'The ceiling writes exactly the agents\' rows of the end-to-end hour (same accounts, metric and agent ids, values) into the hour before, with the writer\'s own multi-row upsert statement and no HTTP in front; both phases run the minute seal (application rows derived from the agents\' rows) once per simulated minute, as the rollup service does, so both store the same rows; its tables are dropped before the end-to-end hour starts.',
    'Dashboard windows end at the end of the simulated hour: 1 h reads minute tables, 24 h hourly tables with the current hour stitched from minutes, 30 d daily tables; the probed accounts\' earlier hours and days are seeded straight into the hour and day tables.',
    `Collector, writer, dashboard, rollup and beacon run in the bench process (their CPU is "bench process CPU"); mariadbd is measured from /proc; the load generator ${o.generator === 'child' ? 'runs in its own process' : 'shares the bench process'}.`,
  ];
}
