import type { Expr, ValueType } from './promql-ast.js';
import { badData, execution, unsupported } from './prom-error.js';
import { histogramQuantile } from './promql-histogram.js';
import { canonical, compileRegex, labelsKey, NAME, withoutName, type Labels, type RangePoints, type Sample } from './promql-values.js';

/**
 * The PromQL functions this API evaluates, with their argument types (checked at parse time, as
 * Prometheus does) and their implementations. Counters are stored as deltas per period (see
 * docs/api.md), so rate/increase are exact sums of the deltas in the window, never extrapolated.
 */
type Arg = ValueType;
interface FnSpec {
  args: Arg[];
  /** Trailing arguments that may be left out. */
  optional?: number;
  returns: ValueType;
}

const RANGE_FUNCTIONS = ['rate', 'increase', 'irate', 'delta', 'avg_over_time', 'sum_over_time', 'min_over_time', 'max_over_time', 'count_over_time', 'last_over_time', 'present_over_time', 'stddev_over_time', 'stdvar_over_time'];

export const FUNCTIONS: Readonly<Record<string, FnSpec>> = {
  ...Object.fromEntries(RANGE_FUNCTIONS.map((f) => [f, { args: ['matrix'], returns: 'vector' } as FnSpec])),
  quantile_over_time: { args: ['scalar', 'matrix'], returns: 'vector' },
  histogram_quantile: { args: ['scalar', 'vector'], returns: 'vector' },
  clamp: { args: ['vector', 'scalar', 'scalar'], returns: 'vector' },
  clamp_min: { args: ['vector', 'scalar'], returns: 'vector' },
  clamp_max: { args: ['vector', 'scalar'], returns: 'vector' },
  abs: { args: ['vector'], returns: 'vector' },
  round: { args: ['vector', 'scalar'], optional: 1, returns: 'vector' },
  label_replace: { args: ['vector', 'string', 'string', 'string', 'string'], returns: 'vector' },
  vector: { args: ['scalar'], returns: 'vector' },
  scalar: { args: ['vector'], returns: 'scalar' },
  time: { args: [], returns: 'scalar' },
};

/** Functions that take a window of deltas and whose answer does not change if deltas are pre-summed into buckets. */
export const SUMMABLE = new Set(['rate', 'increase', 'sum_over_time']);

export function typeOf(e: Expr): ValueType {
  switch (e.kind) {
    case 'selector':
    case 'aggregate':
      return 'vector';
    case 'matrix':
      return 'matrix';
    case 'number':
      return 'scalar';
    case 'string':
      return 'string';
    case 'call':
      return FUNCTIONS[e.name]?.returns ?? 'vector';
    case 'unary':
      return typeOf(e.expr);
    case 'binary':
      return typeOf(e.lhs) === 'scalar' && typeOf(e.rhs) === 'scalar' ? 'scalar' : 'vector';
  }
}

/** Checks a call's name and argument types (the grammar already knows the name is a PromQL function). */
export function checkCall(name: string, args: Expr[]): void {
  const spec = FUNCTIONS[name];
  if (!spec) throw unsupported(`function ${name}()`);
  const min = spec.args.length - (spec.optional ?? 0);
  if (args.length < min || args.length > spec.args.length) {
    throw badData(`expected ${min === spec.args.length ? min : `${min} to ${spec.args.length}`} argument(s) in call to "${name}", got ${args.length}`);
  }
  args.forEach((a, i) => {
    const got = typeOf(a);
    if (got !== spec.args[i]) throw badData(`expected type ${typeName(spec.args[i]!)} in call to function "${name}", got ${typeName(got)}`);
  });
}

export function typeName(t: ValueType): string {
  return t === 'matrix' ? 'range vector' : t === 'vector' ? 'instant vector' : t;
}

/** A range function over the points of each series in (t − range, t]; series without points give nothing. */
export function rangeFunction(name: string, series: RangePoints[], t: number, rangeMs: number, param?: number): Sample[] {
  const out: Sample[] = [];
  for (const s of series) {
    if (s.vs.length === 0) continue;
    const v = rangeValue(name, s, t, rangeMs, param);
    if (v === undefined) continue;
    out.push({ labels: name === 'last_over_time' ? s.labels : withoutName(s.labels), value: v });
  }
  return checkUnique(out, name);
}

function rangeValue(name: string, s: RangePoints, t: number, rangeMs: number, param?: number): number | undefined {
  const vs = s.vs;
  const n = vs.length;
  const needsDelta = name === 'rate' || name === 'increase' || name === 'irate';
  if (needsDelta && !s.delta) throw execution(`${name}() needs a counter (a series ending in _total), got ${s.labels[NAME] ?? 'a gauge'}`);
  if (name === 'delta' && s.delta) throw execution(`delta() of the counter ${s.labels[NAME] ?? ''}: counters are stored as deltas, use increase()`);
  switch (name) {
    case 'increase':
    case 'sum_over_time':
      return sum(vs);
    case 'rate':
      return sum(vs) / (rangeMs / 1000);
    case 'irate':
      return vs[n - 1]! / (s.period / 1000);
    case 'delta':
      return extrapolatedDelta(s, t, rangeMs);
    case 'avg_over_time':
      return sum(vs) / n;
    case 'min_over_time':
      return Math.min(...vs);
    case 'max_over_time':
      return Math.max(...vs);
    case 'count_over_time':
      return n;
    case 'last_over_time':
      return vs[n - 1];
    case 'present_over_time':
      return 1;
    case 'stddev_over_time':
      return Math.sqrt(variance(vs));
    case 'stdvar_over_time':
      return variance(vs);
    case 'quantile_over_time':
      return quantile(param!, vs);
    default:
      throw new Error(`BUG: ${name} is not a range function`);
  }
}

