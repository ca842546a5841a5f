/**
 * Half-open time intervals [from, to) in Unix seconds, kept sorted and disjoint. Small pure helpers for
 * the read planner.
 */
export type Interval = readonly [from: number, to: number];

/** Sorts and merges overlapping or touching intervals; drops empty ones. */
export function normalize(list: readonly Interval[]): Interval[] {
  const sorted = list.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** The parts of `list` not covered by `holes`. */
export function subtract(list: readonly Interval[], holes: readonly Interval[]): Interval[] {
  const hs = normalize(holes);
  const out: Interval[] = [];
  for (const [a0, b] of normalize(list)) {
    let a = a0;
    for (const [ha, hb] of hs) {
      if (hb <= a || ha >= b) continue;
      if (ha > a) out.push([a, ha]);
      a = Math.max(a, hb);
      if (a >= b) break;
    }
    if (a < b) out.push([a, b]);
  }
  return out;
}

/** The parts of `list` inside [from, to). */
export function clip(list: readonly Interval[], from: number, to: number): Interval[] {
  const out: Interval[] = [];
  for (const [a, b] of list) {
    const x = Math.max(a, from);
    const y = Math.min(b, to);
    if (y > x) out.push([x, y]);
  }
  return out;
}

/** Intervals of length `length` starting at each of `starts`. */
export function spans(starts: readonly number[], length: number): Interval[] {
  return normalize(starts.map((s) => [s, s + length] as const));
}
