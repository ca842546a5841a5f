import { queryBuilder, selectOn } from '../lib/db/query-builder.js';
import type { Account } from '../lib/directory/directory.js';
import type { MetricName } from '../lib/shard/metric-dictionary.js';
import type { ShardDatabase } from '../lib/shard/shard-database.js';
import type { ShardStore } from '../lib/shard/shard-store.js';
import { mergeInto, type Timeslice } from '../lib/timeslice/timeslice.js';
import { timesliceFromRow } from '../lib/timeslice/timeslice-columns.js';
import { planRead, type DayRollupState, type ReadPlan, type ReadSegment } from './read-plan.js';
import { bucketStarts, chooseResolution, type Resolution } from './resolution.js';
import { compileSeriesQuery, isStaleHintRow, listsMinutes, MAX_LISTED_LOOKUPS, minutesIn, type SeriesQuery, type SeriesRow } from './series-sql.js';
import type { TimeWindow } from './time-window.js';

const shardSql = queryBuilder<ShardDatabase>();

/** Timeslices of one metric by bucket start. */
export type MetricSeries = Map<number, Timeslice>;

export interface SeriesResult {
  resolution: Resolution;
  /** Bucket starts, oldest first (every bucket of the resolution, with or without data). */
  buckets: number[];
  /** metricKey(name) → bucket → merged timeslice; metrics without rows are absent. */
  data: Map<string, MetricSeries>;
  /** Hours read from minute tables not rolled up yet (stitched), and unrolled hours past the bound. */
  stitchedHours: number[];
  unrolledHours: number[];
  /** Per-period tables read, by kind. */
  tablesRead: { minute: number; hour: number; day: number };
  /** The read plan's segments (which table answered which time range), for readers of the tables beside them (percentiles). */
  segments?: ReadPlan['segments'];
  /** The agent whose rows were read (the application pseudo-agent unless one was asked for). */
  agentId?: number;
}

export interface SeriesReaderOptions {
  maxPoints: number;
  maxStitchTables: number;
  /** Metric ids per statement (bounds statement size). */
  maxIdsPerQuery?: number;
}

export function metricKey(m: MetricName): string {
  return `${m.name}\u0000${m.scope}`;
}

/**
 * Reads time series of an application's metrics from its account's shard: chooses the resolution,
 * plans which tables answer each period (stitching the newest, not yet rolled-up periods from minute
 * tables), and runs one UNION ALL statement per chunk of metric ids. Read-only: it never creates an
 * agent, a metric name or a table.
 */
export class SeriesReader {
  constructor(private readonly opts: SeriesReaderOptions) {}

  resolutionFor(account: Account, window: TimeWindow, now: number): Resolution {
    const r = account.retention;
    return chooseResolution(window, { maxPoints: this.opts.maxPoints, now, retention: { minute: r.minuteDays, hour: r.hourDays, day: r.dayDays } });
  }

  /**
   * `bucket: 'total'` sums each metric over the whole window into one timeslice under bucket 0.
   * `names` may be given as exact (name, scope) pairs, or resolved ids with their names.
   * `rows` restricts the rows read to a part of the resolution's window (a routed read: one part per
   * server, split on bucket boundaries); the buckets are still the whole window's.
   * `agentId` reads one agent's (host's) rows instead of the application-wide ones; it must be an
   * agent of the application (the caller checks, see explorer-api.ts).
   */
  async read(
    store: ShardStore,
    account: Account,
    applicationId: number,
    metrics: ReadonlyArray<MetricName & { id?: number }>,
    window: TimeWindow,
    now: number,
    mode: 'series' | 'total' = 'series',
    rows?: { from: number; to: number },
    agentId?: number,
  ): Promise<SeriesResult> {
    return this.readAt(store, account, applicationId, metrics, this.resolutionFor(account, window, now), mode, false, rows, agentId);
  }

  /**
   * read() at a resolution the caller chose (the Prometheus API picks it by step and range).
   * `sumMetrics`: the metrics summed together in SQL, one series per statement chunk of ids (under the
   * chunk's first metric), for the caller to add up. `rows`: as in read().
   */
  async readAt(
    store: ShardStore,
    account: Account,
    applicationId: number,
    metrics: ReadonlyArray<MetricName & { id?: number }>,
    resolution: Resolution,
    mode: 'series' | 'total' = 'series',
    sumMetrics = false,
    rows?: { from: number; to: number },
    agentId?: number,
  ): Promise<SeriesResult> {
    const span = rows ? { ...resolution, from: Math.max(resolution.from, rows.from), to: Math.min(resolution.to, rows.to) } : resolution;
    const empty: SeriesResult = { resolution, buckets: bucketStarts(resolution), data: new Map(), stitchedHours: [], unrolledHours: [], tablesRead: { minute: 0, hour: 0, day: 0 } };
    const rowsAgent = agentId ?? (await applicationAgent(store, account.id, applicationId));
    if (rowsAgent === undefined || metrics.length === 0) return empty;
    const ids = await resolveIds(store, account.id, metrics);
    if (ids.size === 0) return empty;
    const [tables, days] = await Promise.all([
      store.listTables({ accountId: account.id, from: span.from, to: span.to }),
      rollupDays(store, account.id, span.from, span.to),
    ]);
    const plan = planRead({ resolution: span, tables, days, maxStitchTables: this.opts.maxStitchTables });
    const application = agentId === undefined ? { accountId: account.id, applicationId } : undefined;
    const data = await this.#run(store, plan, rowsAgent, application, ids, mode === 'total' ? 'total' : resolution.step, sumMetrics);
    return { ...empty, data, stitchedHours: plan.stitchedHours, unrolledHours: plan.unrolledHours, tablesRead: countTables(plan), segments: plan.segments, agentId: rowsAgent };
  }

