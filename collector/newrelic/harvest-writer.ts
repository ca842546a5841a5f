import { KeyedLock } from '../../lib/concurrency/keyed-lock.js';
import { AuthError, InputError, NotFoundError, PayloadTooLargeError, RetryableError } from '../../lib/errors.js';
import type { ShardRegistry } from '../../lib/shard/shard-registry.js';
import type { ShardStore } from '../../lib/shard/shard-store.js';
import type { ShardWriter, WriteGuard, WriteOutcome } from '../../lib/shard/shard-writer.js';
import type { CollectorMetrics } from '../collector-metrics.js';
import { checkMinuteRetention } from '../../lib/shard/minute-retention.js';
import { checkRequestRows } from '../../lib/shard/request-rows.js';
import { harvestMinute, planHarvest, pieceKey, type HarvestPiece, type HarvestPlan, type HarvestRecord } from './harvest-plan.js';
import { HarvestRecords, type SaveExpects } from './harvest-records.js';
import { harvestRows, type ApplicationTarget } from './harvest-rows.js';
import type { Harvest } from './metric-data.js';
import type { RunClaims } from './run-token.js';

/** Runs whose last saved record version this collector remembers (~100 bytes each). */
const MAX_REMEMBERED_RUNS = 100_000;

/**
 * Writes validated harvests: the harvest record decides what is new (harvest-plan.ts), names go
 * through the account's dictionary, and every piece goes to the shared ShardWriter: a piece saved
 * with its record has the record's update as its guard (record and rows commit in one transaction:
 * one commit per harvest; the guard's version check refuses a second delivery, so no dedupe key),
 * any other piece its own dedupe key. Resolves only after every piece is committed; shard trouble is
 * RetryableError (503).
 */
export class HarvestWriter {
  readonly #records = new WeakMap<ShardStore, HarvestRecords>();
  /**
   * Per run, the start of the record this collector saved or read last: a harvest of the run that
   * starts later is new whatever the stored record holds (harvest-plan.ts), and is saved over any
   * record that started before it without reading the record first (one query less a harvest), also
   * when other collector processes saved the run's harvests in between. A save that finds the stored
   * record started at or after this harvest (a copy, or a later harvest saved meanwhile) changes
   * nothing and falls back to reading the record.
   */
  readonly #runs = new Map<string, number>();
  /** Serialises the harvests of one agent run (account, run nonce) in this process. */
  readonly #serial = new KeyedLock(8, { action: 'accept metric_data', holders: 'harvests of the same agent run' });

  constructor(
    private readonly shards: ShardRegistry,
    private readonly writer: ShardWriter,
    private readonly metrics: CollectorMetrics,
    private readonly now: () => number = () => Date.now() / 1000,
    private readonly maxRequestRows = Number.MAX_SAFE_INTEGER,
  ) {}

  async write(claims: RunClaims, harvest: Harvest, digest: string): Promise<HarvestPlan['kind']> {
    // Per metric and application: the agent's row (harvest-rows.ts; the application's is derived by the minute seal).
    checkRequestRows('metric_data', harvest.metrics.length * claims.applications.length, this.maxRequestRows);
    // One harvest of a run at a time in this process: an agent's first (1 s) harvest can still be in
    // flight when its shutdown harvest comes, and the second would otherwise find the record moved
    // (a 503 the agent cannot retry once it has shut down). Waits are bounded by the first write's own.
    return this.#serial.run(`${claims.accountId}:${claims.nonce}`, () => this.#write(claims, harvest, digest));
  }

