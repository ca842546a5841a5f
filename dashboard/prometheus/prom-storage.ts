import type { Application } from '../../lib/directory/directory.js';
import type { MetricName } from '../../lib/shard/metric-dictionary.js';
import { ROW_PERIOD_SECONDS, type TableKind } from '../../lib/shard/table-naming.js';
import { agentsOf } from '../app-agents.js';
import { findAppMetrics } from '../app-metrics.js';
import { metricKey, type SeriesResult } from '../series-reader.js';
import type { Resolution } from '../resolution.js';
import { mergeResults } from '../routed-read.js';
import type { Matcher } from './promql-ast.js';
import type { PromStorage, SelectRequest } from './promql-engine.js';
import { execution } from './prom-error.js';
import { readDistributionSeries, readSeries, type ReadContext } from './prom-reads.js';
import { compileMatcher, type Series } from './promql-values.js';
import { cumulativeBuckets } from './histogram-series.js';
import { FAMILIES, isApdexMetric, seriesLabels, type Family } from './series-model.js';

/**
 * One account's timeslices as Prometheus series, read through the dashboard's SeriesReader (the one
 * read path: table planning, stitching of hours not rolled up yet, template versions) and its read
 * router (prom-reads.ts). Per selector: the families its `__name__` matchers allow, the account's
 * applications its `app` matchers allow, the metric names its `metric`/`scope` matchers allow (exact
 * names looked up by name, regexes filtered over the application's names), then one read per
 * application of only those metric ids. Application-wide rows (no `host` label) unless the selector
 * has a `host` matcher that rejects '' or sits under `by (host)`: then one read per agent, agents of
 * one host merged (exactly, as the SQL merges rows). `apm_distribution_bucket` reads the distribution tables.
 */
export interface StorageLimits {
  /** Series one query may read. */
  maxSeries: number;
  /** Metric names of one application scanned to apply a regex matcher. */
  maxNamesScanned: number;
}

const KINDS: readonly TableKind[] = ['day', 'hour', 'minute'];
const LABELS = ['__name__', 'app', 'metric', 'scope', 'host', 'le'];

export interface SeriesRef {
  app: Application;
  metric: MetricName & { id: number };
  family: Family;
}

/** Rows of one application: application-wide (host undefined) or the agents of one host. */
interface RowSource {
  host?: string;
  agentIds?: number[];
}

export class AccountStorage implements PromStorage {
  constructor(
    private readonly c: ReadContext,
    private readonly apps: readonly Application[],
    private readonly limits: StorageLimits,
  ) {}

  period(finest: number, from: number): number {
    const kept = KINDS.filter((k) => this.kept(k, from));
    const fits = kept.find((k) => ROW_PERIOD_SECONDS[k] <= finest);
    return ROW_PERIOD_SECONDS[fits ?? kept[kept.length - 1] ?? 'day'];
  }

  private kept(kind: TableKind, from: number): boolean {
    const r = this.c.account.retention;
    const days = kind === 'minute' ? r.minuteDays : kind === 'hour' ? r.hourDays : null;
    return days === null || from >= this.c.now - days * 86400;
  }