  async #run(store: ShardStore, plan: ReadPlan, agentId: number, application: SeriesQuery['application'], ids: Map<number, string>, bucket: number | 'total', sumMetrics: boolean): Promise<Map<string, MetricSeries>> {
    const data = new Map<string, MetricSeries>();
    const all = [...ids.keys()];
    const chunk = idsPerQuery(plan.segments, this.opts.maxIdsPerQuery ?? 1000);
    let segments = plan.segments;
    for (let i = 0; i < all.length; i += chunk) {
      let rows: SeriesRow[] | undefined;
      // On a primary, a table whose registry row is there but not the table yet (another process is
      // creating it: the registry row comes first) holds no row: it is left out and the statement run
      // again. On a replica the error stands: the router reads that part from the primary. A statement
      // that finds a minute table sealed short of the hint it was compiled with is run again without hints.
      for (let attempt = 0; rows === undefined; attempt++) {
        const q = compileSeriesQuery({ segments, agentId, ...(application ? { application } : {}), metricIds: all.slice(i, i + chunk), bucket, sumMetrics });
        if (!q) break;
        try {
          rows = (await store.pool.query<SeriesRow[]>(q.sql, q.parameters))[0];
        } catch (err) {
          const missing = missingTable(err);
          if (missing === undefined || store.replica || attempt >= 3 || !segments.some((s) => s.table === missing)) throw err;
          segments = segments.filter((s) => s.table !== missing);
        }
        if (rows?.some(isStaleHintRow)) {
          if (attempt >= 3) throw new Error('BUG: a series read without sealed hints asked to be read again');
          segments = segments.map(({ sealedThrough: _hint, ...s }) => s);
          rows = undefined;
        }
      }
      for (const r of rows ?? []) {
        const key = ids.get(Number(r.metric_id));
        if (key === undefined) continue;
        const series = data.get(key) ?? new Map<number, Timeslice>();
        data.set(key, series);
        const t = timesliceFromRow(r);
        const b = Number(r.bucket);
        const prev = series.get(b);
        if (prev) mergeInto(prev, t);
        else series.set(b, t);
      }
    }
    return data;
  }
}

/** Metric ids per statement: `max`, fewer when a listed minute table's minutes × ids would pass MAX_LISTED_LOOKUPS. */
export function idsPerQuery(segments: readonly ReadSegment[], max: number): number {
  let minutes = 0;
  for (const s of segments) if (listsMinutes(s)) minutes = Math.max(minutes, minutesIn(s.from, s.to).length);
  return minutes === 0 ? max : Math.max(1, Math.min(max, Math.floor(MAX_LISTED_LOOKUPS / minutes)));
}

/** The table named by MySQL's "Table 'db.name' doesn't exist" (errno 1146), or undefined. */
function missingTable(err: unknown): string | undefined {
  if ((err as { errno?: number }).errno !== 1146) return undefined;
  return /Table '(?:[^'.]+\.)?([^'.]+)' doesn't exist/.exec((err as Error).message ?? '')?.[1];
}

/** The application's pseudo-agent id, without creating it (no rows were ever written when absent). */
export async function applicationAgent(store: ShardStore, accountId: number, applicationId: number): Promise<number | undefined> {
  const [row] = await selectOn(
    store.pool,
    shardSql
      .selectFrom('agents')
      .select('id')
      .where('account_id', '=', accountId)
      .where('application_id', '=', applicationId)
      .where('host', '=', '')
      .where('pid', '=', 0)
      .where('language', '=', ''),
  );
  return row ? Number(row.id) : undefined;
}

/** id → metricKey for the metrics that exist in the account's dictionary. */
async function resolveIds(store: ShardStore, accountId: number, metrics: ReadonlyArray<MetricName & { id?: number }>): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  const wanted = new Set<string>();
  for (const m of metrics) {
    if (m.id !== undefined) out.set(m.id, metricKey(m));
    else wanted.add(metricKey(m));
  }
  if (wanted.size > 0) {
    const names = [...new Set(metrics.filter((m) => m.id === undefined).map((m) => m.name))];
    for (const found of await store.findMetrics(accountId, { names })) {
      const key = metricKey(found);
      if (wanted.has(key)) out.set(found.id, key);
    }
  }
  return out;
}

/**
 * States of the account's days in [from, to) from the rollup's rollup_days table (schema/shard/0003).
 * A shard not migrated that far has no such table: every day then counts as rolled.
 */
export async function rollupDays(store: ShardStore, accountId: number, from: number, to: number): Promise<Map<number, DayRollupState>> {
  try {
    const rows = await selectOn(
      store.pool,
      shardSql.selectFrom('rollup_days').select(['day', 'state']).where('account_id', '=', accountId).where('day', '>=', from - 86400).where('day', '<', to),
    );
    return new Map(rows.map((r): [number, DayRollupState] => [Number(r.day), r.state]));
  } catch (err) {
    if ((err as { code?: string }).code === 'ER_NO_SUCH_TABLE') return new Map();
    throw err;
  }
}

function countTables(plan: ReadPlan): { minute: number; hour: number; day: number } {
  const seen = new Set<string>();
  const out = { minute: 0, hour: 0, day: 0 };
  for (const s of plan.segments) {
    if (seen.has(s.table)) continue;
    seen.add(s.table);
    out[s.kind]++;
  }
  return out;
}
