import { RE2JS } from 're2js';
import type { Matcher } from './promql-ast.js';

/**
 * The values PromQL evaluates to, at one evaluation time. Times are milliseconds (as in Prometheus);
 * labels are plain records whose empty values mean "absent".
 */
export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  labels: Labels;
  value: number;
}

/** A stored series over the read window: sample times ascending. */
export interface Series {
  labels: Labels;
  /** Sample times, ms: the end of each row period (or SQL bucket) the value stands for. */
  ts: number[];
  vs: number[];
  /**
   * true: each value is a delta (calls, seconds… counted during its period, as the store keeps
   * counters); false: a gauge of its period (min, max, Apdex threshold).
   */
  delta: boolean;
  /** Milliseconds each sample stands for (the row period, or the SQL bucket it was summed into). */
  period: number;
}

/** The points of one series inside a range: a slice of a Series. */
export interface RangePoints {
  labels: Labels;
  ts: number[];
  vs: number[];
  delta: boolean;
  period: number;
}

export type Value =
  | { type: 'vector'; v: Sample[] }
  | { type: 'matrix'; v: RangePoints[] }
  | { type: 'scalar'; v: number }
  | { type: 'string'; v: string };

export const NAME = '__name__';

/**
 * A canonical key of a label set (sorted names, empty values dropped). Label objects are reused from
 * step to step of a range query, so keys and name-less copies are cached per object (WeakMaps: they
 * go with the query's values).
 */
const keys = new WeakMap<Labels, string>();
const nameless = new WeakMap<Labels, Labels>();

export function labelsKey(l: Labels): string {
  let k = keys.get(l);
  if (k === undefined) {
    k = JSON.stringify(Object.keys(l).filter((n) => l[n] !== '').sort().map((n) => [n, l[n]]));
    keys.set(l, k);
  }
  return k;
}

export function withoutName(l: Labels): Labels {
  if (!(NAME in l)) return l;
  let out = nameless.get(l);
  if (out === undefined) {
    const { [NAME]: _, ...rest } = l;
    out = rest;
    nameless.set(l, out);
  }
  return out;
}

/** Labels with sorted names and no empty values. */
export function canonical(l: Labels): Labels {
  const out: Record<string, string> = {};
  for (const k of Object.keys(l).sort()) if (l[k] !== '') out[k] = l[k]!;
  return out;
}

/**
 * A regular expression with Prometheus's semantics: Go's RE2 syntax (`(?i)`, `\pL`, …), anchored at
 * both ends, `.` matching newlines; run by re2js (a port of RE2), in time linear in the input, so no
 * pattern a client sends can stall the process. Throws RE2's message for an invalid pattern.
 */
export function compileRegex(pattern: string): RE2JS {
  return RE2JS.compile(`(?s:${pattern})`);
}

const compiled = new WeakMap<Matcher, (value: string) => boolean>();

export function compileMatcher(m: Matcher): (value: string) => boolean {
  const hit = compiled.get(m);
  if (hit) return hit;
  let f: (value: string) => boolean;
  switch (m.type) {
    case '=':
      f = (v) => v === m.value;
      break;
    case '!=':
      f = (v) => v !== m.value;
      break;
    case '=~': {
      const re = compileRegex(m.value);
      f = (v) => re.matches(v);
      break;
    }
    case '!~': {
      const re = compileRegex(m.value);
      f = (v) => !re.matches(v);
      break;
    }
  }
  compiled.set(m, f);
  return f;
}

export function matchesAll(matchers: readonly Matcher[], labels: Labels): boolean {
  return matchers.every((m) => compileMatcher(m)(labels[m.name] ?? ''));
}
