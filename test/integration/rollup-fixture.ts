import type { ShardStore } from '../../lib/shard/shard-store.js';
import type { ShardWriter } from '../../lib/shard/shard-writer.js';
import { parseTableName, type TableKind } from '../../lib/shard/table-naming.js';
import { mergeTimeslices, type Timeslice, type TimesliceRow } from '../../lib/timeslice/timeslice.js';

export { mulberry32 as random } from '../harness/prng.js';

/** A stored or expected rolled row: the timeslice and, where the table has it, `periods`. */
export interface RolledRow extends Timeslice {
  periods?: number;
}

/**
 * Random minute timeslices for one account, written through the real ShardWriter, and the pure
 * reference of what the hour and day tables must hold, computed with lib/timeslice's mergeTimeslices.
 *
 * Values are dyadic (k / 1024, k < 2^20) so that every sum is exact in a double whatever order MariaDB
 * and JavaScript add them in: the comparison can be exact equality.
 */
export class RollupFixture {
  /** (metric, agent, minute) → merged minute timeslice, as committed. */
  readonly minutes = new Map<string, TimesliceRow>();
  metrics: number[] = [];
  apdexMetric = 0;
  agents: number[] = [];

  constructor(
    readonly store: ShardStore,
    readonly writer: ShardWriter,
    readonly accountId: number,
    readonly rand: () => number,
  ) {}

  async setup(): Promise<void> {
    const names = ['WebTransaction', 'HttpDispatcher', 'Datastore/all', 'External/all', 'WebTransaction/Controller/users/show'].map((name) => ({ name, scope: '' }));
    this.metrics = await this.store.metricIds(this.accountId, [...names, { name: 'Apdex', scope: '' }]);
    this.apdexMetric = this.metrics.pop()!;
    const app = 1;
    this.agents = [
      await this.store.applicationAgentId(this.accountId, app),
      await this.store.agentId(this.accountId, { applicationId: app, host: 'web-1', pid: 101, language: 'nodejs' }),
      await this.store.agentId(this.accountId, { applicationId: app, host: 'web-2', pid: 202, language: 'nodejs' }),
    ];
  }

