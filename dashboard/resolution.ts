import { ROW_PERIOD_SECONDS, type TableKind } from '../lib/shard/table-naming.js';
import type { TimeWindow } from './time-window.js';

/**
 * Pure choice of the resolution of a chart: the finest table kind (minute, hour, day) whose periods
 * give at most `maxPoints` points over the window and whose data is still kept (retention) at the
 * window's start. Windows too long even for days get buckets of several days. The window is widened
 * to whole buckets: [from, to) with from and to multiples of `step`.
 */
export interface Resolution {
  /** Which tables hold rows of this resolution. */
  kind: TableKind;
  /** Seconds per point: the kind's row period, times a whole number of days for very long windows. */
  step: number;
  /** First bucket start (inclusive). */
  from: number;
  /** Last bucket end (exclusive). */
  to: number;
  points: number;
}

export interface ResolutionOptions {
  /** About how many points a chart may have (500 by default). */
  maxPoints: number;
  /** Days each kind is kept; null = for ever. Missing kinds are kept for ever. */
  retention?: Partial<Record<TableKind, number | null>>;
  /** Unix seconds, for the retention horizon. */
  now: number;
}

const KINDS: readonly TableKind[] = ['minute', 'hour', 'day'];

export function chooseResolution(window: TimeWindow, opts: ResolutionOptions): Resolution {
  if (!(opts.maxPoints >= 1)) throw new Error(`BUG: maxPoints must be at least 1, got ${opts.maxPoints}`);
  for (const kind of KINDS) {
    const r = aligned(kind, ROW_PERIOD_SECONDS[kind], window);
    if (r.points <= opts.maxPoints && kept(kind, window.from, opts)) return r;
  }
  const days = aligned('day', ROW_PERIOD_SECONDS.day, window).points;
  return aligned('day', ROW_PERIOD_SECONDS.day * Math.ceil(days / opts.maxPoints), window);
}

function aligned(kind: TableKind, step: number, w: TimeWindow): Resolution {
  const from = Math.floor(w.from / step) * step;
  const to = Math.ceil(w.to / step) * step;
  return { kind, step, from, to, points: (to - from) / step };
}

/** Whether rows of `kind` starting at `from` are still kept. The day kind is always accepted. */
function kept(kind: TableKind, from: number, opts: ResolutionOptions): boolean {
  if (kind === 'day') return true;
  const days = opts.retention?.[kind];
  if (days === undefined || days === null) return true;
  return from >= opts.now - days * 86400;
}

/** Bucket starts of a resolution, oldest first. */
export function bucketStarts(r: Resolution): number[] {
  const out: number[] = [];
  for (let t = r.from; t < r.to; t += r.step) out.push(t);
  return out;
}
