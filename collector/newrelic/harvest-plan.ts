import { createHash } from 'node:crypto';
import { InputError } from '../../lib/errors.js';
import type { Timeslice } from '../../lib/timeslice/timeslice.js';
import type { Harvest, HarvestMetric } from './metric-data.js';

/**
 * Retries never double count: the rule (documented in schema/README.md, "Retries and deduplication").
 *
 * The agent sends a harvest [start, end] once. When it does not see a 2xx (503, timeout, reset
 * connection), it keeps the data and merges it into its next harvest, which keeps the ORIGINAL
 * start (capture 23). The collector cannot know whether an unanswered payload was committed
 * (the write may have committed after a 503 at the writer deadline, or the 200 may have been
 * lost), so per agent run it keeps a harvest record: the latest payload's start, end, digest, its
 * stats ("cumulative") and the piece of rows not yet known to be committed ("pending").
 *
 * A piece is a set of rows with a dedupe key. A piece saved with its record (the record's versioned
 * update is the piece's guard, same transaction) is committed at most once by that guard and is
 * written without its key; any other piece goes under its key, which the shard writer commits at most
 * once.
 * - new harvest (start later than the record's): piece = the whole payload; record replaced.
 * - same start, a digest already seen: a resend; re-write the pending piece (a no-op if committed;
 *   nothing when the record says it is committed: pendingCommitted).
 * - same start, new digest, a superset of the record (the merged resend): first re-write the
 *   pending piece (so everything before it is committed exactly once; again nothing when committed),
 *   then record the new payload and write only the delta = payload minus cumulative.
 * - same start, not a superset: not something an agent does; 400.
 * - start earlier than the record's (a stray old copy): written alone under its own key.
 * Rows of a piece go to the minute holding most of its payload's window (harvestMinute).
 */

/** Rows to write under one dedupe key, all in one minute. */
export interface HarvestPiece {
  key: string;
  /** Start of the minute the rows belong to (Unix s). */
  period: number;
  metrics: HarvestMetric[];
}

/** What the collector remembers per agent run (stored on the account's shard, table harvest_records). */
export interface HarvestRecord {
  start: number;
  end: number;
  /** Digests of every payload seen with this start, latest last (bounded). */
  seen: string[];
  /** Stats of the latest payload: what all pieces for this start add up to. */
  cumulative: HarvestMetric[];
  /** The latest piece, not known to be committed unless `pendingCommitted`. */
  pending: HarvestPiece;
  /**
   * The record as read back was saved in the transaction of its pending piece (formats 2 and later:
   * the record's update is the piece's guard), so the piece is committed and a resend writes none of it.
   */
  pendingCommitted?: boolean;
}

export type HarvestPlan =
  | { kind: 'new'; save: HarvestRecord; write: HarvestPiece }
  | { kind: 'older'; write: HarvestPiece }
  | { kind: 'duplicate'; write: HarvestPiece }
  | { kind: 'merged'; confirm: HarvestPiece; save: HarvestRecord; write: HarvestPiece };

export const MAX_SEEN_DIGESTS = 32;

/**
 * The minute a harvest [start, end] is filed under (rule version 2, documented in schema/README.md,
 * "Minute"): the minute holding most of its window, which is the minute of its midpoint; an aligned
 * window [m, m + 60) goes to m. A midpoint exactly on a minute boundary (two minutes hold equal
 * shares) goes to the later minute. Rule version 1 (until this change) filed it under the minute
 * holding `end`, one minute late for an aligned window.
 */
export function harvestMinute(start: number, end: number): number {
  return Math.floor((start + end) / 2 / 60) * 60;
}

/** Digest of a decoded payload (hex SHA-256). */
export function payloadDigest(decoded: Buffer | string): string {
  return createHash('sha256').update(decoded).digest('hex');
}

/** Dedupe key of the piece written for one payload of a run: 40 hex characters. */
export function pieceKey(accountId: number, runNonce: string, start: number, end: number, digest: string): string {
  return createHash('sha256').update(`nr17|${accountId}|${runNonce}|${start}|${end}|${digest}`).digest('hex').slice(0, 40);
}

/** Decides what to write for `harvest` given the run's record (pure). Throws InputError on a conflict. */
export function planHarvest(record: HarvestRecord | undefined, harvest: Harvest, digest: string, keyOf: (end: number, digest: string) => string): HarvestPlan {
  const piece = (metrics: HarvestMetric[]): HarvestPiece => ({ key: keyOf(harvest.end, digest), period: harvestMinute(harvest.start, harvest.end), metrics });
  if (record === undefined || harvest.start > record.start) {
    const write = piece(harvest.metrics);
    return { kind: 'new', write, save: { start: harvest.start, end: harvest.end, seen: [digest], cumulative: harvest.metrics, pending: write } };
  }
  if (harvest.start < record.start) return { kind: 'older', write: piece(harvest.metrics) };
  // The pending piece again: nothing, when it is committed with the record; else under its key (a no-op if committed).
  const confirm: HarvestPiece = record.pendingCommitted ? { ...record.pending, metrics: [] } : record.pending;
  if (record.seen.includes(digest)) return { kind: 'duplicate', write: confirm };
  const delta = deltaOf(record.cumulative, harvest.metrics);
  if (delta === undefined) {
    throw new InputError(
      'cannot accept metric_data: it has the start time of an earlier harvest of this run but does not contain that harvest (a merged resend must)',
    );
  }
  const write = piece(delta);
  const seen = [...record.seen, digest].slice(-MAX_SEEN_DIGESTS);
  return {
    kind: 'merged',
    confirm,
    write,
    save: { start: record.start, end: Math.max(record.end, harvest.end), seen, cumulative: harvest.metrics, pending: write },
  };
}

/**
 * next minus prev, per metric, or undefined when next does not contain prev (a metric missing or a
 * count going down). Counts, totals and sums of squares subtract; min and max are next's, which is
 * exact for the merged result (min(prev.min, next.min) = next.min) though not for the delta alone.
 * Metrics unchanged since prev are left out.
 */
export function deltaOf(prev: readonly HarvestMetric[], next: readonly HarvestMetric[]): HarvestMetric[] | undefined {
  const before = new Map(prev.map((m) => [`${m.name}\u0000${m.scope}`, m.stats]));
  const out: HarvestMetric[] = [];
  let matched = 0;
  for (const m of next) {
    const p = before.get(`${m.name}\u0000${m.scope}`);
    if (p === undefined) {
      out.push(m);
      continue;
    }
    matched++;
    if (m.stats.callCount < p.callCount) return undefined;
    if (sameStats(p, m.stats)) continue;
    out.push({
      name: m.name,
      scope: m.scope,
      stats: {
        callCount: m.stats.callCount - p.callCount,
        totalTime: m.stats.totalTime - p.totalTime,
        exclusiveTime: m.stats.exclusiveTime - p.exclusiveTime,
        minTime: m.stats.minTime,
        maxTime: m.stats.maxTime,
        // Rounding can leave a tiny negative; a sum of squares never is.
        sumOfSquares: Math.max(0, m.stats.sumOfSquares - p.sumOfSquares),
      },
    });
  }
  return matched === before.size ? out : undefined;
}

function sameStats(a: Timeslice, b: Timeslice): boolean {
  return (
    a.callCount === b.callCount &&
    a.totalTime === b.totalTime &&
    a.exclusiveTime === b.exclusiveTime &&
    a.minTime === b.minTime &&
    a.maxTime === b.maxTime &&
    a.sumOfSquares === b.sumOfSquares
  );
}
