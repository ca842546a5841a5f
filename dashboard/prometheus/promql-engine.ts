import type { Expr, Matcher, VectorSelector } from './promql-ast.js';
import { aggregate } from './promql-aggregate.js';
import { scalarScalar, vectorScalar, vectorVector } from './promql-binary.js';
import { rangeFunction, SUMMABLE, typeOf, vectorFunction } from './promql-functions.js';
import { badData, execution, timeout } from './prom-error.js';
import { labelsKey, withoutName, type Labels, type RangePoints, type Sample, type Series, type Value } from './promql-values.js';

/**
 * Evaluates a parsed query over a PromStorage: first one read per selector covering the whole query
 * (the storage picks the table kind from the finest step or range, and sums deltas into SQL buckets
 * where the functions allow), then the expression at each step in memory. Bounds: series and samples
 * loaded (execution errors) and the deadline (timeout), checked between reads and steps.
 */
export interface SelectRequest {
  matchers: Matcher[];
  /** Samples with from < t ≤ to are wanted (seconds). */
  from: number;
  to: number;
  /** Row period, seconds: the table kind to read (60, 3600 or 86400). */
  period: number;
  /** Seconds per sample for delta series (a multiple of period); gauges always come per period. */
  deltaBucket: number;
  /**
   * The selector sits in `sum [by (app)] (rate|increase|sum_over_time(…))`: the storage may add the
   * application's series up (in SQL) into one per application, labelled __name__ and app only, when
   * they are deltas of one family (the sum of the rates is then the rate of the sum, exactly).
   */
  sumByApp: boolean;
  /** The selector sits under an aggregation `by (host)`: per-agent rows (labelled `host`) are wanted. */
  perHost?: boolean;
}

export interface PromStorage {
  /** Row period (seconds) of the coarsest table kind no coarser than `finest` seconds that is kept at `from`. */
  period(finest: number, from: number): number;
  select(req: SelectRequest): Promise<Series[]>;
}

export interface EvalOptions {
  /** Milliseconds. An instant query has start = end and step 0. */
  start: number;
  end: number;
  step: number;
  lookbackMs: number;
  maxSeries: number;
  maxSamples: number;
  /** Clock (ms) and the time (ms) past which the query fails with a timeout. */
  now: () => number;
  deadline: number;
}

export type QueryData =
  | { resultType: 'matrix'; result: Array<{ metric: Labels; values: Array<[number, number]> }> }
  | { resultType: 'vector'; result: Array<{ metric: Labels; value: [number, number] }> }
  | { resultType: 'scalar'; result: [number, number] }
  | { resultType: 'string'; result: [number, string] };

interface Selected {
  sel: VectorSelector;
  range: number;
  series: Series[];
}

export async function evaluate(storage: PromStorage, expr: Expr, o: EvalOptions): Promise<QueryData> {
  const isRange = o.step > 0;
  const type = typeOf(expr);
  if (isRange && type !== 'vector' && type !== 'scalar') {
    throw badData(`invalid expression type "${type === 'matrix' ? 'range vector' : type}" for range query, must be Scalar or instant Vector`);
  }
  const data = await load(storage, expr, o);
  const ev = new Evaluator(data, o.lookbackMs);
  if (!isRange) return instantData(ev.eval(expr, o.start), o.start);
  const series = new Map<string, { metric: Labels; values: Array<[number, number]> }>();
  let steps = 0;
  for (let t = o.start; t <= o.end; t += o.step) {
    if (++steps % 64 === 0 && o.now() > o.deadline) throw timeout('query timed out in query execution');
    const v = ev.eval(expr, t);
    const samples: Sample[] = v.type === 'scalar' ? [{ labels: {}, value: v.v }] : v.type === 'vector' ? v.v : [];
    for (const s of samples) {
      const k = labelsKey(s.labels);
      const row = series.get(k) ?? { metric: s.labels, values: [] };
      series.set(k, row);
      row.values.push([t, s.value]);
    }
  }
  const result = [...series.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, s]) => s);
  return { resultType: 'matrix', result };
}

function instantData(v: Value, t: number): QueryData {
  switch (v.type) {
    case 'scalar':
      return { resultType: 'scalar', result: [t, v.v] };
    case 'string':
      return { resultType: 'string', result: [t, v.v] };
    case 'vector':
      return { resultType: 'vector', result: v.v.map((s) => ({ metric: s.labels, value: [t, s.value] })) };
    case 'matrix':
      return { resultType: 'matrix', result: v.v.map((s) => ({ metric: s.labels, values: s.ts.map((x, i) => [x, s.vs[i]!] as [number, number]) })) };
  }
}

