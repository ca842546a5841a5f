import type { Account, Application } from '../../lib/directory/directory.js';
import type { MetricName } from '../../lib/shard/metric-dictionary.js';
import type { ShardStore } from '../../lib/shard/shard-store.js';
import { ROW_PERIOD_SECONDS, type TableKind } from '../../lib/shard/table-naming.js';
import { findAppMetrics } from '../app-metrics.js';
import { metricKey, type SeriesReader, type SeriesResult } from '../series-reader.js';
import type { Resolution } from '../resolution.js';
import type { Matcher } from './promql-ast.js';
import type { PromStorage, SelectRequest } from './promql-engine.js';
import { execution } from './prom-error.js';
import { compileMatcher, type Series } from './promql-values.js';
import { FAMILIES, isApdexMetric, seriesLabels, type Family } from './series-model.js';

/**
 * One account's timeslices as Prometheus series, read through the dashboard's SeriesReader (the one
 * read path: table planning, stitching of hours not rolled up yet, template versions). Per selector:
 * the families its `__name__` matchers allow, the account's applications its `app` matchers allow,
 * the metric names its `metric`/`scope` matchers allow (exact names looked up by name, regexes
 * filtered over the application's names), then one read per application of only those metric ids.
 */
export interface StorageLimits {
  /** Series one query may read. */
  maxSeries: number;
  /** Metric names of one application scanned to apply a regex matcher. */
  maxNamesScanned: number;
}

const KINDS: readonly TableKind[] = ['day', 'hour', 'minute'];

export interface SeriesRef {
  app: Application;
  metric: MetricName & { id: number };
  family: Family;
}

export class AccountStorage implements PromStorage {
  constructor(
    private readonly reader: SeriesReader,
    private readonly store: ShardStore,
    private readonly account: Account,
    private readonly apps: readonly Application[],
    /** Unix seconds, for the retention horizon. */
    private readonly now: number,
    private readonly limits: StorageLimits,
    /** Told of every read (the dashboard's self-metrics count tables read, stitched hours). */
    private readonly onRead: (r: SeriesResult) => void = () => {},
  ) {}

  period(finest: number, from: number): number {
    const kept = KINDS.filter((k) => this.kept(k, from));
    const fits = kept.find((k) => ROW_PERIOD_SECONDS[k] <= finest);
    return ROW_PERIOD_SECONDS[fits ?? kept[kept.length - 1] ?? 'day'];
  }

  private kept(kind: TableKind, from: number): boolean {
    const r = this.account.retention;
    const days = kind === 'minute' ? r.minuteDays : kind === 'hour' ? r.hourDays : null;
    return days === null || from >= this.now - days * 86400;
  }

  /** The series the matchers select (from the names applications have written, whatever the time). */
  async refs(matchers: readonly Matcher[]): Promise<SeriesRef[]> {
    const test = (label: string) => {
      const ms = matchers.filter((m) => m.name === label).map(compileMatcher);
      return (v: string) => ms.every((m) => m(v));
    };
    // Labels this model never sets are empty: a matcher on one must accept ''.
    const others = matchers.filter((m) => !['__name__', 'app', 'metric', 'scope'].includes(m.name));
    if (!others.every((m) => compileMatcher(m)(''))) return [];
    const families = FAMILIES.filter((f) => test('__name__')(f.name));
    const apps = this.apps.filter((a) => test('app')(a.name));
    if (families.length === 0 || apps.length === 0) return [];
    const metricOk = test('metric');
    const scopeOk = test('scope');
    const exact = matchers.find((m) => m.name === 'metric' && m.type === '=');
    const out: SeriesRef[] = [];
    for (const app of apps) {
      const names = await findAppMetrics(this.store, this.account.id, app.id, {
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
    const sum = req.sumByApp && families.size === 1 && only!.delta;
    for (const app of new Set(refs.map((r) => r.app))) {
      const mine = refs.filter((r) => r.app === app);
      if (sum) {
        out.push(...(await this.readSum(app, mine, req)));
        continue;
      }
      const deltas = mine.filter((r) => r.family.delta);
      const gauges = mine.filter((r) => !r.family.delta);
      if (deltas.length > 0) out.push(...(await this.read(app, deltas, req, req.deltaBucket)));
      if (gauges.length > 0) out.push(...(await this.read(app, gauges, req, req.period)));
    }
    return out;
  }

  /** One series per application: the metrics' deltas of one family added up in SQL. */
  private async readSum(app: Application, refs: SeriesRef[], req: SelectRequest): Promise<Series[]> {
    const r = await this.readRows(app, refs, req, req.deltaBucket, true);
    if (!r) return [];
    const family = refs[0]!.family;
    const sums = new Map<number, number>();
    for (const rows of r.data.values()) for (const [b, t] of rows) sums.set(b, (sums.get(b) ?? 0) + t[family.field]);
    const series = this.toSeries(sums, req, req.deltaBucket);
    return series ? [{ ...series, labels: { __name__: family.name, app: app.name }, delta: true }] : [];
  }

  private async readRows(app: Application, refs: SeriesRef[], req: SelectRequest, bucket: number, sumMetrics: boolean) {
    const kind = KINDS.find((k) => ROW_PERIOD_SECONDS[k] === req.period)!;
    const from = Math.floor(req.from / bucket) * bucket;
    const to = Math.floor(req.to / bucket) * bucket;
    if (to <= from) return undefined;
    const resolution: Resolution = { kind, step: bucket, from, to, points: (to - from) / bucket };
    const metrics = [...new Map(refs.map((r) => [r.metric.id, r.metric])).values()];
    const r = await this.reader.readAt(this.store, this.account, app.id, metrics, resolution, 'series', sumMetrics);
    this.onRead(r);
    return r;
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

  private async read(app: Application, refs: SeriesRef[], req: SelectRequest, bucket: number): Promise<Series[]> {
    const r = await this.readRows(app, refs, req, bucket, false);
    if (!r) return [];
    const out: Series[] = [];
    for (const ref of refs) {
      const rows = r.data.get(metricKey(ref.metric));
      if (!rows) continue;
      const values = new Map<number, number>();
      for (const [b, t] of rows) values.set(b, t[ref.family.field]);
      const series = this.toSeries(values, req, bucket);
      if (series) out.push({ ...series, labels: seriesLabels(ref.family.name, app.name, ref.metric.name, ref.metric.scope), delta: ref.family.delta });
    }
    return out;
  }
}
