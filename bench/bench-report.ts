import type { TenantsReport } from './tenants-report.js';
import type { AlertsFigure } from './alerts-phase.js';
import type { DashboardFigure } from './dashboard-probe.js';
import type { PrometheusFigure } from './prometheus-probe.js';
import type { LatencySummary } from './latency-histogram.js';
import type { ServerCounters } from './shard-server.js';
import type { ReplicaFigure } from './replica-bench.js';

/** The report `npm run bench` writes (bench/results/*.json; the Markdown is rendered from it). */
export interface BenchReport {
  version: 1;
  mode: 'full' | 'quick';
  startedAt: string;
  seconds: number;
  machine: MachineInfo;
  /** os.loadavg() (1, 5, 15 minutes) when the run started and ended: other work on the machine skews every figure. */
  loadAverage: { start: number[]; end: number[] };
  shape: { accounts: number; agents: number; metrics: number; minutes: number; rowsPerMinute: number; concurrency: number; generator: 'child' | 'inline' };
  runs: PoolRunReport[];
  /** The tenants phase (--phases tenants), when run. */
  tenants?: TenantsReport;
  notes: string[];
  /** `--replicas`: the read-replica comparison (bench/replica-bench.ts). */
  replicas?: ReplicaFigure[];
}

export interface MachineInfo {
  cpuModel: string;
  cpus: number;
  memoryBytes: number;
  kernel: string;
  node: string;
  mariadb: string;
}

export interface CpuFigure {
  cpuSeconds: number;
  /** cpuSeconds / wall seconds: 1.0 = one core busy all the time. */
  cores: number;
}

/** Rows committed over one ten-minute stretch of the simulated hour, and the server's I/O meanwhile. */
export interface DecadeFigure {
  fromMinute: number;
  /** Exclusive. */
  toMinute: number;
  seconds: number;
  rows: number;
  rowsPerSecond: number;
  readBytes: number;
  writtenBytes: number;
  poolDiskReads: number;
}

/** One simulated hour written one way (the ceiling or end to end), counted in the database. */
export interface HourPhaseReport {
  minutesPlanned: number;
  minutesDone: number;
  complete: boolean;
  /** From the phase start to the last finished minute. */
  seconds: number;
  rowsCounted: number;
  rowsExpected: number;
  /** InnoDB bytes (data + index) of the hour's tables at the end of the phase. */
  tableBytes: number;
  callCountCounted: number;
  callCountExpected: number;
  /** Counted rows and call counts equal the expected ones exactly. */
  exact: boolean;
  rowsPerSecond: number;
  decades: DecadeFigure[];
  shardCpu?: CpuFigure;
  /** The bench process: collector + writer (end to end), or the statement builder (ceiling; its rows' generation is in generatorCpu). */
  benchCpu?: CpuFigure;
  generatorCpu?: CpuFigure;
  /** Peak RSS of the bench process during the phase (VmHWM after a reset). */
  benchPeakRssBytes?: number;
  /**
   * --collector-processes: each collector process apart (the bench process then holds no collector).
   * peakRssBytes is the process's VmHWM over the phase; overRssLimit: it passed COLLECTOR_RSS_LIMIT_BYTES.
   */
  collectorProcesses?: Array<{ index: number; pid: number; cpu?: CpuFigure; peakRssBytes?: number; overRssLimit?: boolean }>;
  posts?: PostFigures;
}

/** Issue #20: each collector process peaks at most this much resident memory at the default shape. */
export const COLLECTOR_RSS_LIMIT_BYTES = 256 * 1024 ** 2;

export interface PostFigures {
  ok: number;
  perSecond: number;
  failed: number;
  retries: number;
  abandoned: number;
  statuses: Record<string, number>;
  failures: string[];
  latency: LatencySummary;
  meanBodyBytes: number;
  concurrency: number;
  connectSeconds: number;
}

export interface BeaconFigures {
  seconds: number;
  concurrency: number;
  beacon: { ok: number; perSecond: number; rejected: number; latency: LatencySummary; statuses: Record<string, number>; committed: number };
  bare: { ok: number; perSecond: number; latency: LatencySummary };
  /** beacon beacons/s ÷ bare endpoint requests/s. */
  ratio: number;
  /** What the percentiles cost: distribution rows and bytes beside the beacon's timeslices (see bench/dist-census.ts). */
  distributions?: DistributionFigures;
}

