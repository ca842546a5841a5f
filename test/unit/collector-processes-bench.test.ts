import { describe, expect, it } from 'vitest';
import { BenchUsageError, parseBenchArgs, type BenchOptions } from '../../bench/bench-options.js';
import type { HourPhaseReport } from '../../bench/bench-report.js';
import { collectorCell, cpuPerRow, peakRss, pipelineMicros } from '../../bench/report-markdown.js';

describe('bench --collector-processes', () => {
  it('parses N (1..64); unset leaves the collector in the bench process', () => {
    expect((parseBenchArgs(['--collector-processes', '2']) as BenchOptions).collectorProcesses).toBe(2);
    expect((parseBenchArgs([]) as BenchOptions).collectorProcesses).toBeUndefined();
    expect(() => parseBenchArgs(['--collector-processes', '0'])).toThrow(BenchUsageError);
    expect(() => parseBenchArgs(['--collector-processes', 'two'])).toThrow(/--collector-processes must be a whole number/);
  });

  it('reports each process apart and counts their CPU in the pipeline per row', () => {
    const p = {
      rowsCounted: 1_000_000,
      shardCpu: { cpuSeconds: 20, cores: 0.5 },
      benchCpu: { cpuSeconds: 1, cores: 0.01 },
      collectorProcesses: [
        { index: 0, pid: 11, cpu: { cpuSeconds: 15, cores: 0.4 }, peakRssBytes: 240 * 1024 ** 2 },
        { index: 1, pid: 12, cpu: { cpuSeconds: 14, cores: 0.38 }, peakRssBytes: 260 * 1024 ** 2 },
      ],
    } as unknown as HourPhaseReport;
    expect(pipelineMicros(p)).toBe(50);
    expect(cpuPerRow(p)).toBe(
      'shard 20.0 µs, bench process 1.0 µs, collector process 0 15.0 µs (0.40 cores, peak RSS 240 MiB), collector process 1 14.0 µs (0.38 cores, peak RSS 260 MiB ⚠ over 256 MiB), together 50.0 µs',
    );
    // The summary table's cell: every process's peak by index, the one past 256 MiB flagged.
    expect(collectorCell(p, 'rss')).toBe('240 MiB / 260 MiB ⚠ over 256 MiB');
    expect(collectorCell(p, 'cpu')).toBe('0.78 (×2)');
  });

  it('flags a peak RSS only when it passes 256 MiB', () => {
    expect(peakRss(256 * 1024 ** 2)).toBe('256 MiB');
    expect(peakRss(256 * 1024 ** 2 + 1)).toBe('256 MiB ⚠ over 256 MiB');
    expect(peakRss(undefined)).toBe('—');
    // Without --collector-processes the bench process hosts the collector beside every other phase:
    // its own peak, named as the bench process's and not held to the collector's bound.
    expect(collectorCell({ benchPeakRssBytes: 300 * 1024 ** 2 } as unknown as HourPhaseReport, 'rss')).toBe('300 MiB (bench process)');
    expect(collectorCell({} as unknown as HourPhaseReport, 'rss')).toBe('—');
  });
});
