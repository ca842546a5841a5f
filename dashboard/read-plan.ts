import type { TableInfo } from '../lib/shard/shard-database.js';
import type { TableKind } from '../lib/shard/table-naming.js';
import { clip, normalize, spans, subtract, type Interval } from './intervals.js';
import type { Resolution } from './resolution.js';

/**
 * Pure planning of a time-series read: which tables, over which row periods, answer a resolution's
 * window, so that every instant is read from exactly one tier (nothing counted twice, no gap):
 *
 * - minute resolution: the minute tables.
 * - hour resolution: the hour tables, except hours whose minute table is not rolled up yet
 *   (rollup_state ≠ 'done': 'open', 'rolling' or 'dirty' — a dirty hour's hourly rows are stale), which
 *   are read from the minute table ("stitched") — at most `maxStitchTables` of them, newest first.
 * - day resolution: the day tables, except days not rolled up yet (a minute table inside is not 'done',
 *   or the rollup's rollup_days row is 'pending' or 'dirty'): those are composed from hours as above.
 *
 * Unrolled hours beyond the stitch bound (a rollup far behind) are read from their hour table, which
 * may be incomplete; the plan lists them so the answer can say so. This keeps a long window from ever
 * reading dozens of minute tables.
 */
export interface ReadSegment {
  table: string;
  kind: TableKind;
  version: number;
  columns: readonly string[];
  /** Row periods read: [from, to). */
  from: number;
  to: number;
  /** Read by listing the minutes (TableInfo.listsPeriods; a minute table from template v4 on). */
  listsPeriods?: boolean;
  /** A minute table's sealed_through as listed (TableInfo.sealedThrough): a hint, checked by the statement. */
  sealedThrough?: number;
}

export interface ReadPlan {
  segments: ReadSegment[];
  /** Hour starts read from minute tables not rolled up yet, oldest first. */
  stitchedHours: number[];
  /** Hour starts not rolled up yet and not stitched (beyond the bound): possibly incomplete. */
  unrolledHours: number[];
}

export type DayRollupState = 'pending' | 'dirty' | 'done';

export interface PlanInput {
  resolution: Resolution;
  /** The account's period tables overlapping the window (any kind, any template version). */
  tables: readonly TableInfo[];
  /** rollup_days states of the account's days in the window; days without a row count as rolled. */
  days: ReadonlyMap<number, DayRollupState>;
  maxStitchTables: number;
}

const HOUR = 3600;
const DAY = 86400;

export function planRead(input: PlanInput): ReadPlan {
  const { from, to, kind } = input.resolution;
  const window: Interval[] = [[from, to]];
  if (kind === 'minute') return { segments: segmentsOf(input.tables, 'minute', window), stitchedHours: [], unrolledHours: [] };

  const composed = kind === 'day' ? composedDays(input, from, to) : window;
  const unrolled = input.tables
    .filter((t) => t.kind === 'minute' && t.rollupState !== 'done' && inside(composed, t.start))
    .sort((a, b) => b.start - a.start);
  const stitched = unrolled.slice(0, Math.max(0, input.maxStitchTables));
  const stitchedSpans = spans(stitched.map((t) => t.start), HOUR);
  const segments = [
    ...(kind === 'day' ? segmentsOf(input.tables, 'day', subtract(window, composed)) : []),
    ...segmentsOf(input.tables, 'hour', subtract(composed, stitchedSpans)),
    ...segmentsOf(stitched, 'minute', stitchedSpans),
  ].sort((x, y) => x.from - y.from);
  return {
    segments,
    stitchedHours: stitched.map((t) => t.start).sort((a, b) => a - b),
    unrolledHours: unrolled.slice(stitched.length).map((t) => t.start).sort((a, b) => a - b),
  };
}

/** Days of [from, to) that must be composed from hours: not rolled into their day table yet. */
function composedDays(input: PlanInput, from: number, to: number): Interval[] {
  const starts = new Set<number>();
  for (const t of input.tables) {
    if (t.kind === 'minute' && t.rollupState !== 'done') starts.add(Math.floor(t.start / DAY) * DAY);
  }
  for (const [day, state] of input.days) if (state !== 'done') starts.add(day);
  return clip(spans([...starts], DAY), from, to);
}

/** Segments reading `kind` tables over `where`, each clipped to its table's span. */
function segmentsOf(tables: readonly TableInfo[], kind: TableKind, where: readonly Interval[]): ReadSegment[] {
  const out: ReadSegment[] = [];
  const ranges = normalize(where);
  for (const t of tables) {
    if (t.kind !== kind) continue;
    for (const [a, b] of clip(ranges, t.start, t.end)) {
      out.push({ table: t.name, kind, version: t.version, columns: t.columns, from: a, to: b, ...(t.listsPeriods ? { listsPeriods: true } : {}), ...(t.sealedThrough === undefined ? {} : { sealedThrough: t.sealedThrough }) });
    }
  }
  return out.sort((x, y) => x.from - y.from);
}

function inside(list: readonly Interval[], t: number): boolean {
  return list.some(([a, b]) => t >= a && t < b);
}
