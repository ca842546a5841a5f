import { InputError } from '../../lib/errors.js';
import type { Timeslice } from '../../lib/timeslice/timeslice.js';
import { mergeInto } from '../../lib/timeslice/timeslice.js';
import { canonicalMetricName } from '../../lib/shard/metric-name.js';
import { nameProblem, shown } from './metric-name-check.js';
import { parseStats } from './metric-stats.js';

/** One metric of a harvest: (name, scope) and its stats over the whole harvest window. */
export interface HarvestMetric {
  name: string;
  /** '' for unscoped metrics; the transaction name for scoped ones. */
  scope: string;
  stats: Timeslice;
}

/** A validated metric_data payload: `[run_id, start_s, end_s, [[spec, stats], …]]`. */
export interface Harvest {
  runId: string;
  /** Harvest window in Unix seconds (fractional, as the agent sent them). */
  start: number;
  end: number;
  /** One entry per (name, scope): duplicates in the payload are merged; all-zero stats are dropped. */
  metrics: HarvestMetric[];
}

export interface MetricDataLimits {
  /** The collector clock, Unix seconds. */
  now: number;
  /** A window ending later than now + this is refused. */
  maxFutureSeconds: number;
  /** A window ending before now - this is refused. */
  maxAgeSeconds: number;
}

/** More metrics than any agent sends in one minute (the 1 MB body limit allows ~60k). */
export const MAX_METRICS_PER_HARVEST = 100_000;
/**
 * Longest harvest window accepted (an agent that could not report for an hour merges everything
 * since into one harvest; filing more than that under one minute would distort it more than refusing).
 */
export const MAX_WINDOW_SECONDS = 3600;

const fail = (why: string) => new InputError(`cannot accept metric_data: ${why}`);

/**
 * Validates a decoded metric_data body. Everything is checked before anything is returned, so a
 * payload with one bad metric is refused whole (400) and nothing of it is written.
 */
export function parseMetricData(body: unknown, queryRunId: string, limits: MetricDataLimits): Harvest {
  if (!Array.isArray(body) || body.length !== 4) throw fail('body must be the array [run_id, start, end, metrics]');
  const [runId, start, end, entries] = body as unknown[];
  if (typeof runId !== 'string' && typeof runId !== 'number') throw fail('run_id (element 0) must be a string');
  if (String(runId) !== queryRunId) throw fail('run_id in the body does not match run_id in the query');
  checkWindow(start, end, limits);
  if (!Array.isArray(entries)) throw fail('metrics (element 3) must be an array');
  if (entries.length > MAX_METRICS_PER_HARVEST) throw fail(`${entries.length} metrics, more than ${MAX_METRICS_PER_HARVEST} in one harvest`);
  // (name, scope) pairs merged by name, then by scope (a map of its own once a name has two): no key
  // string built a metric.
  const byName = new Map<string, HarvestMetric | Map<string, HarvestMetric>>();
  const metrics: HarvestMetric[] = [];
  for (let i = 0; i < entries.length; i++) {
    const m = parseEntry(entries[i], i);
    if (isEmpty(m.stats)) continue;
    const seen = byName.get(m.name);
    const same = seen === undefined ? undefined : seen instanceof Map ? seen.get(m.scope) : seen.scope === m.scope ? seen : undefined;
    if (same) {
      mergeInto(same.stats, m.stats);
      continue;
    }
    if (seen === undefined) byName.set(m.name, m);
    else if (seen instanceof Map) seen.set(m.scope, m);
    else byName.set(m.name, new Map([[seen.scope, seen], [m.scope, m]]));
    metrics.push(m);
  }
  return { runId: queryRunId, start: start as number, end: end as number, metrics };
}

function checkWindow(start: unknown, end: unknown, limits: MetricDataLimits): void {
  if (typeof start !== 'number' || !Number.isFinite(start) || start < 0) throw fail('start (element 1) must be a Unix time in seconds');
  if (typeof end !== 'number' || !Number.isFinite(end) || end < 0) throw fail('end (element 2) must be a Unix time in seconds');
  if (start > end) throw fail(`the window starts (${start}) after it ends (${end})`);
  if (end - start > MAX_WINDOW_SECONDS) throw fail(`the window (start, element 1, to end, element 2) is ${Math.round(end - start)} s long, more than ${MAX_WINDOW_SECONDS} s`);
  if (end > limits.now + limits.maxFutureSeconds) {
    throw fail(`the window ends ${Math.round(end - limits.now)} s in the future (more than ${limits.maxFutureSeconds} s ahead of the collector clock)`);
  }
  if (end < limits.now - limits.maxAgeSeconds) {
    throw fail(`the window ended ${Math.round(limits.now - end)} s ago (more than ${limits.maxAgeSeconds} s)`);
  }
}

function parseEntry(entry: unknown, i: number): HarvestMetric {
  if (!Array.isArray(entry) || entry.length !== 2) throw fail(`metric #${i} must be [spec, stats]`);
  const [spec, stats] = entry as unknown[];
  if (typeof spec === 'number') throw fail(`metric #${i} uses a numeric metric id; this collector never assigns ids, send {"name": …}`);
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw fail(`metric #${i}: spec must be {"name": …, "scope"?: …}`);
  const { name, scope = '' } = spec as { name?: unknown; scope?: unknown };
  const nameWhy = nameProblem(name, false);
  if (nameWhy) throw fail(`metric #${i}: name ${nameWhy}`);
  const scopeWhy = nameProblem(scope, true);
  if (scopeWhy) throw fail(`metric #${i} ${shown(name as string)}: scope ${scopeWhy}`);
  // The dictionary's canonical form (no trailing spaces), so `Custom/pad ` and `Custom/pad` merge here.
  const canonical = canonicalMetricName(name as string);
  if (canonical === '') throw fail(`metric #${i}: name ${shown(name as string)} is only spaces`);
  return { name: canonical, scope: canonicalMetricName(scope as string), stats: parseStats(stats, canonical, () => `metric #${i} ${shown(canonical)}`) };
}

/** All six slots zero: nothing measured. Storing it would drag a real min down to 0 when merged. */
function isEmpty(t: Timeslice): boolean {
  return t.callCount === 0 && t.totalTime === 0 && t.exclusiveTime === 0 && t.minTime === 0 && t.maxTime === 0 && t.sumOfSquares === 0;
}