/** Every selector with its range (0 for instant) and the function applied to it, if any. */
interface Found {
  sel: VectorSelector;
  range: number;
  fn: string | undefined;
  sumByApp?: boolean;
  perHost?: boolean;
}

function selectors(e: Expr, fn: string | undefined, out: Found[], perHost = false): void {
  const host = perHost ? { perHost } : {};
  switch (e.kind) {
    case 'selector':
      out.push({ sel: e, range: 0, fn: undefined, ...host });
      return;
    case 'matrix':
      out.push({ sel: e.selector, range: e.range, fn, ...host });
      return;
    case 'call':
      for (const a of e.args) selectors(a, e.name, out, perHost);
      return;
    case 'aggregate': {
      if (e.param) selectors(e.param, undefined, out, perHost);
      const byHost = perHost || (!e.without && e.grouping.includes('host'));
      const inner = e.expr;
      const [arg] = inner.kind === 'call' ? inner.args : [];
      if (!byHost && e.op === 'sum' && !e.without && e.grouping.every((g) => g === 'app') && inner.kind === 'call' && SUMMABLE.has(inner.name) && arg?.kind === 'matrix') {
        out.push({ sel: arg.selector, range: arg.range, fn: inner.name, sumByApp: true });
        return;
      }
      selectors(e.expr, undefined, out, byHost);
      return;
    }
    case 'binary':
      selectors(e.lhs, undefined, out, perHost);
      selectors(e.rhs, undefined, out, perHost);
      return;
    case 'unary':
      selectors(e.expr, undefined, out, perHost);
      return;
    default:
  }
}

function gcd(a: number, b: number): number {
  a = Math.abs(Math.round(a));
  b = Math.abs(Math.round(b));
  while (b) [a, b] = [b, a % b];
  return a;
}

async function load(storage: PromStorage, expr: Expr, o: EvalOptions): Promise<Map<VectorSelector, Selected>> {
  const found: Found[] = [];
  selectors(expr, undefined, found);
  const out = new Map<VectorSelector, Selected>();
  if (found.length === 0) return out;
  const startS = o.start / 1000;
  const ranges = found.filter((f) => f.range > 0).map((f) => f.range);
  const finest = Math.min(o.step > 0 ? o.step / 1000 : Infinity, ...ranges);
  const earliest = Math.min(...found.map((f) => startS - f.sel.offset - (f.range || o.lookbackMs / 1000)));
  const period = storage.period(Number.isFinite(finest) ? finest : 60, earliest);
  let seriesCount = 0;
  let samples = 0;
  for (const f of found) {
    if (f.range > 0 && f.range < period) {
      throw badData(`range [${f.range}s] is shorter than the ${period} s rows kept for this window: use a range of at least ${period} s (e.g. $__rate_interval with a scrape interval of ${period}s)`);
    }
    let bucket = period;
    if (f.fn !== undefined && SUMMABLE.has(f.fn)) {
      const g = gcd(gcd(gcd(o.step / 1000, f.range), f.sel.offset), startS);
      if (g % period === 0 && g > 0) bucket = g;
    }
    const series = await storage.select({
      matchers: f.sel.matchers,
      from: startS - f.sel.offset - (f.range || o.lookbackMs / 1000),
      to: o.end / 1000 - f.sel.offset,
      period,
      deltaBucket: bucket,
      sumByApp: f.sumByApp === true,
      ...(f.perHost ? { perHost: true } : {}),
    });
    seriesCount += series.length;
    for (const s of series) samples += s.ts.length;
    if (seriesCount > o.maxSeries) throw execution(`query would read more than ${o.maxSeries} series: narrow its label matchers`);
    if (samples > o.maxSamples) throw execution('query processing would load too many samples into memory in query execution');
    if (o.now() > o.deadline) throw timeout('query timed out in query execution');
    out.set(f.sel, { sel: f.sel, range: f.range, series });
  }
  return out;
}