  /** Writes one delivery of random rows for the minute starting at `minute` (a subset of metric × agent). */
  async writeMinute(minute: number): Promise<number> {
    const rows: TimesliceRow[] = [];
    for (const metricId of [...this.metrics, this.apdexMetric]) {
      for (const agentId of this.agents) {
        if (this.rand() < 0.35) continue;
        rows.push({ metricId, agentId, period: minute, ...(metricId === this.apdexMetric ? this.#apdex() : this.#timeslice()) });
      }
    }
    if (rows.length === 0) return 0;
    // Agents' rows name the application pseudo-agent (agents[0]), whose own rows are written directly
    // (like beacon rows): the minute seal adds the agents' rows to it before the hour is rolled.
    const app = this.agents[0]!;
    const writes = rows.map((row) => (row.agentId === app ? { kind: 'minute' as const, t: minute, row } : { kind: 'minute' as const, t: minute, row, applicationAgentId: app }));
    await this.writer.write({ accountId: this.accountId, shardId: this.store.shardId, rows: writes });
    for (const r of rows) {
      for (const agentId of r.agentId === app ? [app] : [r.agentId, app]) {
        const k = `${r.metricId}:${agentId}:${r.period}`;
        const have = this.minutes.get(k);
        this.minutes.set(k, have ? { ...have, ...mergeTimeslices(have, r) } : { ...r, agentId });
      }
    }
    return rows.length;
  }

  /**
   * Writes `perHour` random minutes (some twice: deliveries merge at ingest) in every hour of [from, to),
   * a day's deliveries at a time concurrently (the writer batches them). The random rows are drawn
   * before any await, so the data is the same whatever order the commits finish in.
   */
  async writeHours(from: number, to: number, perHour: number): Promise<void> {
    let pending: Array<Promise<number>> = [];
    for (let h = from; h < to; h += 3600) {
      for (let i = 0; i < perHour; i++) pending.push(this.writeMinute(h + Math.floor(this.rand() * 60) * 60));
      if (pending.length >= 24 * perHour) {
        await Promise.all(pending);
        pending = [];
      }
    }
    await Promise.all(pending);
  }

  /** The reference rows of `kind` ('hour' or 'day') for periods in [from, to), keyed metric:agent:period. */
  expected(kind: 'hour' | 'day', from: number, to: number, withPeriods: (period: number) => boolean): Map<string, RolledRow> {
    const size = kind === 'hour' ? 3600 : 86400;
    // Hours first (from minutes), then days from hours: the same two steps the rollup takes.
    const hours = new Map<string, RolledRow>();
    for (const m of [...this.minutes.values()].sort((a, b) => a.period - b.period)) {
      const k = `${m.metricId}:${m.agentId}:${Math.floor(m.period / 3600) * 3600}`;
      const have = hours.get(k);
      hours.set(k, have ? { ...mergeTimeslices(have, m), periods: have.periods! + 1 } : { ...slots(m), periods: 1 });
    }
    let rows = hours;
    if (kind === 'day') {
      rows = new Map();
      for (const [k, h] of [...hours].sort((a, b) => period(a[0]) - period(b[0]))) {
        const [metric, agent, hour] = k.split(':').map(Number) as [number, number, number];
        const dk = `${metric}:${agent}:${Math.floor(hour / 86400) * 86400}`;
        const have = rows.get(dk);
        rows.set(dk, have ? { ...mergeTimeslices(have, h), periods: have.periods! + 1 } : { ...slots(h), periods: 1 });
      }
    }
    const out = new Map<string, RolledRow>();
    for (const [k, r] of rows) {
      const p = period(k);
      if (p < from || p >= to || p % size !== 0) continue;
      if (withPeriods(p)) out.set(k, r);
      else out.set(k, slots(r));
    }
    return out;
  }

  #timeslice(): Timeslice {
    const d = () => Math.floor(this.rand() * 2 ** 20) / 1024;
    const a = d();
    const b = d();
    return { callCount: 1 + Math.floor(this.rand() * 50), totalTime: d(), exclusiveTime: d(), minTime: Math.min(a, b), maxTime: Math.max(a, b), sumOfSquares: d() };
  }

  #apdex(): Timeslice {
    const n = () => Math.floor(this.rand() * 30);
    return { callCount: n(), totalTime: n(), exclusiveTime: n(), minTime: 0.5, maxTime: 0.5, sumOfSquares: 0 };
  }
}

function period(key: string): number {
  return Number(key.split(':')[2]);
}

function slots(t: Timeslice): Timeslice {
  return { callCount: t.callCount, totalTime: t.totalTime, exclusiveTime: t.exclusiveTime, minTime: t.minTime, maxTime: t.maxTime, sumOfSquares: t.sumOfSquares };
}

/** Every row of the account's tables of `kind` with period in [from, to), keyed metric:agent:period. */
export async function storedRows(store: ShardStore, accountId: number, kind: TableKind, from: number, to: number): Promise<Map<string, RolledRow>> {
  const out = new Map<string, RolledRow>();
  for (const t of await store.listTables({ accountId, kind })) {
    if (!parseTableName(t.name)) throw new Error(`unexpected table ${t.name}`);
    const [rows] = await store.pool.query<any[]>(`SELECT * FROM ${t.name} WHERE period >= ? AND period < ?`, [from, to]);
    for (const r of rows) {
      const row: RolledRow = {
        callCount: Number(r.call_count),
        totalTime: r.total_time,
        exclusiveTime: r.exclusive_time,
        minTime: r.min_time,
        maxTime: r.max_time,
        sumOfSquares: r.sum_of_squares,
      };
      if ('periods' in r) row.periods = Number(r.periods);
      out.set(`${r.metric_id}:${r.agent_id}:${r.period}`, row);
    }
  }
  return out;
}
