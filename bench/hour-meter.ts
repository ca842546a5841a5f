import type { ShardStore } from '../lib/shard/shard-store.js';
import { expectedCallCount } from './bench-metrics.js';
import { COLLECTOR_RSS_LIMIT_BYTES, decadesOf, isDecadeEnd, type CpuFigure, type HourPhaseReport } from './bench-report.js';
import { censusOfHour } from './db-census.js';
import { CpuMeter, memoryOf, resetPeakRss } from './proc-stats.js';
import { serverCounters, type ServerCounters } from './shard-server.js';

export interface HourMeterOptions {
  store: ShardStore;
  shardPid: number;
  /** The generator's pid when it runs in its own process. */
  generatorPid?: number;
  /** --collector-processes: the collector processes' pids, by index. */
  collectorPids?: number[];
  accounts: readonly { id: number; index: number }[];
  agents: number;
  metrics: number;
  hourStart: number;
  minutes: number;
}

/** How a phase went, as its writer reports it. */
export interface HourProgress {
  startedAt: number;
  minutesDone: number;
  minuteDoneAt: number[];
  /** CPU seconds the bench process spent generating the load itself (the ceiling's rows): reported as the generator's, not the bench process's. */
  generatorCpuSeconds?: number;
}

/**
 * The bench process's CPU without `ownSeconds` of load generation done inside it (the ceiling's rows),
 * which is added to the generator's: over the bench process's wall time, as its cores.
 */
export function generatorApart(bench: CpuFigure | undefined, generator: CpuFigure | undefined, ownSeconds: number | undefined): { bench: CpuFigure | undefined; generator: CpuFigure | undefined } {
  if (!bench || ownSeconds === undefined || ownSeconds <= 0) return { bench, generator };
  const wall = bench.cores > 0 ? bench.cpuSeconds / bench.cores : 0;
  const figure = (cpuSeconds: number): CpuFigure => ({ cpuSeconds, cores: wall > 0 ? cpuSeconds / wall : 0 });
  return { bench: figure(bench.cpuSeconds - ownSeconds), generator: figure((generator?.cpuSeconds ?? 0) + ownSeconds) };
}

/**
 * Measures one simulated hour: CPU of the bench process, mariadbd and the generator over the phase,
 * the bench process's peak RSS, the server's I/O counters at every ten minutes, and at the end the
 * rows actually in the database against the rows the load should have stored.
 */
export class HourMeter {
  readonly #cpu: { bench: CpuMeter; shard: CpuMeter; generator: CpuMeter | undefined; collectors: CpuMeter[] };
  readonly #counters: Array<Promise<ServerCounters | undefined>> = [];

  private constructor(private readonly o: HourMeterOptions, first: ServerCounters) {
    resetPeakRss(process.pid);
    for (const pid of o.collectorPids ?? []) resetPeakRss(pid);
    this.#counters.push(Promise.resolve(first));
    this.#cpu = {
      bench: new CpuMeter(process.pid),
      shard: new CpuMeter(o.shardPid),
      generator: o.generatorPid !== undefined && o.generatorPid !== process.pid ? new CpuMeter(o.generatorPid) : undefined,
      collectors: (o.collectorPids ?? []).map((pid) => new CpuMeter(pid)),
    };
  }

  static async start(o: HourMeterOptions): Promise<HourMeter> {
    return new HourMeter(o, await serverCounters(o.store.pool));
  }

  /** Call when minute `minute` is finished (snapshots the counters at the end of each ten minutes). */
  minuteDone(minute: number): void {
    if (isDecadeEnd(minute, this.o.minutes)) this.#counters.push(this.#snapshot());
  }

  async finish(p: HourProgress): Promise<HourPhaseReport> {
    const shard = this.#cpu.shard.stop();
    const { bench, generator } = generatorApart(this.#cpu.bench.stop(), this.#cpu.generator?.stop(), p.generatorCpuSeconds);
    const peak = memoryOf(process.pid).peakRssBytes;
    const collectorProcesses = (this.o.collectorPids ?? []).map((pid, index) => {
      const cpu = this.#cpu.collectors[index]!.stop();
      const rss = memoryOf(pid).peakRssBytes;
      return { index, pid, ...(cpu ? { cpu } : {}), ...(rss !== undefined ? { peakRssBytes: rss, overRssLimit: rss > COLLECTOR_RSS_LIMIT_BYTES } : {}) };
    });
    // A phase stopped between decade ends still gets its last stretch's I/O.
    if (this.#counters.length < Math.ceil(p.minutesDone / 10) + 1) this.#counters.push(this.#snapshot());
    const counters = await Promise.all(this.#counters);
    const census = await censusOfHour(this.o.store, this.o.accounts.map((a) => a.id), this.o.hourStart);
    const indexes = this.o.accounts.map((a) => a.index);
    const perMinuteRows = this.o.accounts.length * (this.o.agents * this.o.metrics + this.o.metrics);
    let callCountExpected = 0;
    for (let k = 0; k < p.minutesDone; k++) callCountExpected += expectedCallCount(indexes, this.o.agents, this.o.metrics, k);
    const rowsExpected = perMinuteRows * p.minutesDone;
    const seconds = p.minutesDone > 0 ? (p.minuteDoneAt[p.minutesDone - 1]! - p.startedAt) / 1000 : 0;
    // Rows of minutes past the last finished one (a minute cut by the timeout) are not in the rate.
    const rowsCounted = census.rowsByMinute.slice(0, p.minutesDone).reduce((a, b) => a + b, 0);
    const callCountCounted = census.callCountByMinute.slice(0, p.minutesDone).reduce((a, b) => a + b, 0);
    return {
      minutesPlanned: this.o.minutes,
      minutesDone: p.minutesDone,
      complete: p.minutesDone === this.o.minutes,
      seconds,
      rowsCounted,
      rowsExpected,
      tableBytes: census.tableBytes,
      callCountCounted,
      callCountExpected,
      // A complete phase must also have stored nothing beyond its minutes.
      exact: rowsCounted === rowsExpected && callCountCounted === callCountExpected && (p.minutesDone < this.o.minutes || census.rows === rowsCounted),
      rowsPerSecond: seconds > 0 ? rowsCounted / seconds : 0,
      decades: decadesOf(p.startedAt, p.minuteDoneAt, census.rowsByMinute, counters),
      ...(shard ? { shardCpu: shard } : {}),
      ...(bench ? { benchCpu: bench } : {}),
      ...(generator ? { generatorCpu: generator } : {}),
      ...(peak !== undefined ? { benchPeakRssBytes: peak } : {}),
      ...(collectorProcesses.length > 0 ? { collectorProcesses } : {}),
    };
  }

  #snapshot(): Promise<ServerCounters | undefined> {
    return serverCounters(this.o.store.pool).catch(() => undefined);
  }
}
