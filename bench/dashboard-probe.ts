import { HttpLoader, type LoadRequest, type RunStats } from './http-load.js';
import { LatencyHistogram, type LatencySummary } from './latency-histogram.js';

export interface ProbeAccount {
  readKey: string;
  applicationId: number;
}

/** Latency of one dashboard API endpoint over one window, requests sent one at a time. */
export interface DashboardFigure {
  endpoint: 'overview' | 'transactions';
  window: '1h' | '24h' | '30d';
  requests: number;
  failed: number;
  meanBytes: number;
  latency: LatencySummary;
  failures: string[];
}

/** What every read probe reports of one run of requests sent one at a time (`bytes`: bodies answered). */
export interface ProbeFigures {
  requests: number;
  failed: number;
  meanBytes: number;
  latency: LatencySummary;
  failures: string[];
}

export function probeFigures(stats: RunStats, bytes: number): ProbeFigures {
  return {
    requests: stats.ok,
    failed: stats.failed + stats.abandoned,
    meanBytes: stats.ok > 0 ? Math.round(bytes / stats.ok) : 0,
    latency: LatencyHistogram.fromJSON(stats.latency).summary(),
    failures: stats.failures,
  };
}

export const PROBE_WINDOWS: ReadonlyArray<{ window: DashboardFigure['window']; seconds: number }> = [
  { window: '1h', seconds: 3600 },
  { window: '24h', seconds: 86400 },
  { window: '30d', seconds: 30 * 86400 },
];

const ENDPOINTS: ReadonlyArray<DashboardFigure['endpoint']> = ['overview', 'transactions'];

/**
 * Reads each window ending at `to` (1 h answered from minute tables, 24 h from hourly tables with the
 * current hour stitched from minutes, 30 d from daily tables) through the dashboard's read API with
 * each account's read key, round-robin over the probed accounts, one request at a time.
 */
export async function probeDashboard(origin: string, accounts: readonly ProbeAccount[], to: number, requests: number): Promise<DashboardFigure[]> {
  const loader = new HttpLoader({ origin }, 1);
  const out: DashboardFigure[] = [];
  try {
    for (const endpoint of ENDPOINTS) {
      for (const w of PROBE_WINDOWS) {
        function* source(): Generator<LoadRequest> {
          for (let i = 0; i < requests; i++) {
            const a = accounts[i % accounts.length]!;
            yield {
              method: 'GET',
              path: `/api/applications/${a.applicationId}/${endpoint}?from=${to - w.seconds}&to=${to}`,
              headers: { 'X-Api-Key': a.readKey, Accept: 'application/json' },
            };
          }
        }
        let bytes = 0;
        const stats = await loader.run(source(), {
          concurrency: 1,
          deadline: Date.now() + 120_000,
          maxRetries: 0,
          onOk: (_req, body) => (bytes += body.length),
        });
        out.push({ endpoint, window: w.window, ...probeFigures(stats, bytes) });
      }
    }
  } finally {
    loader.close();
  }
  return out;
}
