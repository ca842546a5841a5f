import type { MetricName } from '../lib/shard/metric-dictionary.js';
import { findAppMetrics } from './app-metrics.js';
import { OTLP_HTTP_INSTRUMENTS, otlpMergedName, otlpOverviewOf, serverErrorNames } from './otlp-overview.js';
import { OVERVIEW_METRICS, overviewOf, type Overview } from './overview.js';
import type { Ctx, ReadApi } from './read-api.js';
import type { SeriesResult } from './series-reader.js';

/**
 * Which overview an application gets, from the metric names it has ever written:
 * - 'newrelic': a New Relic agent's web metrics (HttpDispatcher, WebTransaction, …), see overview.ts;
 * - 'otlp': OpenTelemetry HTTP server metrics (http.server.request.duration), see otlp-overview.ts;
 * - 'custom': only other metrics (custom, or OTLP instruments without the HTTP conventions): the
 *   answer lists a few of them so the UI can say so and point at the metric explorer;
 * - 'none': no metric at all yet.
 */
export type OverviewSource = 'newrelic' | 'otlp' | 'custom' | 'none';

/** Attribute sets of one OTLP instrument read for the error rate (bounds the statement). */
const MAX_ATTRIBUTE_SETS = 2000;
const CUSTOM_SAMPLE = 10;

export interface OverviewAnswer {
  source: OverviewSource;
  r: SeriesResult;
  overview: Overview;
  customMetrics: string[];
}

export async function overviewFor(api: ReadApi, ctx: Ctx): Promise<OverviewAnswer> {
  const accountId = ctx.account.id;
  const appId = ctx.app.id;
  const markers = [OVERVIEW_METRICS.throughput, OVERVIEW_METRICS.web, ...OTLP_HTTP_INSTRUMENTS.map(otlpMergedName)];
  const present = new Set((await findAppMetrics(ctx.store, accountId, appId, { names: markers, scope: '', limit: 100 })).map((m) => m.name));
  const nrNames = Object.values(OVERVIEW_METRICS).map((name) => ({ name, scope: '' }));
  const otlp = OTLP_HTTP_INSTRUMENTS.find((i) => present.has(otlpMergedName(i)));
  if (!present.has(OVERVIEW_METRICS.throughput) && !present.has(OVERVIEW_METRICS.web) && otlp) {
    const sets = await findAppMetrics(ctx.store, accountId, appId, { prefix: `${otlpMergedName(otlp)}/`, scope: '', limit: MAX_ATTRIBUTE_SETS });
    const errorNames: MetricName[] = serverErrorNames(otlp, sets);
    const r = await api.readMetrics(ctx, [{ name: otlpMergedName(otlp), scope: '' }, ...errorNames], 'series');
    return { source: 'otlp', r, overview: otlpOverviewOf(r, otlp, errorNames, ctx.now), customMetrics: [] };
  }
  const r = await api.readMetrics(ctx, nrNames, 'series');
  const overview = overviewOf(r, ctx.now);
  if (present.size > 0) return { source: 'newrelic', r, overview, customMetrics: [] };
  const sample = await findAppMetrics(ctx.store, accountId, appId, { scope: '', limit: CUSTOM_SAMPLE });
  return { source: sample.length > 0 ? 'custom' : 'none', r, overview, customMetrics: sample.map((m) => m.name) };
}
