import type { Account, Application, Directory } from '../../lib/directory/directory.js';
import type { ShardRegistry } from '../../lib/shard/shard-registry.js';
import type { SeriesReader, SeriesResult } from '../series-reader.js';
import type { Matcher } from './promql-ast.js';
import { evaluate } from './promql-engine.js';
import { parsePromQL } from './promql-parse.js';
import { encodeData, PromAnswer } from './prom-format.js';
import { badData } from './prom-error.js';
import { matchParams, parseDuration, timeParam } from './prom-params.js';
import { AccountStorage, type SeriesRef } from './prom-storage.js';
import { compileMatcher } from './promql-values.js';
import type { ReadContext } from './prom-reads.js';
import type { ReadRouter } from '../../lib/replica/read-router.js';
import { FAMILIES, seriesLabels, SERIES_LABELS } from './series-model.js';

/**
 * The Prometheus HTTP API (v1) over one account's data: the query endpoints evaluate PromQL
 * (promql-engine.ts) over AccountStorage; the metadata endpoints list the series model. Every answer
 * is the `data` of a Prometheus success envelope; errors are PromErrors (see prom-error.ts).
 */
export interface PrometheusLimits {
  maxSeries: number;
  /** Samples loaded by one query. */
  maxSamples: number;
  /** Points per series of a range query (Prometheus: 11 000). */
  maxPoints: number;
  maxNamesScanned: number;
  /** Longest a query may take (a request's `timeout` may only shorten it), ms. */
  timeoutMs: number;
  /** Values answered by /label/<name>/values at most. */
  maxLabelValues: number;
}

export const DEFAULT_PROMETHEUS_LIMITS: PrometheusLimits = {
  maxSeries: 10_000,
  maxSamples: 5_000_000,
  maxPoints: 11_000,
  maxNamesScanned: 100_000,
  timeoutMs: 30_000,
  maxLabelValues: 10_000,
};

const DEFAULT_LOOKBACK_MS = 300_000;
/** What /status/buildinfo claims: the Prometheus API level this emulates (clients switch features on it). */
export const BUILD_INFO = { version: '2.53.0', revision: 'apm-pipeline', branch: 'apm-pipeline', buildUser: 'apm-pipeline', buildDate: '20261206-00:00:00', goVersion: 'none (Node.js)' };

export class PrometheusApi {
  constructor(
    private readonly directory: Directory,
    private readonly shards: ShardRegistry,
    private readonly reader: SeriesReader,
    /** Unix seconds. */
    private readonly now: () => number,
    private readonly limits: PrometheusLimits = DEFAULT_PROMETHEUS_LIMITS,
    private readonly onRead: (r: SeriesResult) => void = () => {},
    /** Read replicas: reads routed as the read API's (prom-reads.ts). */
    private readonly router?: ReadRouter,
  ) {}

  async query(account: Account, q: URLSearchParams): Promise<unknown> {
    const expr = parsePromQL(q.get('query') ?? '');
    const t = timeParam(q, 'time', Math.round(this.now() * 1000));
    return this.#evaluate(account, q, expr, t, t, 0);
  }

  async queryRange(account: Account, q: URLSearchParams): Promise<unknown> {
    const start = timeParam(q, 'start', Number.NaN);
    const end = timeParam(q, 'end', Number.NaN);
    if (Number.isNaN(start)) throw badData('invalid parameter "start": missing');
    if (Number.isNaN(end)) throw badData('invalid parameter "end": missing');
    if (end < start) throw badData('invalid parameter "end": end timestamp must not be before start time');
    const stepRaw = q.get('step');
    if (stepRaw === null || stepRaw === '') throw badData('invalid parameter "step": missing');
    const step = parseDuration(stepRaw, 'step');
    if (step <= 0) throw badData('invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer');
    if ((end - start) / step > this.limits.maxPoints) {
      throw badData(`exceeded maximum resolution of ${this.limits.maxPoints.toLocaleString('en')} points per timeseries. Try decreasing the query resolution (?step=XX)`);
    }
    const expr = parsePromQL(q.get('query') ?? '');
    return this.#evaluate(account, q, expr, start, end, step);
  }

  async series(account: Account, q: URLSearchParams): Promise<unknown> {
    const storage = await this.#storage(account);
    const seen = new Map<string, Record<string, string>>();
    for (const selector of matchParams(q, true)) {
      const matchers = selectorMatchers(selector);
      // A host matcher rejecting '' selects per-agent series: one per host of the application's agents.
      const hostOk = matchers.filter((m) => m.name === 'host').map(compileMatcher);
      const perHost = !hostOk.every((m) => m(''));
      const hostsOf = new Map<Application, Array<string | undefined>>();
      for (const r of await storage.refs(matchers)) {
        if (!hostsOf.has(r.app)) hostsOf.set(r.app, perHost ? (await storage.hosts(r.app, (h) => hostOk.every((m) => m(h)))).map((h) => h.host) : [undefined]);
        for (const host of hostsOf.get(r.app)!) {
          const l = seriesLabels(r.family.name, r.app.name, r.metric.name, r.metric.scope, host);
          seen.set(JSON.stringify(l), l);
        }
      }
    }
    return [...seen.values()];
  }

