import type { Account, Application, Directory } from '../lib/directory/directory.js';
import { InputError, NotFoundError } from '../lib/errors.js';
import type { MetricName } from '../lib/shard/metric-dictionary.js';
import type { ShardRegistry } from '../lib/shard/shard-registry.js';
import type { ShardStore } from '../lib/shard/shard-store.js';
import type { Timeslice } from '../lib/timeslice/timeslice.js';
import { agentParam, agentsOf } from './app-agents.js';
import { applicationsHealth, type OpenIncidentsSource } from './app-health.js';
import { findAppMetrics } from './app-metrics.js';
import { BROWSER_METRICS, breakdownOf, browserOf } from './browser-view.js';
import type { DashboardMetrics } from './dashboard-metrics.js';
import { apdexScore, meanOrNull, mergeSeries, perMinute, stdDevOrNull, windowMinutes } from './derive.js';
import { overviewFor } from './app-overview.js';
import { metricKey, SeriesReader, type SeriesResult } from './series-reader.js';
import { SAMPLING_METRICS } from '../lib/distribution/sampling.js';
import { percentilesByName, percentilesOf, readDistribution, type Percentiles } from './percentiles.js';
import { parseTimeWindow } from './time-window.js';
import type { ReadRouter, RoutedRead } from '../lib/replica/read-router.js';
import { readRouted, type RoutedSeriesResult } from './routed-read.js';
import { apdexNameOf, rankTransactions, segmentBreakdown, TRANSACTION_PREFIX } from './transactions.js';

/** Names read per listing (transactions, segments, breakdowns): bounds the statements and the answer. */
const MAX_NAMES = 2000;

/**
 * The read API's logic, between HTTP and storage: every method gets the caller's account (from its
 * read key), checks that the application belongs to it (another account's application is "not
 * found"), reads through the SeriesReader and shapes the answer. Times in answers are Unix seconds;
 * durations are seconds (see docs/api.md).
 */
export class ReadApi {
  constructor(
    private readonly directory: Directory,
    private readonly shards: ShardRegistry,
    private readonly reader: SeriesReader,
    private readonly now: () => number,
    private readonly metrics: DashboardMetrics,
    /** Read replicas (lib/replica): unset, every read goes to the account's primary. */
    private readonly router?: ReadRouter,
    /** Hook for the alerts service: open incidents per application (see app-health.ts). */
    private readonly openIncidents?: OpenIncidentsSource,
  ) {}

  async applications(account: Account): Promise<unknown> {
    const apps = await this.directory.listApplications(account.id);
    return { account: { id: account.id, name: account.name, browserKey: account.browserKey }, applications: apps.map(appJson) };
  }

  async overview(account: Account, appId: string, q: URLSearchParams): Promise<unknown> {
    const ctx = await this.context(account, appId, q);
    const { source, r, overview, customMetrics } = await overviewFor(this, ctx);
    // Response-time percentiles: the agents' sampled transaction events (estimates) or the OTLP histogram.
    const name = source === 'otlp' ? (overview.percentileMetric ?? '') : 'WebTransaction';
    const percentiles = source === 'newrelic' || source === 'otlp' ? await this.#sampled(ctx, (await percentilesByName(ctx.store, account.id, r, { responseTime: name })).responseTime) : null;
    return { ...head(ctx.app, r), source, ...overview, percentiles, customMetrics };
  }

  async browser(account: Account, appId: string, q: URLSearchParams): Promise<unknown> {
    const ctx = await this.context(account, appId, q);
    const names = Object.values(BROWSER_METRICS).map((name) => ({ name, scope: '' }));
    const r = await this.readMetrics(ctx, names, 'series');
    const [byBrowser, byCountry, pages] = await Promise.all([
      findAppMetrics(ctx.store, account.id, ctx.app.id, { prefix: 'Browser/ByBrowser/', scope: '', limit: MAX_NAMES }),
      findAppMetrics(ctx.store, account.id, ctx.app.id, { prefix: 'Browser/ByCountry/', scope: '', limit: MAX_NAMES }),
      findAppMetrics(ctx.store, account.id, ctx.app.id, { names: [BROWSER_METRICS.pageLoad], limit: MAX_NAMES }),
    ]);
    const groups = pages.filter((p) => p.scope !== '');
    const totals = await this.readMetrics(ctx, [...byBrowser, ...byCountry, ...groups], 'total');
    const rows = (list: Array<MetricName & { id: number }>, label: (m: MetricName) => string) =>
      breakdownOf(list.map((m) => ({ label: label(m), t: totals.data.get(metricKey(m))?.get(0) })), 50);
    const { pageLoad, ttfb, fcp, lcp, inp, cls } = BROWSER_METRICS;
    const percentiles = await percentilesByName(ctx.store, account.id, r, { pageLoad, ttfb, fcp, lcp, inp, cls });
    return {
      ...head(ctx.app, r),
      ...browserOf(r, ctx.now),
      percentiles,
      byBrowser: rows(byBrowser, (m) => m.name.slice('Browser/ByBrowser/'.length)),
      byCountry: rows(byCountry, (m) => m.name.slice('Browser/ByCountry/'.length)),
      byPage: rows(groups, (m) => m.scope),
    };
  }

