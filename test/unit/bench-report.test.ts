import { describe, expect, it } from 'vitest';
import { decadesOf, isDecadeEnd, type BenchReport } from '../../bench/bench-report.js';
import { LatencyHistogram } from '../../bench/latency-histogram.js';
import { parseProcStat, parseStatusKb } from '../../bench/proc-stats.js';
import { generatorApart } from '../../bench/hour-meter.js';
import { renderMarkdown } from '../../bench/report-markdown.js';
import { portOfAddress, spread } from '../../bench/service-phases.js';

const counters = (read: number, written: number, reads: number) => ({ dataReadBytes: read, dataWrittenBytes: written, poolDiskReads: reads, rowsInserted: 0, rowsUpdated: 0 });

describe('rows/s per ten minutes', () => {
  it('divides the rows counted for each stretch by the wall time since the previous stretch ended', () => {
    const start = 1_000_000;
    const done = Array.from({ length: 25 }, (_, k) => start + (k + 1) * 2000 + (k >= 10 ? (k - 9) * 1000 : 0));
    const rows = new Array(25).fill(6000);
    const d = decadesOf(start, done, rows, [counters(0, 0, 0), counters(10e6, 50e6, 100), counters(40e6, 150e6, 900), counters(41e6, 160e6, 950)]);
    expect(d.map((x) => [x.fromMinute, x.toMinute, x.seconds, x.rows, x.rowsPerSecond])).toEqual([
      [0, 10, 20, 60_000, 3000],
      [10, 20, 30, 60_000, 2000],
      [20, 25, 15, 30_000, 2000],
    ]);
    expect(d.map((x) => [x.readBytes, x.writtenBytes, x.poolDiskReads])).toEqual([
      [10e6, 50e6, 100],
      [30e6, 100e6, 800],
      [1e6, 10e6, 50],
    ]);
    expect(decadesOf(start, [start + 500], [10], [counters(0, 0, 0), undefined])[0]).toMatchObject({ seconds: 0.5, rowsPerSecond: 20, readBytes: 0 });
  });

  it('snapshots at every tenth minute and at the last', () => {
    expect([0, 8, 9, 10, 19, 58, 59].map((m) => isDecadeEnd(m, 60))).toEqual([false, false, true, false, true, false, true]);
    expect(isDecadeEnd(2, 3)).toBe(true);
  });
});

describe('latency histogram', () => {
  it('gives quantiles within 1 % and exact count, mean, min and max', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i / 10);
    const s = h.summary();
    expect(s.count).toBe(1000);
    expect(s.meanMs).toBeCloseTo(50.05, 9);
    expect(s.maxMs).toBe(100);
    expect(Math.abs(s.p50Ms - 50) / 50).toBeLessThan(0.01);
    expect(Math.abs(s.p99Ms - 99) / 99).toBeLessThan(0.01);
    expect(h.quantile(1)).toBe(100);
    expect(new LatencyHistogram().summary()).toEqual({ count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0 });
    expect(() => h.record(-1)).toThrow('BUG: latency must be a finite number >= 0, got -1');
  });

  it('travels as JSON and merges', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    a.record(1);
    b.record(3);
    b.record(0.0005);
    const c = LatencyHistogram.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
    c.merge(b);
    expect(c.count).toBe(3);
    expect(c.toJSON()).toMatchObject({ count: 3, minMs: 0.0005, maxMs: 3 });
    expect(c.summary().meanMs).toBeCloseTo(4.0005 / 3, 12);
  });
});

describe('/proc parsing', () => {
  it('reads utime and stime after a command name with spaces and parentheses', () => {
    const line = '4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 2100 0 0 0 1234 567 0 0 20 0 9 0 100 1000 200 18446744073709551615';
    expect(parseProcStat(line)).toEqual({ utimeTicks: 1234, stimeTicks: 567 });
    expect(() => parseProcStat('garbage')).toThrow('cannot parse /proc stat');
  });

  it('reads kB lines of /proc/<pid>/status in bytes', () => {
    const text = 'Name:\tnode\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n';
    expect(parseStatusKb(text, 'VmHWM')).toBe(204800 * 1024);
    expect(parseStatusKb(text, 'VmRSS')).toBe(102400 * 1024);
    expect(parseStatusKb(text, 'VmSwap')).toBeUndefined();
  });
});