  async labels(account: Account, q: URLSearchParams): Promise<unknown> {
    const matches = matchParams(q, false);
    if (matches.length === 0) return ['__name__', ...SERIES_LABELS];
    const names = new Set<string>();
    for (const r of await this.#refs(account, matches)) for (const k of Object.keys(seriesLabels(r.family.name, r.app.name, r.metric.name, r.metric.scope))) names.add(k);
    return [...names].sort();
  }

  async labelValues(account: Account, name: string, q: URLSearchParams): Promise<unknown> {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) throw badData(`invalid label name: "${name.slice(0, 64)}"`);
    const matches = matchParams(q, false);
    // Without match[]: one family per metric name (its call count, or its satisfied count for Apdex
    // metrics), so the series bound counts names rather than names × families.
    if (name === 'host') {
      const storage = await this.#storage(account);
      const hosts = new Set<string>();
      for (const s of matches.length > 0 ? matches : ['{__name__!=""}']) for (const h of await storage.hostNames(selectorMatchers(s))) hosts.add(h);
      return [...hosts].sort().slice(0, this.limits.maxLabelValues);
    }
    const selected = matches.length > 0 ? matches : name === '__name__' ? [] : [`{__name__=~"apm_calls_total|apm_apdex_satisfied_total",${name}!=""}`];
    if (selected.length === 0) return FAMILIES.map((f) => f.name).sort();
    const values = new Set<string>();
    for (const r of await this.#refs(account, selected)) {
      const v = seriesLabels(r.family.name, r.app.name, r.metric.name, r.metric.scope)[name];
      if (v !== undefined) values.add(v);
    }
    const limit = Math.min(this.limits.maxLabelValues, Number(q.get('limit')) > 0 ? Number(q.get('limit')) : Infinity);
    return [...values].sort().slice(0, limit);
  }

  metadata(q: URLSearchParams): unknown {
    const metric = q.get('metric');
    const out: Record<string, Array<{ type: string; help: string; unit: string }>> = {};
    for (const f of FAMILIES) if (!metric || metric === f.name) out[f.name] = [{ type: f.type, help: f.help, unit: f.unit }];
    return out;
  }

  async #storage(account: Account, onRoute?: ReadContext['onRoute']): Promise<AccountStorage> {
    const [{ store, account: fresh }, apps] = await Promise.all([this.shards.storeForAccount(account.id), this.directory.listApplications(account.id)]);
    const context: ReadContext = { reader: this.reader, store, account: fresh, now: this.now(), onRead: this.onRead, ...(this.router ? { router: this.router } : {}), ...(onRoute ? { onRoute } : {}) };
    return new AccountStorage(context, apps, { maxSeries: this.limits.maxSeries, maxNamesScanned: this.limits.maxNamesScanned });
  }

  async #refs(account: Account, selectors: string[]): Promise<SeriesRef[]> {
    const storage = await this.#storage(account);
    const out: SeriesRef[] = [];
    for (const s of selectors) out.push(...(await storage.refs(selectorMatchers(s))));
    return out;
  }

  async #evaluate(account: Account, q: URLSearchParams, expr: ReturnType<typeof parsePromQL>, start: number, end: number, step: number) {
    const timeoutRaw = q.get('timeout');
    const timeoutMs = Math.min(this.limits.timeoutMs, timeoutRaw ? parseDuration(timeoutRaw, 'timeout') : Infinity);
    const lookbackRaw = q.get('lookback_delta');
    const lookbackMs = lookbackRaw ? parseDuration(lookbackRaw, 'lookback_delta') : DEFAULT_LOOKBACK_MS;
    const clock = () => this.now() * 1000;
    const deadline = clock() + timeoutMs;
    // A read replica that lagged past the edge bound (or read alone, the primary busy): the answer says
    // from when it may be stale, as the read API's `freshness.routing.staleFrom` does.
    let staleFrom = Infinity;
    const storage = await this.#storage(account, (_reason, stale) => {
      if (stale !== undefined) staleFrom = Math.min(staleFrom, stale);
    });
    const data = encodeData(await evaluate(storage, expr, { start, end, step, lookbackMs: lookbackMs || DEFAULT_LOOKBACK_MS, maxSeries: this.limits.maxSeries, maxSamples: this.limits.maxSamples, now: clock, deadline }));
    if (staleFrom === Infinity) return data;
    return new PromAnswer(data, [`data from ${new Date(staleFrom * 1000).toISOString()} on was read from a lagging read replica and may be incomplete`]);
  }
}

/** The matchers of a `match[]` series selector. */
function selectorMatchers(s: string): Matcher[] {
  const e = parsePromQL(s);
  if (e.kind !== 'selector') throw badData(`invalid parameter "match[]": ${JSON.stringify(s.slice(0, 64))} is not a series selector`);
  return e.matchers;
}