  async transactions(account: Account, appId: string, q: URLSearchParams): Promise<unknown> {
    const ctx = await this.context(account, appId, q);
    const limit = intParam(q, 'limit', 20, 1, 100);
    const [txns, apdex] = await Promise.all([
      findAppMetrics(ctx.store, account.id, ctx.app.id, { prefix: TRANSACTION_PREFIX, scope: '', limit: MAX_NAMES }),
      findAppMetrics(ctx.store, account.id, ctx.app.id, { prefix: 'Apdex/', scope: '', limit: MAX_NAMES }),
    ]);
    const r = await this.readMetrics(ctx, [...txns, ...apdex], 'total');
    const totals = new Map<string, Timeslice>();
    const apdexTotals = new Map<string, Timeslice>();
    for (const m of txns) put(totals, m.name, r.data.get(metricKey(m))?.get(0));
    for (const m of apdex) put(apdexTotals, m.name, r.data.get(metricKey(m))?.get(0));
    const minutes = windowMinutes(r.resolution.from, r.resolution.to, ctx.now);
    return { ...head(ctx.app, r), transactions: rankTransactions(totals, apdexTotals, minutes, limit) };
  }

  async transaction(account: Account, appId: string, q: URLSearchParams): Promise<unknown> {
    const ctx = await this.context(account, appId, q);
    const name = q.get('name') ?? '';
    if (!name.startsWith(TRANSACTION_PREFIX) || name.length > 255) {
      throw new InputError(`cannot read transaction: name must be a metric name starting with ${TRANSACTION_PREFIX}`);
    }
    const own = [{ name, scope: '' }, { name: apdexNameOf(name), scope: '' }];
    const [r, segments] = await Promise.all([
      this.readMetrics(ctx, own, 'series'),
      findAppMetrics(ctx.store, account.id, ctx.app.id, { scope: name, limit: MAX_NAMES }),
    ]);
    const totals = await this.readMetrics(ctx, segments, 'total');
    const segTotals = new Map<string, Timeslice>();
    for (const m of segments) put(segTotals, m.name, totals.data.get(metricKey(m))?.get(0));
    const series = r.data.get(metricKey(own[0]!));
    const apdex = r.data.get(metricKey(own[1]!));
    const step = r.resolution.step;
    return {
      ...head(ctx.app, r),
      name,
      timestamps: r.buckets,
      series: {
        throughput: r.buckets.map((b) => perMinute(series?.get(b), b, step, ctx.now)),
        responseTime: r.buckets.map((b) => meanOrNull(series?.get(b))),
        apdex: r.buckets.map((b) => apdexScore(apdex?.get(b))),
      },
      units: { throughput: 'requests/min', responseTime: 's', apdex: 'score' },
      breakdown: segmentBreakdown(segTotals, mergeSeries(series), 50),
      percentiles: await this.#sampled(ctx, (await percentilesByName(ctx.store, account.id, r, { responseTime: name })).responseTime),
    };
  }

  /** Health of every application over the last 30 minutes (the application list). */
  async health(account: Account): Promise<unknown> {
    const apps = await this.directory.listApplications(account.id);
    return applicationsHealth(this, account, apps, this.openIncidents);
  }

  async agents(account: Account, appId: string): Promise<unknown> {
    const ctx = await this.context(account, appId, new URLSearchParams());
    return { agents: await agentsOf(ctx.store, account.id, ctx.app.id) };
  }

  async metricNames(account: Account, appId: string, q: URLSearchParams): Promise<unknown> {
    const ctx = await this.context(account, appId, new URLSearchParams());
    const prefix = q.get('prefix') ?? '';
    if (prefix.length > 255) throw new InputError('cannot list metric names: prefix is longer than 255 characters');
    const limit = intParam(q, 'limit', 200, 1, 1000);
    const found = await findAppMetrics(ctx.store, account.id, ctx.app.id, { prefix, limit });
    return { metrics: found.map((m) => ({ name: m.name, scope: m.scope })) };
  }

