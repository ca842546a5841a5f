import { describe, expect, it } from 'vitest';
import { parseBenchArgs, type BenchOptions } from '../../bench/bench-options.js';
import { replicaMarkdown, type ReplicaFigure } from '../../bench/replica-bench.js';

const summary = (p50Ms: number, p99Ms: number) => ({ count: 10, meanMs: p50Ms, p50Ms, p90Ms: p99Ms, p99Ms, minMs: 1, maxMs: p99Ms });

describe('bench --replicas', () => {
  it('is off by default and on with the flag', () => {
    expect((parseBenchArgs(['--quick']) as BenchOptions).replicas).toBeUndefined();
    expect((parseBenchArgs(['--quick', '--replicas']) as BenchOptions).replicas).toBe(true);
  });

  it('renders one table row per round with the reads by target and reason', () => {
    const f: ReplicaFigure = {
      variant: 'with replica',
      round: 2,
      ingestRowsPerSecond: 16640.6,
      fresh: { requests: 261, failed: 0, latency: summary(122, 2830.2) as any },
      old: { requests: 251, failed: 0, latency: summary(132.1, 2802.1) as any },
      primaryCpuCores: 0.134,
      replicaCpuCores: null,
      reads: { 'replica/current': 358, 'primary/edge': 13 },
      lagAtEndSeconds: 0.04,
    };
    expect(replicaMarkdown([f])[4]).toBe(
      '| 2 | with replica | 16,641 | 122.0 ms / 2830.2 ms (261) | 132.1 ms / 2802.1 ms (251) | 0.13 cores | — | replica/current 358, primary/edge 13 | 0.0 s |',
    );
  });
});
