import type { Aggregate } from './promql-ast.js';
import { canonical, labelsKey, NAME, type Labels, type Sample } from './promql-values.js';

/**
 * sum, avg, min, max, count (by/without), topk and bottomk over an instant vector, as Prometheus
 * does: `by` keeps only the listed labels, `without` drops them and the metric name; topk/bottomk
 * keep the samples' own labels. NaN values lose to every number in min/max/topk/bottomk.
 */
export function aggregate(a: Aggregate, v: readonly Sample[], k?: number): Sample[] {
  const groups = new Map<string, { labels: Labels; samples: Sample[] }>();
  const cache = groupCache(a);
  for (const s of v) {
    let labels = cache.get(s.labels);
    if (labels === undefined) {
      labels = groupLabels(s.labels, a.grouping, a.without);
      cache.set(s.labels, labels);
    }
    const key = labelsKey(labels);
    const g = groups.get(key) ?? { labels, samples: [] };
    groups.set(key, g);
    g.samples.push(s);
  }
  const out: Sample[] = [];
  for (const g of groups.values()) {
    if (a.op === 'topk' || a.op === 'bottomk') {
      out.push(...top(g.samples, Math.floor(k ?? 0), a.op === 'topk'));
      continue;
    }
    out.push({ labels: g.labels, value: reduce(a.op, g.samples.map((s) => s.value)) });
  }
  return out;
}

/** Group labels per sample label set, per aggregation node (the same objects recur at every step). */
const groupCaches = new WeakMap<Aggregate, WeakMap<Labels, Labels>>();
function groupCache(a: Aggregate): WeakMap<Labels, Labels> {
  let c = groupCaches.get(a);
  if (!c) {
    c = new WeakMap();
    groupCaches.set(a, c);
  }
  return c;
}

function groupLabels(l: Labels, grouping: readonly string[], without: boolean): Labels {
  const out: Record<string, string> = {};
  if (without) {
    for (const [k, v] of Object.entries(l)) if (k !== NAME && !grouping.includes(k)) out[k] = v;
  } else {
    for (const k of grouping) if (l[k] !== undefined) out[k] = l[k]!;
  }
  return canonical(out);
}

function reduce(op: Aggregate['op'], vs: number[]): number {
  switch (op) {
    case 'sum':
      return vs.reduce((x, y) => x + y, 0);
    case 'avg':
      return vs.reduce((x, y) => x + y, 0) / vs.length;
    case 'count':
      return vs.length;
    case 'min':
      return vs.reduce((m, x) => (Number.isNaN(m) || x < m ? x : m), Number.NaN);
    case 'max':
      return vs.reduce((m, x) => (Number.isNaN(m) || x > m ? x : m), Number.NaN);
    default:
      throw new Error(`BUG: ${op} is not a reducing aggregation`);
  }
}

function top(samples: Sample[], k: number, largest: boolean): Sample[] {
  if (k < 1) return [];
  const rank = (x: number) => (Number.isNaN(x) ? -Infinity : largest ? x : -x);
  return [...samples].sort((p, q) => rank(q.value) - rank(p.value) || (Number.isNaN(p.value) ? 1 : 0)).slice(0, k);
}
