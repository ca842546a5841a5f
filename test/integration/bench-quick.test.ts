import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QUICK_DEFAULTS } from '../../bench/bench-options.js';
import type { BenchReport } from '../../bench/bench-report.js';
import { runBench, type BenchOutcome } from '../../bench/bench-run.js';
import { freePort } from '../harness/ports.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'apm-bench-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// Quick shape: 2 accounts × 3 agents × 12 metrics × 3 minutes; 2 × (3 × 12 + 12) = 96 rows a minute.
const ROWS = 3 * 96;
// Sum of call_count of those rows (agents' and the applications'), from the deterministic values.
const CALLS = 1560 + 1472 + 1504;

describe('npm run bench --quick', () => {
  it('runs every phase at both pool sizes, counts in the database exactly what was posted, and writes the reports', async () => {
    const log: string[] = [];
    const outcome: BenchOutcome = await runBench({ ...QUICK_DEFAULTS, outDir: path.join(tmp, 'results'), dataDir: path.join(tmp, 'data') }, { freePort, log: (l) => log.push(l) });
    const r: BenchReport = outcome.report;
    expect(r.shape).toEqual({ accounts: 2, agents: 3, metrics: 12, minutes: 3, rowsPerMinute: 96, concurrency: 4, generator: 'child' });
    expect(r.runs.map((run) => run.bufferPoolBytes)).toEqual([64 * 1024 ** 2, 128 * 1024 ** 2]);
    for (const run of r.runs) {
      expect(run.errors).toEqual([]);
      expect(run.skipped).toEqual([]);
      for (const phase of [run.ceiling!, run.endToEnd!]) {
        expect(phase).toMatchObject({ minutesPlanned: 3, minutesDone: 3, complete: true, rowsCounted: ROWS, rowsExpected: ROWS, callCountCounted: CALLS, callCountExpected: CALLS, exact: true });
        expect(phase.decades).toHaveLength(1);
        expect(phase.decades[0]).toMatchObject({ fromMinute: 0, toMinute: 3, rows: ROWS });
        expect(phase.rowsPerSecond).toBeGreaterThan(0);
        expect(phase.shardCpu!.cpuSeconds).toBeGreaterThanOrEqual(0);
      }
      const e = run.endToEnd!;
      // 6 agents × 3 minutes, each answered 200 after its rows were committed.
      expect(e.posts).toMatchObject({ ok: 18, failed: 0, abandoned: 0, concurrency: 4 });
      expect(e.posts!.statuses['200']).toBe(18);
      expect(e.posts!.latency.count).toBe(18);
      // Measured apart, as a process of its own (present only then); 18 posts may take less than one
      // /proc clock tick (10 ms) of its CPU, so its amount can be 0 here.
      expect(e.generatorCpu).toBeDefined();
      expect(e.generatorCpu!.cpuSeconds).toBeGreaterThanOrEqual(0);
      expect(e.benchPeakRssBytes).toBeGreaterThan(0);
      expect(run.ratio).toBeCloseTo(e.rowsPerSecond / run.ceiling!.rowsPerSecond, 12);
      // VictoriaMetrics got the agents' rows of the same hour (one line per agent row), counted through its query API.
      expect(run.peer).toMatchObject({ minutes: 3, rowsSent: 3 * 72, rowsCounted: 3 * 72, callCountExpected: CALLS / 2, callCountCounted: CALLS / 2, exact: true });
      expect(run.peer!.ratio).toBeCloseTo(e.rowsPerSecond / run.peer!.rowsPerSecond, 12);
      expect(run.peer!.peerCpu).toBeDefined();
      expect(run.peer!.seconds).toBeGreaterThan(0);
      // The rollup read the agents' hour (the ceiling's hour was dropped): one hour per account.
      // When that hour is 23:00–24:00 UTC (a run between 01:00 and 02:00), its day has ended too: one day per
      // account, reading the agents' hour rows (96) and the probed account's 23 seeded hours (4 × 12 × 23).
      const hourStart = Math.floor(Date.parse(r.startedAt) / 3_600_000) * 3600 - 2 * 3600;
      const dayToo = (hourStart + 3600) % 86_400 === 0;
      expect(run.rollup).toMatchObject(
        dayToo ? { hours: 2, days: 2, rowsRead: ROWS + 96 + 4 * 12 * 23, rowsWritten: 96 + 96 } : { hours: 2, days: 0, rowsRead: ROWS, rowsWritten: 96 },
      );
      // Every beacon answered 204 is a page view in the database; the bare endpoint answered too.
      const b = run.beacons!;
      expect(b.beacon.ok).toBeGreaterThan(0);
      expect(b.beacon.rejected).toBe(0);
      expect(b.beacon.committed).toBe(b.beacon.ok);
      expect(b.bare.ok).toBeGreaterThan(0);
      // Alerts: 100 policies on 20 applications; the 5 failing ones open their error-rate and Apdex incidents.
      expect(run.alerts).toMatchObject({ policies: 100, applications: 20, firstRun: { policyMinutes: 300, transitions: 10 }, steadyRun: { policyMinutes: 100, transitions: 0 } });
      expect(b.ratio).toBeCloseTo(b.beacon.perSecond / b.bare.perSecond, 12);
      expect(run.dashboard!.map((d) => `${d.endpoint} ${d.window} ${d.requests} ${d.failed}`)).toEqual([
        'overview 1h 3 0',
        'overview 24h 3 0',
        'overview 30d 3 0',
        'transactions 1h 3 0',
        'transactions 24h 3 0',
        'transactions 30d 3 0',
      ]);
      // One probed account: 4 series (3 agents + application) × 12 metrics × (23 hours + 30 days).
      expect(run.historyRows).toBe(4 * 12 * 53);
      // The Prometheus API probe: 2 accounts × 23 hours × 60 minutes × 12 metrics of application rows.
      expect(run.prometheusMinuteRows).toBe(2 * 23 * 60 * 12);
      expect(run.prometheus!.map((p) => `${p.step} ${p.requests} ${p.failed} ${p.accounts}`)).toEqual(['60 3 0 2', '300 3 0 2', '60 3 0 2', '300 3 0 2']);
    }
    const json = JSON.parse(fs.readFileSync(outcome.jsonFile, 'utf8')) as BenchReport;
    expect(json.runs[1]!.endToEnd!.rowsCounted).toBe(ROWS);
    const md = fs.readFileSync(outcome.markdownFile, 'utf8');
    expect(md).toContain('## Rows/s per ten minutes of the hour');
    expect(md).toContain('| minutes | ceiling 64 MiB | end to end 64 MiB | ceiling 128 MiB | end to end 128 MiB |');
    expect(fs.readFileSync(path.join(tmp, 'results', 'latest-quick.md'), 'utf8')).toBe(md);
    // Each pool run's data directory is removed afterwards.
    expect(fs.readdirSync(path.join(tmp, 'data'))).toEqual([]);
    expect(log.some((l) => l.includes('end to end') && l.includes('(exact)'))).toBe(true);
  }, 150_000);
});