function sum(vs: readonly number[]): number {
  let s = 0;
  for (const v of vs) s += v;
  return s;
}

function variance(vs: readonly number[]): number {
  const mean = sum(vs) / vs.length;
  let sq = 0;
  for (const v of vs) sq += (v - mean) * (v - mean);
  return sq / vs.length;
}

/** Prometheus's quantile(): linear interpolation between the closest ranks. */
export function quantile(q: number, values: readonly number[]): number {
  if (values.length === 0 || Number.isNaN(q)) return Number.NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = q * (sorted.length - 1);
  const lower = Math.max(0, Math.floor(rank));
  const upper = Math.min(sorted.length - 1, lower + 1);
  const weight = rank - Math.floor(rank);
  return sorted[lower]! * (1 - weight) + sorted[upper]! * weight;
}

/** delta() of a gauge exactly as Prometheus computes it: last − first, extrapolated to the window's edges. */
function extrapolatedDelta(s: RangePoints, t: number, rangeMs: number): number | undefined {
  const n = s.vs.length;
  if (n < 2) return undefined;
  const first = s.ts[0]!;
  const last = s.ts[n - 1]!;
  let toStart = (first - (t - rangeMs)) / 1000;
  let toEnd = (t - last) / 1000;
  const sampled = (last - first) / 1000;
  const average = sampled / (n - 1);
  const threshold = average * 1.1;
  if (toStart >= threshold) toStart = average / 2;
  if (toEnd >= threshold) toEnd = average / 2;
  return (s.vs[n - 1]! - s.vs[0]!) * ((sampled + toStart + toEnd) / sampled);
}

/** Functions of instant vectors (and scalars): the arguments are evaluated already. */
export function vectorFunction(name: string, v: Sample[], scalars: number[], strings: string[]): Sample[] {
  const map = (f: (x: number) => number) => v.map((s) => ({ labels: withoutName(s.labels), value: f(s.value) }));
  switch (name) {
    case 'abs':
      return map(Math.abs);
    case 'clamp_min':
      return map((x) => Math.max(x, scalars[0]!));
    case 'clamp_max':
      return map((x) => Math.min(x, scalars[0]!));
    case 'clamp': {
      const [lo, hi] = scalars as [number, number];
      return lo > hi ? [] : map((x) => Math.max(lo, Math.min(hi, x)));
    }
    case 'round': {
      const inverse = 1 / (scalars[0] ?? 1);
      return map((x) => Math.floor(x * inverse + 0.5) / inverse);
    }
    case 'histogram_quantile':
      return histogramQuantile(scalars[0]!, v);
    case 'label_replace':
      return checkUnique(labelReplace(v, strings as [string, string, string, string]), name);
    default:
      throw new Error(`BUG: ${name} is not a vector function`);
  }
}

function labelReplace(v: Sample[], [dst, replacement, src, regex]: [string, string, string, string]): Sample[] {
  if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(dst)) throw badData(`invalid destination label name in label_replace(): ${dst}`);
  let re: ReturnType<typeof compileRegex>;
  try {
    re = compileRegex(regex);
  } catch (err) {
    throw badData(`invalid regular expression in label_replace(): ${(err as Error).message}`);
  }
  return v.map((s) => {
    const m = re.matcher(s.labels[src] ?? '');
    if (!m.matches()) return s;
    return { labels: canonical({ ...s.labels, [dst]: expand(replacement, m) }), value: s.value };
  });
}

/** Go's Regexp.Expand: `$$`, `$1`, `${1}`, `$name`, `${name}` (a name as long as possible); unknown refs are empty. */
function expand(template: string, m: { group(g: number | string): string | null; groupCount(): number }): string {
  return template.replace(/\$(?:(\$)|\{([a-zA-Z0-9_]+)\}|([a-zA-Z0-9_]+))/g, (_, dollar?: string, braced?: string, bare?: string) => {
    if (dollar) return '$';
    const ref = braced ?? bare!;
    try {
      if (/^[0-9]+$/.test(ref)) return Number(ref) <= m.groupCount() ? m.group(Number(ref)) ?? '' : '';
      return m.group(ref) ?? '';
    } catch {
      return '';
    }
  });
}

/** Prometheus refuses a vector with two samples of one label set (e.g. rate() over two names). */
export function checkUnique(v: Sample[], where: string): Sample[] {
  const seen = new Set<string>();
  for (const s of v) {
    const k = labelsKey(s.labels);
    if (seen.has(k)) throw execution(`vector cannot contain metrics with the same labelset (in ${where}): ${k}`);
    seen.add(k);
  }
  return v;
}

export type { Labels };
