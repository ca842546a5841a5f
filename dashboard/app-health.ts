import type { Account } from '../lib/directory/directory.js';
import { overviewFor, type OverviewSource } from './app-overview.js';
import type { ReadApi } from './read-api.js';

/**
 * The application list's health at a glance, as New Relic's: per application the Apdex, response time,
 * throughput and error rate of the last 30 minutes (the overview's summary, from whichever source the
 * application reports: New Relic agent or OTLP HTTP conventions), and a sparkline of its throughput.
 *
 * Open incidents come from the alerts service when one is wired in: `OpenIncidentsSource` is the hook
 * (application id → open incidents). Without it `openIncidents` is null and the UI leaves the column out.
 */
export type OpenIncidentsSource = (accountId: number) => Promise<ReadonlyMap<number, number>>;

/** Applications summarised per request (the rest are listed without figures). */
export const MAX_HEALTH_APPS = 100;
const CONCURRENCY = 4;

export interface AppHealth {
  id: number;
  name: string;
  source: OverviewSource;
  apdex: number | null;
  apdexT: number | null;
  responseTime: number | null;
  throughput: number | null;
  errorRate: number | null;
  /** Requests per minute, one value per minute of the window (null: no data). */
  spark: Array<number | null>;
  openIncidents: number | null;
}

export async function applicationsHealth(api: ReadApi, account: Account, apps: ReadonlyArray<{ id: number; name: string }>, incidents?: OpenIncidentsSource): Promise<{ window: { from: number; to: number }; applications: AppHealth[]; openIncidents: boolean }> {
  const q = new URLSearchParams({ last: '30m' });
  const open = incidents ? await incidents(account.id).catch(() => undefined) : undefined;
  const out: AppHealth[] = new Array(apps.length);
  let window = { from: 0, to: 0 };
  let next = 0;
  const worker = async () => {
    while (next < apps.length) {
      const k = next++;
      const a = apps[k]!;
      const blank: AppHealth = { id: a.id, name: a.name, source: 'none', apdex: null, apdexT: null, responseTime: null, throughput: null, errorRate: null, spark: [], openIncidents: open?.get(a.id) ?? (open ? 0 : null) };
      if (k >= MAX_HEALTH_APPS) {
        out[k] = blank;
        continue;
      }
      const ctx = await api.context(account, String(a.id), q);
      window = ctx.window;
      const { source, overview } = await overviewFor(api, ctx);
      const s = overview.summary;
      out[k] = { ...blank, source, apdex: s.apdex, apdexT: s.apdexT, responseTime: s.responseTime, throughput: s.throughput, errorRate: s.errorRate, spark: overview.series.throughput };
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, apps.length) }, worker));
  return { window, applications: out, openIncidents: open !== undefined };
}