  async metric(account: Account, appId: string, q: URLSearchParams): Promise<unknown> {
    const ctx = await this.context(account, appId, q);
    const name = q.get('name') ?? '';
    const scope = q.get('scope') ?? '';
    if (name.length === 0 || name.length > 255 || scope.length > 255) {
      throw new InputError('cannot read metric: name (1 to 255 characters) is required; scope is optional');
    }
    const agentId = await agentParam(ctx.store, ctx.account.id, ctx.app.id, q.get('agent'));
    const r = await this.readMetrics(ctx, [{ name, scope }], 'series', agentId);
    const s = r.data.get(metricKey({ name, scope }));
    const step = r.resolution.step;
    const total = mergeSeries(s);
    const [found] = await ctx.store.findMetrics(ctx.account.id, { names: [name] }).then((list) => list.filter((m) => m.scope === scope));
    const percentiles = found ? percentilesOf(name, r.buckets, await readDistribution(ctx.store, r, found.id)) : undefined;
    return {
      ...head(ctx.app, r),
      metric: { name, scope, agent: agentId ?? null },
      timestamps: r.buckets,
      series: {
        callCount: r.buckets.map((b) => s?.get(b)?.callCount ?? null),
        callsPerMinute: r.buckets.map((b) => perMinute(s?.get(b), b, step, ctx.now)),
        mean: r.buckets.map((b) => meanOrNull(s?.get(b))),
        min: r.buckets.map((b) => s?.get(b)?.minTime ?? null),
        max: r.buckets.map((b) => s?.get(b)?.maxTime ?? null),
        total: r.buckets.map((b) => s?.get(b)?.totalTime ?? null),
        exclusive: r.buckets.map((b) => s?.get(b)?.exclusiveTime ?? null),
        stdDev: r.buckets.map((b) => stdDevOrNull(s?.get(b))),
      },
      summary: total ?? null,
      percentiles: await this.#sampled(ctx, percentiles ?? null),
    };
  }

  /** Estimated percentiles say from how many of how many transactions (lib/distribution/sampling.ts). */
  async #sampled(ctx: Ctx, p: Percentiles | null | undefined): Promise<Percentiles | null> {
    if (!p?.estimate) return p ?? null;
    const names = [{ name: SAMPLING_METRICS.seen, scope: '' }, { name: SAMPLING_METRICS.sent, scope: '' }];
    const r = await this.readMetrics(ctx, names, 'total');
    const [seen, sent] = names.map((m) => r.data.get(metricKey(m))?.get(0)?.callCount);
    if (seen === undefined || sent === undefined) return p;
    return { ...p, sampled: { seen, sent }, estimateNote: `Estimated from the agent's transaction events: in this window it sent ${sent.toLocaleString('en')} of the ${seen.toLocaleString('en')} transactions it saw.` };
  }

  /** The caller's application (checked to be in its account), the window, and the account's shard. */
  async context(account: Account, appId: string, q: URLSearchParams): Promise<Ctx> {
    const id = Number(appId);
    if (!/^[1-9][0-9]{0,9}$/.test(appId)) throw new InputError(`cannot read application: id ${JSON.stringify(appId.slice(0, 20))} is not a positive integer`);
    const app = await this.directory.getApplication(id).catch((err: unknown) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    });
    // Another account's application is answered exactly like a missing one.
    if (!app || app.accountId !== account.id) throw new NotFoundError(`cannot read application ${id}: no such application in this account`);
    const now = this.now();
    const window = parseTimeWindow({ last: q.get('last') ?? undefined, from: q.get('from') ?? undefined, to: q.get('to') ?? undefined }, now);
    const { store, account: fresh } = await this.shards.storeForAccount(account.id);
    const routed = this.router ? await this.router.route(store, fresh.id, this.reader.resolutionFor(fresh, window, now), now) : undefined;
    return { app, account: fresh, store: routed?.listStore ?? store, window, now, ...(routed ? { routed } : {}) };
  }

  /** Application-wide reads follow the replica routing; one agent's rows (the explorer) are read from the request's list store. */
  async readMetrics(ctx: Ctx, metrics: ReadonlyArray<MetricName & { id?: number }>, mode: 'series' | 'total', agentId?: number): Promise<RoutedSeriesResult> {
    const r = ctx.routed && this.router && agentId === undefined
      ? await readRouted(this.router, ctx.routed, this.reader, ctx.account, ctx.app.id, metrics, ctx.window, ctx.now, mode)
      : await this.reader.read(ctx.store, ctx.account, ctx.app.id, metrics, ctx.window, ctx.now, mode, undefined, agentId);
    this.metrics.recordRead(r);
    return r;
  }
}

export interface Ctx {
  app: Application;
  account: Account;
  store: ShardStore;
  window: { from: number; to: number };
  now: number;
  /** Where this request's reads go (read replicas); listings use `store` (the route's list store). */
  routed?: RoutedRead;
}

export function appJson(a: Application) {
  return { id: a.id, name: a.name, apdexT: a.apdexT, browserApdexT: a.browserApdexT };
}

/** What every time-series answer starts with: the application, the window and how fresh it is. */
export function head(app: Application, r: RoutedSeriesResult) {
  const { kind, step, from, to, points } = r.resolution;
  return {
    application: appJson(app),
    window: { from, to, resolution: kind, step, points },
    freshness: { stitchedHours: r.stitchedHours, unrolledHours: r.unrolledHours, tablesRead: r.tablesRead, ...(r.routing ? { routing: r.routing } : {}) },
  };
}

function put(m: Map<string, Timeslice>, name: string, t: Timeslice | undefined): void {
  if (t !== undefined) m.set(name, t);
}

function intParam(q: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = q.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!/^[0-9]{1,9}$/.test(raw) || n < min || n > max) throw new InputError(`cannot read ${name}: must be a whole number from ${min} to ${max}`);
  return n;
}