  /** The series the matchers select (from the names applications have written, whatever the time). */
  async refs(matchers: readonly Matcher[]): Promise<SeriesRef[]> {
    const test = (label: string) => {
      const ms = matchers.filter((m) => m.name === label).map(compileMatcher);
      return (v: string) => ms.every((m) => m(v));
    };
    // Labels this model never sets are empty: a matcher on one must accept ''.
    const others = matchers.filter((m) => !LABELS.includes(m.name));
    if (!others.every((m) => compileMatcher(m)(''))) return [];
    // `le` only exists on the histogram family.
    const leOnly = !matchers.filter((m) => m.name === 'le').every((m) => compileMatcher(m)(''));
    const families = FAMILIES.filter((f) => test('__name__')(f.name) && (!leOnly || f.histogram));
    const apps = this.apps.filter((a) => test('app')(a.name));
    if (families.length === 0 || apps.length === 0) return [];
    const metricOk = test('metric');
    const scopeOk = test('scope');
    const exact = matchers.find((m) => m.name === 'metric' && m.type === '=');
    const out: SeriesRef[] = [];
    for (const app of apps) {
      const names = await findAppMetrics(this.c.store, this.c.account.id, app.id, {
        ...(exact ? { names: [exact.value] } : {}),
        limit: this.limits.maxNamesScanned + 1,
      });
      if (names.length > this.limits.maxNamesScanned) {
        throw execution(`application ${app.name} has more than ${this.limits.maxNamesScanned} metric names: select metric names exactly (metric="…")`);
      }
      for (const metric of names) {
        if (!metricOk(metric.name) || !scopeOk(metric.scope)) continue;
        const apdex = isApdexMetric(metric.name);
        for (const family of families) if (family.apdex === apdex) out.push({ app, metric, family });
        if (out.length > this.limits.maxSeries) throw execution(`query would read more than ${this.limits.maxSeries} series: narrow its label matchers`);
      }
    }
    return out;
  }

  async select(req: SelectRequest): Promise<Series[]> {
    const refs = await this.refs(req.matchers);
    const out: Series[] = [];
    const families = new Set(refs.map((r) => r.family));
    const [only] = families;
    const hostMatchers = req.matchers.filter((m) => m.name === 'host').map(compileMatcher);
    const perHost = req.perHost === true || !hostMatchers.every((m) => m(''));
    const sum = req.sumByApp && !perHost && families.size === 1 && only!.delta && !only!.histogram;
    for (const app of new Set(refs.map((r) => r.app))) {
      const mine = refs.filter((r) => r.app === app);
      if (sum) {
        out.push(...(await this.readSum(app, mine, req)));
        continue;
      }
      const sources: RowSource[] = perHost ? await this.hosts(app, (h) => hostMatchers.every((m) => m(h))) : [{}];
      for (const src of sources) {
        const deltas = mine.filter((r) => r.family.delta && !r.family.histogram);
        const gauges = mine.filter((r) => !r.family.delta);
        if (deltas.length > 0) out.push(...(await this.read(app, deltas, req, req.deltaBucket, src)));
        if (gauges.length > 0) out.push(...(await this.read(app, gauges, req, req.period, src)));
        for (const ref of mine.filter((r) => r.family.histogram)) out.push(...(await this.readHistogram(app, ref, req, src)));
        if (out.length > this.limits.maxSeries) throw execution(`query would read more than ${this.limits.maxSeries} series: narrow its label matchers`);
      }
    }
    return out;
  }

  /** Host names of the agents of the applications the `app` matchers allow (label values of `host`). */
  async hostNames(matchers: readonly Matcher[]): Promise<string[]> {
    const ok = matchers.filter((m) => m.name === 'app').map(compileMatcher);
    const hosts = new Set<string>();
    for (const app of this.apps.filter((a) => ok.every((m) => m(a.name)))) {
      for (const a of await agentsOf(this.c.store, this.c.account.id, app.id)) if (a.host !== '') hosts.add(a.host);
    }
    return [...hosts];
  }

  /** The application's agents grouped by host name (those the host matchers accept). */
  async hosts(app: Application, ok: (host: string) => boolean): Promise<RowSource[]> {
    const byHost = new Map<string, number[]>();
    for (const a of await agentsOf(this.c.store, this.c.account.id, app.id)) {
      if (!ok(a.host)) continue;
      byHost.set(a.host, [...(byHost.get(a.host) ?? []), a.id]);
    }
    return [...byHost].map(([host, agentIds]) => ({ host, agentIds }));
  }

  /** One series per application: the metrics' deltas of one family added up in SQL. */
  private async readSum(app: Application, refs: SeriesRef[], req: SelectRequest): Promise<Series[]> {
    const r = await this.readRows(app, refs, req, req.deltaBucket, true, {});
    if (!r) return [];
    const family = refs[0]!.family;
    const sums = new Map<number, number>();
    for (const rows of r.data.values()) for (const [b, t] of rows) sums.set(b, (sums.get(b) ?? 0) + t[family.field]);
    const series = this.toSeries(sums, req, req.deltaBucket);
    return series ? [{ ...series, labels: { __name__: family.name, app: app.name }, delta: true }] : [];
  }