  async #write(claims: RunClaims, harvest: Harvest, digest: string): Promise<HarvestPlan['kind']> {
    const { shardId, store, minuteDays } = await retryable(`shard of account ${claims.accountId}`, () => this.#locate(claims.accountId));
    // Its minute table may be purged already: writing would recreate it (and a rollup lose the retained hour).
    checkMinuteRetention('metric_data', harvestMinute(harvest.start, harvest.end), minuteDays, this.now());
    const records = this.#recordsOf(store);
    const keyOf = (end: number, d: string) => pieceKey(claims.accountId, claims.nonce, harvest.start, end, d);
    const runKey = `${shardId}:${claims.accountId}:${claims.nonce}`;
    /** The record saved (if the stored one is still as `expected`: SaveExpects) and the piece's rows written, in one transaction. */
    const saveAndWrite = async (record: HarvestRecord, expected: SaveExpects, piece: HarvestPiece): Promise<boolean> => {
      let saved: boolean;
      if (piece.metrics.length === 0) {
        saved = await retryable(`shard ${shardId}`, () => records.save(claims.accountId, claims.nonce, record, expected));
      } else {
        // The record by metric id when it is the piece's whole payload (a new harvest): #writePiece has the ids.
        const guard = (ids: readonly number[] | undefined) => records.saveStatement(claims.accountId, claims.nonce, record, expected, piece.metrics === record.cumulative ? ids : undefined);
        saved = (await this.#writePiece(claims, shardId, store, piece, guard)) !== 'conflict';
      }
      if (saved) this.#remember(runKey, record.start);
      return saved;
    };
    // Fast path, the usual case: this process saved or read the run's record, and this harvest starts later than it.
    const known = this.#runs.get(runKey);
    if (known !== undefined && harvest.start > known) {
      const plan = planHarvest(undefined, harvest, digest, keyOf);
      if (plan.kind === 'new' && (await saveAndWrite(plan.save, 'earlier', plan.write))) {
        this.metrics.harvests.inc({ kind: plan.kind });
        return plan.kind;
      }
    }
    this.#runs.delete(runKey);
    this.metrics.recordReads.inc({ reason: known === undefined ? 'unseen' : harvest.start > known ? 'moved' : 'resend' });
    const stored = await retryable(`shard ${shardId}`, () => records.load(claims.accountId, claims.nonce));
    if (stored) this.#remember(runKey, stored.record.start);
    const plan = planHarvest(stored?.record, harvest, digest, keyOf);
    // A new harvest is saved by start over whatever record started earlier (a record saved meanwhile by
    // another process at an earlier start is no conflict); a merged resend's save, by the version read.
    const saveOrRetry = async (record: HarvestRecord, piece: HarvestPiece, expected: SaveExpects) => {
      if (!(await saveAndWrite(record, expected, piece))) {
        throw new RetryableError('cannot accept metric_data: another harvest of this agent run is being written at the same time', 1);
      }
    };
    switch (plan.kind) {
      case 'new':
        await saveOrRetry(plan.save, plan.write, stored ? 'earlier' : undefined);
        break;
      case 'older':
      case 'duplicate':
        await this.#writePiece(claims, shardId, store, plan.write);
        break;
      case 'merged':
        // The previous piece first: once it is committed (now or before), the record may move on.
        await this.#writePiece(claims, shardId, store, plan.confirm);
        await saveOrRetry(plan.save, plan.write, stored?.version);
        break;
    }
    this.metrics.harvests.inc({ kind: plan.kind });
    return plan.kind;
  }

  /** Remembers (bounded, oldest forgotten first) the start of a run's record saved or read. */
  #remember(runKey: string, v: number): void {
    this.#runs.delete(runKey);
    if (this.#runs.size >= MAX_REMEMBERED_RUNS) this.#runs.delete(this.#runs.keys().next().value!);
    this.#runs.set(runKey, v);
  }

  /**
   * A run's shutdown. Its harvest record stays until the purge takes it (runs silent for 2 days): a
   * resend of its last harvest, whose piece was saved with the record and under no ledger key, must
   * still find the record to be told from a new harvest. Only this process's memory of the run goes.
   */
  async endRun(claims: RunClaims): Promise<void> {
    try {
      const { shardId } = await this.#locate(claims.accountId);
      this.#runs.delete(`${shardId}:${claims.accountId}:${claims.nonce}`);
    } catch {
      // The agent is going away either way.
    }
  }

  /** Purges records of runs silent for maxAgeSeconds on every shard; returns how many went. */
  async purgeRecords(maxAgeSeconds: number): Promise<number> {
    let n = 0;
    for (const store of await this.shards.all()) n += await this.#recordsOf(store).purge(maxAgeSeconds);
    return n;
  }

  async #locate(accountId: number): Promise<{ shardId: number; store: ShardStore; minuteDays: number }> {
    let located: Awaited<ReturnType<ShardRegistry['storeForAccount']>>;
    try {
      located = await this.shards.storeForAccount(accountId);
    } catch (err) {
      // A run id of a deleted account: 401 makes the agent reconnect, where its key is refused.
      if (err instanceof NotFoundError) throw new AuthError(`cannot accept run id: account ${accountId} no longer exists`);
      throw err;
    }
    const { account, store } = located;
    this.metrics.watchStore(store);
    return { shardId: account.shardId, store, minuteDays: account.retention.minuteDays };
  }

  #recordsOf(store: ShardStore): HarvestRecords {
    let r = this.#records.get(store);
    if (!r) this.#records.set(store, (r = new HarvestRecords(store.pool, (accountId, ids) => store.metricNames(accountId, ids))));
    return r;
  }

  /**
   * Writes a piece (with the guard that saves its harvest record, if any, given the piece's metric ids
   * when no name was folded); 'conflict': the guard found the record changed.
   */
  async #writePiece(claims: RunClaims, shardId: number, store: ShardStore, piece: HarvestPiece, guardOf?: (ids: readonly number[] | undefined) => WriteGuard): Promise<WriteOutcome | undefined> {
    if (piece.metrics.length === 0) return undefined;
    const names = piece.metrics; // (name, scope) of each metric
    let folded = 0;
    const targets: ApplicationTarget[] = [];
    for (const app of claims.applications) {
      const metricIds = await retryable(`shard ${shardId}`, () =>
        store.metricIds(claims.accountId, names, { applicationId: app.applicationId, onOverflow: (n) => (folded += n), source: claims.nonce }),
      );
      targets.push({ agentId: app.agentId, applicationAgentId: app.applicationAgentId, metricIds });
    }
    const rows = harvestRows(piece.metrics, piece.period, targets);
    const guard = guardOf?.(folded === 0 ? targets[0]?.metricIds : undefined);
    this.metrics.harvestRows.observe(rows.length);
    const started = process.hrtime.bigint();
    const outcome = await this.writer.write({
      accountId: claims.accountId,
      shardId,
      rows,
      // Saved with its record, the piece is committed at most once by the record's version check; any
      // other goes under its key (harvest-plan.ts).
      ...(guard ? { guard } : { dedupeKey: piece.key }),
    });
    if (outcome === 'committed') {
      this.metrics.commitSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      this.metrics.rowsWritten.inc({ shard: String(shardId) }, rows.length);
      if (folded > 0) this.metrics.overflowNames.inc(folded);
    }
    return outcome;
  }
}

/** Database trouble while reading or saving is retryable (503); our own typed errors pass through. */
async function retryable<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (
      err instanceof RetryableError ||
      err instanceof InputError ||
      err instanceof AuthError ||
      err instanceof PayloadTooLargeError ||
      err instanceof NotFoundError ||
      (err instanceof Error && err.message.startsWith('BUG:'))
    ) {
      throw err;
    }
    // The answer names the problem; the driver's text (SQL, table names) stays in `cause`, for the log.
    throw Object.assign(new RetryableError(`cannot write harvest: ${what} is unavailable`, 10), { cause: err });
  }
}
