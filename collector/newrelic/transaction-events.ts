import { writeDistributions, type DistRow } from '../../lib/distribution/dist-writer.js';
import { addValue, type BucketCounts } from '../../lib/distribution/log-buckets.js';
import { InputError, RetryableError } from '../../lib/errors.js';
import type { ShardRegistry } from '../../lib/shard/shard-registry.js';
import type { ShardWriter, WriteRow } from '../../lib/shard/shard-writer.js';
import { SAMPLING_METRICS } from '../../lib/distribution/sampling.js';
import type { RunClaims } from './run-token.js';

/**
 * The New Relic agent's transaction events (analytic_event_data) → distributions of transaction
 * durations (percentiles). The payload is `[run id, {reservoir_size, events_seen}, [[intrinsics, user,
 * agent attributes], …]]`; each `type: "Transaction"` event carries its `name`
 * (`WebTransaction/…`, `OtherTransaction/…`), `duration` (seconds) and `timestamp` (ms). Each duration
 * counts in the distribution of its transaction's metric name and of the roll-up name
 * (`WebTransaction` or `OtherTransaction/all`), for the run's agent and the application.
 *
 * The agent keeps a sample (its reservoir) of the transactions it saw: percentiles from these are
 * ESTIMATES, and the read API labels them so (dashboard/percentiles.ts). Other event types, malformed
 * events and events outside the accepted time range are skipped (counted); the payload is never
 * refused for them, as the agent would resend it.
 */
export interface ParsedEvents {
  /** minute → metric name → bucket counts. */
  byMinute: Map<number, Map<string, BucketCounts>>;
  kept: number;
  seen: number | undefined;
  /** Events in the payload (what the agent kept of what it saw), and the newest accepted event's minute. */
  sent: number;
  lastMinute: number | undefined;
  skipped: number;
}


const MAX_EVENTS = 20_000;

export function parseTransactionEvents(body: unknown, opts: { now: number; maxAgeSeconds: number; maxFutureSeconds: number }): ParsedEvents {
  if (!Array.isArray(body) || !Array.isArray(body[2])) throw new InputError('cannot accept analytic_event_data: body must be [run id, {…}, [events]]');
  const events = body[2] as unknown[];
  if (events.length > MAX_EVENTS) throw new InputError(`cannot accept analytic_event_data: ${events.length} events, more than ${MAX_EVENTS}`);
  const seenRaw = (body[1] as { events_seen?: unknown } | null)?.events_seen;
  const seen = typeof seenRaw === 'number' && Number.isSafeInteger(seenRaw) && seenRaw >= 0 ? seenRaw : undefined;
  const out: ParsedEvents = { byMinute: new Map(), kept: 0, seen, sent: events.length, lastMinute: undefined, skipped: 0 };
  for (const e of events) {
    const i = Array.isArray(e) ? (e[0] as Record<string, unknown> | null) : null;
    const name = i?.name;
    const duration = i?.duration;
    const ts = i?.timestamp;
    const rollup = typeof name === 'string' ? (name.startsWith('WebTransaction/') ? 'WebTransaction' : name.startsWith('OtherTransaction/') ? 'OtherTransaction/all' : undefined) : undefined;
    const t = typeof ts === 'number' ? Math.floor(ts / 1000) : NaN;
    if (
      i?.type !== 'Transaction' || rollup === undefined || (name as string).length > 255 ||
      typeof duration !== 'number' || !Number.isFinite(duration) || duration < 0 ||
      !(t >= opts.now - opts.maxAgeSeconds && t <= opts.now + opts.maxFutureSeconds)
    ) {
      out.skipped++;
      continue;
    }
    const minute = Math.floor(t / 60) * 60;
    out.lastMinute = Math.max(out.lastMinute ?? 0, minute);
    const names = out.byMinute.get(minute) ?? new Map<string, BucketCounts>();
    out.byMinute.set(minute, names);
    for (const n of [name as string, rollup]) {
      let d = names.get(n);
      if (!d) names.set(n, (d = new Map()));
      addValue(d, duration);
    }
    out.kept++;
  }
  return out;
}

/** Writes parsed events of one payload for every application of the run, exactly once per payload digest. */
export async function writeTransactionEvents(shards: ShardRegistry, writer: ShardWriter | undefined, claims: RunClaims, parsed: ParsedEvents, digest: string): Promise<number> {
  if (parsed.kept === 0 || parsed.lastMinute === undefined) return 0;
  try {
    const { account, store } = await shards.storeForAccount(claims.accountId);
    if (writer && parsed.seen !== undefined && parsed.seen >= parsed.sent) {
      // Seen and sent counts first (exactly once through the ShardWriter's ledger), then the distributions.
      const minute = parsed.lastMinute;
      const rows: WriteRow[] = [];
      for (const app of claims.applications) {
        const [seenId, sentId] = await store.metricIds(claims.accountId, [{ name: SAMPLING_METRICS.seen, scope: '' }, { name: SAMPLING_METRICS.sent, scope: '' }], { applicationId: app.applicationId });
        // The agent's rows; the application's are derived by the minute seal (WriteRow.applicationAgentId).
        for (const [metricId, n] of [[seenId!, parsed.seen], [sentId!, parsed.sent]] as const) {
          const row = { metricId, agentId: app.agentId, period: minute, callCount: n, totalTime: 0, exclusiveTime: 0, minTime: 0, maxTime: 0, sumOfSquares: 0 };
          rows.push({ kind: 'minute', t: minute, row, applicationAgentId: app.applicationAgentId });
        }
      }
      await writer.write({ accountId: claims.accountId, shardId: account.shardId, rows, dedupeKey: `nr-events:${claims.nonce}:${digest}` });
    }
    const names = [...new Set([...parsed.byMinute.values()].flatMap((m) => [...m.keys()]))];
    const rows: DistRow[] = [];
    for (const app of claims.applications) {
      const ids = await store.metricIds(claims.accountId, names.map((name) => ({ name, scope: '' })), { applicationId: app.applicationId });
      const idOf = new Map(names.map((n, k) => [n, ids[k]!]));
      for (const [minute, byName] of parsed.byMinute) {
        for (const [name, counts] of byName) {
          for (const agentId of [app.agentId, app.applicationAgentId]) {
            for (const [bucket, count] of counts) rows.push({ metricId: idOf.get(name)!, agentId, period: minute, bucket, count });
          }
        }
      }
    }
    await writeDistributions(store, claims.accountId, mergeRows(rows), `nr-events:${claims.nonce}:${digest}`);
    return rows.length;
  } catch (err) {
    if (err instanceof InputError || err instanceof RetryableError) throw err;
    throw new RetryableError(`cannot store transaction events: ${(err as Error).message}`, 5);
  }
}

/** Rows of one key merged (two names can share an overflow id). */
function mergeRows(rows: DistRow[]): DistRow[] {
  const m = new Map<string, DistRow>();
  for (const r of rows) {
    const k = `${r.metricId}:${r.agentId}:${r.period}:${r.bucket}`;
    const prev = m.get(k);
    if (prev) prev.count += r.count;
    else m.set(k, { ...r });
  }
  return [...m.values()];
}