  private resolution(req: SelectRequest, bucket: number): Resolution | undefined {
    const kind = KINDS.find((k) => ROW_PERIOD_SECONDS[k] === req.period)!;
    const from = Math.floor(req.from / bucket) * bucket;
    const to = Math.floor(req.to / bucket) * bucket;
    return to <= from ? undefined : { kind, step: bucket, from, to, points: (to - from) / bucket };
  }

  private async readRows(app: Application, refs: SeriesRef[], req: SelectRequest, bucket: number, sumMetrics: boolean, src: RowSource): Promise<SeriesResult | undefined> {
    const resolution = this.resolution(req, bucket);
    if (!resolution) return undefined;
    const metrics = [...new Map(refs.map((r) => [r.metric.id, r.metric])).values()];
    if (!src.agentIds) return readSeries(this.c, app.id, metrics, resolution, sumMetrics);
    const results: SeriesResult[] = [];
    for (const agentId of src.agentIds) results.push(await readSeries(this.c, app.id, metrics, resolution, false, agentId));
    return results.length > 0 ? mergeResults(results) : undefined;
  }

  /** Samples (bucket end → value) inside (from, to], ascending; undefined when none. */
  private toSeries(values: Map<number, number>, req: SelectRequest, bucket: number): { ts: number[]; vs: number[]; period: number } | undefined {
    const ts: number[] = [];
    const vs: number[] = [];
    for (const b of [...values.keys()].sort((x, y) => x - y)) {
      const end = b + bucket;
      if (end <= req.from || end > req.to) continue;
      ts.push(end * 1000);
      vs.push(values.get(b)!);
    }
    return ts.length > 0 ? { ts, vs, period: bucket * 1000 } : undefined;
  }

  private async read(app: Application, refs: SeriesRef[], req: SelectRequest, bucket: number, src: RowSource): Promise<Series[]> {
    const r = await this.readRows(app, refs, req, bucket, false, src);
    if (!r) return [];
    const out: Series[] = [];
    for (const ref of refs) {
      const rows = r.data.get(metricKey(ref.metric));
      if (!rows) continue;
      const values = new Map<number, number>();
      for (const [b, t] of rows) values.set(b, t[ref.family.field]);
      const series = this.toSeries(values, req, bucket);
      if (series) out.push({ ...series, labels: seriesLabels(ref.family.name, app.name, ref.metric.name, ref.metric.scope, src.host), delta: ref.family.delta });
    }
    return out;
  }

  /** `apm_distribution_bucket{le=…}` of one metric: cumulative counts per delta bucket. */
  private async readHistogram(app: Application, ref: SeriesRef, req: SelectRequest, src: RowSource): Promise<Series[]> {
    const resolution = this.resolution(req, req.deltaBucket);
    if (!resolution) return [];
    const byTime = new Map<number, Map<number, number>>();
    for (const agentId of src.agentIds ?? [undefined]) {
      for (const [t, counts] of await readDistributionSeries(this.c, app.id, ref.metric, resolution, agentId)) {
        const into = byTime.get(t) ?? new Map<number, number>();
        byTime.set(t, into);
        for (const [b, n] of counts) into.set(b, (into.get(b) ?? 0) + n);
      }
    }
    const leMatchers = req.matchers.filter((m) => m.name === 'le').map(compileMatcher);
    const out: Series[] = [];
    for (const le of cumulativeBuckets(byTime)) {
      if (!leMatchers.every((m) => m(le.le))) continue;
      const series = this.toSeries(le.values, req, req.deltaBucket);
      if (series) out.push({ ...series, labels: seriesLabels(ref.family.name, app.name, ref.metric.name, ref.metric.scope, src.host, le.le), delta: true });
    }
    return out;
  }
}