/** Index of the first element of sorted `ts` greater than x. */
function upper(ts: readonly number[], x: number): number {
  let lo = 0;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ts[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

class Evaluator {
  constructor(
    private readonly data: Map<VectorSelector, Selected>,
    private readonly lookbackMs: number,
  ) {}

  eval(e: Expr, t: number): Value {
    switch (e.kind) {
      case 'number':
        return { type: 'scalar', v: e.value };
      case 'string':
        return { type: 'string', v: e.value };
      case 'selector':
        return { type: 'vector', v: this.instant(e, t) };
      case 'matrix':
        return { type: 'matrix', v: this.range(e.selector, e.range, t) };
      case 'unary': {
        const v = this.eval(e.expr, t);
        if (e.op === '+') return v;
        if (v.type === 'scalar') return { type: 'scalar', v: -v.v };
        return { type: 'vector', v: this.vec(v).map((s) => ({ labels: withoutName(s.labels), value: -s.value })) };
      }
      case 'aggregate': {
        const k = e.param ? this.scalar(e.param, t) : undefined;
        return { type: 'vector', v: aggregate(e, this.vec(this.eval(e.expr, t)), k) };
      }
      case 'binary':
        return this.binary(e, t);
      case 'call':
        return this.call(e.name, e.args, t);
    }
  }

  private vec(v: Value): Sample[] {
    if (v.type !== 'vector') throw new Error(`BUG: expected an instant vector, got ${v.type}`);
    return v.v;
  }

  private scalar(e: Expr, t: number): number {
    const v = this.eval(e, t);
    if (v.type !== 'scalar') throw new Error(`BUG: expected a scalar, got ${v.type}`);
    return v.v;
  }

  private instant(sel: VectorSelector, t: number): Sample[] {
    const at = t - sel.offset * 1000;
    const out: Sample[] = [];
    for (const s of this.data.get(sel)?.series ?? []) {
      const i = upper(s.ts, at) - 1;
      // A delta stands for its own period only; a gauge is carried forward for the lookback (5 min).
      if (i >= 0 && s.ts[i]! > at - (s.delta ? s.period : this.lookbackMs)) out.push({ labels: s.labels, value: s.vs[i]! });
    }
    return out;
  }

  private range(sel: VectorSelector, range: number, t: number): RangePoints[] {
    const at = t - sel.offset * 1000;
    return (this.data.get(sel)?.series ?? []).map((s) => {
      const a = upper(s.ts, at - range * 1000);
      const b = upper(s.ts, at);
      return { labels: s.labels, ts: s.ts.slice(a, b), vs: s.vs.slice(a, b), delta: s.delta, period: s.period };
    });
  }

  private binary(e: Extract<Expr, { kind: 'binary' }>, t: number): Value {
    const l = this.eval(e.lhs, t);
    const r = this.eval(e.rhs, t);
    if (l.type === 'scalar' && r.type === 'scalar') return { type: 'scalar', v: scalarScalar(e, l.v, r.v) };
    if (l.type === 'scalar') return { type: 'vector', v: vectorScalar(e, this.vec(r), l.v, true) };
    if (r.type === 'scalar') return { type: 'vector', v: vectorScalar(e, this.vec(l), r.v, false) };
    return { type: 'vector', v: vectorVector(e, this.vec(l), this.vec(r)) };
  }

  private call(name: string, args: Expr[], t: number): Value {
    if (name === 'time') return { type: 'scalar', v: t / 1000 };
    if (name === 'vector') return { type: 'vector', v: [{ labels: {}, value: this.scalar(args[0]!, t) }] };
    if (name === 'scalar') {
      const v = this.vec(this.eval(args[0]!, t));
      return { type: 'scalar', v: v.length === 1 ? v[0]!.value : Number.NaN };
    }
    const m = args.findIndex((a) => a.kind === 'matrix');
    if (m >= 0) {
      const mat = args[m] as Extract<Expr, { kind: 'matrix' }>;
      const param = m > 0 ? this.scalar(args[0]!, t) : undefined;
      return { type: 'vector', v: rangeFunction(name, this.range(mat.selector, mat.range, t), t - mat.selector.offset * 1000, mat.range * 1000, param) };
    }
    const values = args.map((a) => this.eval(a, t));
    const vector = values.find((v) => v.type === 'vector');
    const scalars = values.filter((v) => v.type === 'scalar').map((v) => v.v as number);
    const strings = values.filter((v) => v.type === 'string').map((v) => v.v as string);
    return { type: 'vector', v: vectorFunction(name, vector ? this.vec(vector) : [], scalars, strings) };
  }
}