export interface DistributionFigures {
  /** Distribution rows (one per metric, minute and bucket) and their tables' bytes. */
  rows: number;
  bytes: number;
  /** The beacon's timeslice rows (Browser/… metrics) and their tables' bytes. */
  timesliceRows: number;
  timesliceBytes: number;
  /** Committed distribution writes during the phase, and the seconds spent in them. */
  writes: number;
  writeSeconds: number;
  /** Seconds the beacon spent flushing (timeslices and distributions). */
  flushSeconds: number;
}

export interface RollupFigures {
  hours: number;
  days: number;
  rowsRead: number;
  rowsWritten: number;
  seconds: number;
  rowsPerSecond: number;
  shardCpu?: CpuFigure;
}

export interface PeerFigures {
  minutes: number;
  /** Influx lines posted (one per agent row, six fields each). */
  rowsSent: number;
  /** call_count samples counted through its /api/v1/query. */
  rowsCounted: number;
  callCountExpected: number;
  callCountCounted: number;
  exact: boolean;
  /** From the first post until every row was counted. */
  seconds: number;
  /** Of which: from the last post answered until the count was complete. */
  secondsToLand: number;
  rowsPerSecond: number;
  peerCpu?: CpuFigure;
  /** The bench process building and posting the lines. */
  senderCpu?: CpuFigure;
  /** Our end-to-end rows/s ÷ its rows/s (ours include the application-wide rows). */
  ratio?: number;
}

export interface PoolRunReport {
  bufferPoolBytes: number;
  redoLogBytes: number;
  flushLogAtTrxCommit: 1 | 2;
  setupSeconds: number;
  ceiling?: HourPhaseReport;
  endToEnd?: HourPhaseReport;
  /** End-to-end rows/s ÷ ceiling rows/s. */
  ratio?: number;
  dashboard?: DashboardFigure[];
  historyRows?: number;
  /** 24 h PromQL range queries through /prometheus (bench/prometheus-probe.ts). */
  prometheus?: PrometheusFigure[];
  prometheusMinuteRows?: number;
  rollup?: RollupFigures;
  beacons?: BeaconFigures;
  /** VictoriaMetrics fed the agent rows of the end-to-end hour (bench/peer-phase.ts). */
  peer?: PeerFigures;
  alerts?: AlertsFigure;
  errors: string[];
  skipped: string[];
}

/**
 * Rows per second of each ten minutes of the hour: rows counted in the database for those minutes
 * over the wall time between the end of the previous stretch and the end of this one. `counters[i]`
 * are the server's counters at the end of stretch i (counters[0] at the phase start). Pure.
 */
export function decadesOf(startedAt: number, minuteDoneAt: readonly number[], rowsByMinute: readonly number[], counters: ReadonlyArray<ServerCounters | undefined>): DecadeFigure[] {
  const out: DecadeFigure[] = [];
  for (let from = 0; from < minuteDoneAt.length; from += 10) {
    const to = Math.min(from + 10, minuteDoneAt.length);
    const begin = from === 0 ? startedAt : minuteDoneAt[from - 1]!;
    const seconds = (minuteDoneAt[to - 1]! - begin) / 1000;
    let rows = 0;
    for (let k = from; k < to; k++) rows += rowsByMinute[k] ?? 0;
    const a = counters[from / 10];
    const b = counters[from / 10 + 1];
    out.push({
      fromMinute: from,
      toMinute: to,
      seconds,
      rows,
      rowsPerSecond: seconds > 0 ? rows / seconds : 0,
      readBytes: a && b ? b.dataReadBytes - a.dataReadBytes : 0,
      writtenBytes: a && b ? b.dataWrittenBytes - a.dataWrittenBytes : 0,
      poolDiskReads: a && b ? b.poolDiskReads - a.poolDiskReads : 0,
    });
  }
  return out;
}

/** Minutes after which the report snapshots the server's counters: every tenth, and the last. */
export function isDecadeEnd(minute: number, minutes: number): boolean {
  return (minute + 1) % 10 === 0 || minute === minutes - 1;
}