describe('small helpers', () => {
  it('finds the collector port in its printed address and spreads probed accounts', () => {
    expect(portOfAddress('https://127.0.0.1:40123/agent_listener/invoke_raw_method (New Relic agents, protocol 17)')).toBe(40123);
    expect(() => portOfAddress('somewhere')).toThrow('cannot find the port in the service address "somewhere"');
    expect(spread([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 3)).toEqual([1, 5, 10]);
    expect(spread([1, 2], 5)).toEqual([1, 2]);
    expect(spread([1, 2, 3], 1)).toEqual([1]);
    expect(spread([1, 2, 3], 0)).toEqual([]);
  });
});

describe('markdown report', () => {
  const latency = { count: 100, meanMs: 12, p50Ms: 10, p90Ms: 20, p99Ms: 48.2, maxMs: 61 };
  const phase = (rowsPerSecond: number) => ({
    minutesPlanned: 20,
    minutesDone: 20,
    complete: true,
    seconds: 40,
    rowsCounted: 20 * 5100,
    rowsExpected: 20 * 5100,
    tableBytes: 16 * 1024 ** 2,
    callCountCounted: 999,
    callCountExpected: 999,
    exact: true,
    rowsPerSecond,
    decades: [
      { fromMinute: 0, toMinute: 10, seconds: 15, rows: 51_000, rowsPerSecond: 3400, readBytes: 0, writtenBytes: 80e6, poolDiskReads: 0 },
      { fromMinute: 10, toMinute: 20, seconds: 25, rows: 51_000, rowsPerSecond: 2040, readBytes: 300e6, writtenBytes: 120e6, poolDiskReads: 9000 },
    ],
    shardCpu: { cpuSeconds: 30, cores: 0.75 },
    benchCpu: { cpuSeconds: 40, cores: 1 },
  });
  const report: BenchReport = {
    version: 1,
    mode: 'full',
    startedAt: '2026-11-23T10:00:00.000Z',
    seconds: 1500,
    machine: { cpuModel: 'AMD EPYC', cpus: 2, memoryBytes: 24 * 1024 ** 3, kernel: '6.1', node: 'v20.19.0', mariadb: '10.11.6' },
    loadAverage: { start: [0.1, 0.2, 0.3], end: [1.5, 1.2, 1] },
    shape: { accounts: 1, agents: 50, metrics: 100, minutes: 20, rowsPerMinute: 5100, concurrency: 32, generator: 'child' },
    runs: [
      {
        bufferPoolBytes: 2 * 1024 ** 3,
        redoLogBytes: 1024 ** 3,
        flushLogAtTrxCommit: 1,
        setupSeconds: 3,
        ceiling: phase(2550),
        endToEnd: {
          ...phase(1275),
          posts: { ok: 1000, perSecond: 25, failed: 0, retries: 2, abandoned: 0, statuses: { '200': 1000, '503': 2 }, failures: [], latency, meanBodyBytes: 11000, concurrency: 32, connectSeconds: 1.5 },
          benchPeakRssBytes: 300 * 1024 ** 2,
        },
        ratio: 0.5,
        rollup: { hours: 1, days: 0, rowsRead: 306_000, rowsWritten: 5100, seconds: 0.5, rowsPerSecond: 612_000 },
        beacons: {
          seconds: 20,
          concurrency: 32,
          beacon: { ok: 100_000, perSecond: 5000, rejected: 0, latency, statuses: { '204': 100_000 }, committed: 100_000 },
          bare: { ok: 200_000, perSecond: 10_000, latency },
          ratio: 0.5,
        },
        dashboard: [{ endpoint: 'overview', window: '24h', requests: 30, failed: 0, meanBytes: 2800, latency, failures: [] }],
        historyRows: 1234,
        errors: [],
        skipped: [],
      },
    ],
    notes: ['a note'],
  };

  it('shows the summary row, the ten-minute table and the details', () => {
    const md = renderMarkdown(report);
    expect(md).toContain('Machine: 2 × AMD EPYC, 24 GiB memory, Linux 6.1, Node v20.19.0, MariaDB 10.11.6.');
    expect(md).toContain('Load average (1/5/15 min) at the start 0.10 / 0.20 / 0.30, at the end 1.50 / 1.20 / 1.00');
    expect(md).toContain('| 2 GiB | 2,550 | 1,275 | 50 % | 25 | 10.0 ms / 48.2 ms | 1.00 cores | 300 MiB (bench process) | 0.75 cores | 612,000 | 5,000 | 10,000 | 50 % |');
    expect(md).toContain('| minutes | ceiling 2 GiB | end to end 2 GiB |');
    expect(md).toContain('| 0–9 | 3,400 (0 / 80) | 3,400 (0 / 80) |');
    expect(md).toContain('| 10–19 | 2,040 (300 / 120) | 2,040 (300 / 120) |');
    expect(md).toContain('102,000 rows counted (expected 102,000), call_count sum 999 (expected 999): exact');
    expect(md).toContain("the hour's tables hold 16 MiB (164 B/row) against a 2 GiB pool");
    expect(md).toContain('answers 200: 1,000, 503: 2; 2 resent, 0 failed, 0 abandoned');
    expect(md).toContain('| overview | 24h | 30 | 10.0 ms | 48.2 ms | 61.0 ms | 2,800 B |');
    expect(md).toContain('100,000 page views counted in the database');
    expect(md).toContain('## Buffer pool 2 GiB (redo log 1 GiB, innodb_flush_log_at_trx_commit=1)');
    expect(md).toContain('- a note');
  });
});

describe('load generated inside the bench process (the ceiling\'s rows)', () => {
  it('is taken from the bench process\'s CPU and added to the generator\'s, as cores over the same wall time', () => {
    // 12 CPU seconds over 8 s of wall (1.5 cores), 3 of them making rows.
    expect(generatorApart({ cpuSeconds: 12, cores: 1.5 }, undefined, 3)).toEqual({ bench: { cpuSeconds: 9, cores: 1.125 }, generator: { cpuSeconds: 3, cores: 0.375 } });
    expect(generatorApart({ cpuSeconds: 12, cores: 1.5 }, { cpuSeconds: 4, cores: 0.5 }, 2)).toEqual({ bench: { cpuSeconds: 10, cores: 1.25 }, generator: { cpuSeconds: 6, cores: 0.75 } });
    // None generated inside: both as measured.
    expect(generatorApart({ cpuSeconds: 12, cores: 1.5 }, { cpuSeconds: 4, cores: 0.5 }, undefined)).toEqual({ bench: { cpuSeconds: 12, cores: 1.5 }, generator: { cpuSeconds: 4, cores: 0.5 } });
  });
});
