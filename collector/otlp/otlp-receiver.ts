import { LRUCache } from 'lru-cache';
import { createHash } from 'node:crypto';
import type { Registry } from 'prom-client';
import { AuthError, httpStatusOf, InputError, PayloadTooLargeError, publicMessageOf, RetryableError, retryAfterOf } from '../../lib/errors.js';
import { keyEpoch } from '../../lib/directory/key-epoch.js';
import type { ServiceDeps } from '../../lib/services.js';
import { pastMinuteRetention } from '../../lib/shard/minute-retention.js';
import { checkRequestRows } from '../../lib/shard/request-rows.js';
import { NAME_PREFIX } from './otlp-attributes.js';
import { heldForDecoded, InflightBudget } from '../inflight-budget.js';
import { KeyedLock } from '../../lib/concurrency/keyed-lock.js';
import { decompress, encodeResponse, encodeStatus, formatOf, parseRequest, type Encoded, type OtlpFormat, type PartialSuccess } from './otlp-codec.js';
import { normalizeExport, rejectionMessage } from './otlp-decode.js';
import { readOtlpSettings, type OtlpSettings } from './otlp-config.js';
import { OtlpMetrics } from './otlp-metrics.js';
import type { DecodedExport } from './otlp-model.js';
import { planExport, type PlanOutcome } from './otlp-plan.js';
import { OtlpIds } from './otlp-ids.js';
import { writeDistributions } from '../../lib/distribution/dist-writer.js';
import type { ShardStore } from '../../lib/shard/shard-store.js';
import { buildDistRows } from './otlp-dists.js';
import { buildRows } from './otlp-rows.js';
import { SeriesStateStore } from './otlp-series-state.js';
import { storeByOwner, type OtlpOwners, type OwnedPart } from './otlp-owner.js';
import { type Log } from '../../lib/log/log.js';

/** One OTLP/HTTP request as the route read it (headers are copied before anything async). */
export interface OtlpRequest {
  contentType: string;
  contentEncoding: string;
  /** The api-key header: the account's license key. */
  apiKey: string;
  /** Content-Length when sent (undefined for chunked bodies). */
  contentLength: number | undefined;
  readBody: (limit: number) => Promise<Buffer>;
  /** True once the client went away (its answer is never sent). */
  isAborted: () => boolean;
}

export interface OtlpAnswer extends Encoded {
  status: number;
  headers: Record<string, string>;
  /** Close the connection after answering (the rest of an over-long body was not read). */
  close: boolean;
}

const receivers = new WeakMap<Registry, OtlpReceiver>();

/**
 * The OTLP/HTTP metrics receiver: auth → body → decode → temporality → ids → one write per export.
 * One instance per collector process (shared by the HTTPS and plain-HTTP listeners, so both see the
 * same temporality state): get it with OtlpReceiver.for(deps, registry).
 */
export class OtlpReceiver {
  readonly settings: OtlpSettings;
  readonly state: SeriesStateStore;
  readonly metrics: OtlpMetrics;
  readonly #budget: InflightBudget;
  readonly #lock = new KeyedLock(32, { action: 'accept metrics export', holders: 'exports of the same sender' });
  readonly #ids: OtlpIds;
  /** License key → account (misses too), briefly: LRU-bounded (keys are ≤ a few hundred bytes each). */
  readonly #keys = new LRUCache<string, { accountId: number | undefined; until: number; epoch: number }>({ max: 10_000 });
  readonly #inflight = new Set<Promise<unknown>>();
  /** Set when the collector runs as several processes: each sender's exports are stored by its owner (otlp-owner.ts). */
  owners: OtlpOwners | undefined;

  static for(deps: ServiceDeps, registry: Registry): OtlpReceiver {
    let r = receivers.get(registry);
    if (!r) receivers.set(registry, (r = new OtlpReceiver(deps, registry)));
    return r;
  }

  constructor(readonly deps: ServiceDeps, registry: Registry) {
    this.settings = readOtlpSettings(deps.config);
    this.metrics = new OtlpMetrics(registry, () => this.state.size);
    this.state = new SeriesStateStore({
      maxSeries: this.settings.maxSeries,
      maxBytes: this.settings.maxSeriesBytes,
      idleSeconds: this.settings.seriesIdleSeconds,
      startedAtNs: BigInt(Math.floor(deps.now() * 1000)) * 1_000_000n,
      onEvict: () => this.metrics.evictedSeries.inc(),
    });
    this.#budget = new InflightBudget(this.settings.maxInflightBytes);
    this.#ids = new OtlpIds(deps.directory);
  }

  /** Handles one request; never throws (every failure becomes an OTLP error answer). */
  handle(req: OtlpRequest): Promise<OtlpAnswer> {
    const p = this.#handle(req);
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
    return p;
  }

  /** Stores a part of an export that this process owns, handed over by another collector process. */
  storeOwned(part: OwnedPart): Promise<PartialSuccess | undefined> {
    const p = this.#store(part.accountId, part.decoded, part.digest);
    this.#inflight.add(p);
    void p.catch(() => undefined).finally(() => this.#inflight.delete(p));
    return p;
  }

  /** Waits for requests in progress (stop: upstream first, then the writer flushes). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#inflight]);
  }

  async #handle(req: OtlpRequest): Promise<OtlpAnswer> {
    let format: OtlpFormat = 'json';
    let taken = 0;
    try {
      format = formatOf(req.contentType);
      if (req.apiKey === '') throw new AuthError("cannot accept metrics export: no api-key header (send the account's license key in api-key)", 401);
      // The in-flight budget counts what is held: Content-Length up front when sent, else (chunked,
      // as the exporters send) the body once read; then what it decodes into (below).
      const max = this.settings.maxBodyBytes;
      if (req.contentLength !== undefined) {
        if (req.contentLength > max) throw new PayloadTooLargeError(`cannot accept body: more than ${max} bytes`);
        this.#budget.take(req.contentLength);
        taken = req.contentLength;
      }
      const raw = await req.readBody(max);
      if (req.contentLength === undefined) {
        this.#budget.take(raw.length);
        taken = raw.length;
      }
      const bytes = await decompress(raw, req.contentEncoding, this.settings.maxDecodedBytes);
      // Then what it becomes: the decompressed copy, the decoded messages and normalized points.
      const held = heldForDecoded(bytes.length);
      this.#budget.take(held, taken);
      taken += held;
      const accountId = await this.#account(req.apiKey);
      const now = this.deps.now();
      const decoded = normalizeExport(parseRequest(bytes, format), {
        nowSeconds: now,
        maxAgeSeconds: this.settings.maxAgeSeconds,
        maxFutureSeconds: this.settings.maxFutureSeconds,
      });
      const digest = createHash('sha256').update(bytes).digest('hex');
      const partial = await storeByOwner(this.owners, { accountId, decoded, digest }, (p) => this.#store(p.accountId, p.decoded, p.digest));
      return this.#answer(format, 200, encodeResponse(format, partial));
    } catch (err) {
      if (req.isAborted()) return this.#answer(format, 'aborted', encodeStatus(format, 400, 'client aborted'));
      return this.#error(format, err);
    } finally {
      if (taken > 0) this.#budget.release(taken);
    }
  }

  /** Temporality, ids and the write, under the senders' locks; returns what was rejected. */
  async #store(accountId: number, decoded: DecodedExport, digest: string): Promise<PartialSuccess | undefined> {
    const lockKeys = decoded.resources.map((r) => `${accountId}\u0000${r.identity.serviceName}\u0000${r.identity.instance ?? ''}`);
    const release = await this.#lock.acquire(lockKeys);
    try {
      const txn = this.state.begin();
      const plan = planExport(decoded, accountId, txn);
      await this.#dropPastRetention(accountId, plan);
      // Each point goes to every name of it, for the agent or the application (otlp-rows.ts): at most this many rows.
      const rows = plan.rows.reduce((n, r) => n + r.names.length, 0);
      checkRequestRows('metrics export', rows, this.deps.config.num('APM_WRITER_MAX_PENDING_ROWS'));
      const rejected = [...decoded.rejected, ...plan.rejected];
      if (plan.rows.length > 0) await this.#write(accountId, decoded, plan, digest);
      txn.commit(this.deps.now());
      this.#countPoints(decoded, plan, rejected.length);
      for (const r of rejected) this.metrics.rejectedPoints.inc({ reason: r.code ?? 'invalid' });
      return rejected.length > 0 ? { rejectedDataPoints: rejected.length, errorMessage: rejectionMessage(rejected) } : undefined;
    } finally {
      release();
    }
  }

  /** Points whose minute is past the account's minute retention are not written (its table is purged): rejected. */
  async #dropPastRetention(accountId: number, plan: PlanOutcome): Promise<void> {
    if (plan.rows.length === 0) return;
    let minuteDays: number;
    try {
      minuteDays = (await this.deps.shards.storeForAccount(accountId)).account.retention.minuteDays;
    } catch (err) {
      if (err instanceof InputError || err instanceof RetryableError) throw err;
      this.deps.log.warn(`cannot locate account ${accountId}: ${(err as Error).message}`);
      throw new RetryableError("cannot store metrics export: the account's shard is unavailable", 5);
    }
    const now = this.deps.now();
    const kept = plan.rows.filter((r) => !pastMinuteRetention(r.minute, minuteDays, now));
    for (const r of plan.rows) {
      if (!pastMinuteRetention(r.minute, minuteDays, now)) continue;
      plan.rejected.push({ metric: r.names[0]!.slice(NAME_PREFIX.length), reason: `its minute is past the account's minute retention (${minuteDays} days)`, code: 'past_retention' });
      plan.written--;
    }
    plan.rows = kept;
  }

  async #write(accountId: number, decoded: DecodedExport, plan: PlanOutcome, digest: string): Promise<void> {
    let resolved;
    let shardId: number;
    let store: ShardStore;
    try {
      const found = await this.deps.shards.storeForAccount(accountId);
      shardId = found.account.shardId;
      store = found.store;
      resolved = await this.#ids.resolve(store, accountId, decoded, plan.rows, (n) => this.metrics.overflowNames.inc(n));
    } catch (err) {
      if (err instanceof InputError || err instanceof RetryableError) throw err;
      // The answer names the problem; the details (SQL, table names) go to the log only.
      this.deps.log.warn(`cannot resolve ids of account ${accountId}: ${(err as Error).message}`);
      throw new RetryableError(`cannot store metrics export: the account's shard is unavailable`, 5);
    }
    const rows = buildRows(plan.rows, resolved);
    const started = process.hrtime.bigint();
    const outcome = await this.deps.writer.write({ accountId, shardId, rows, dedupeKey: `otlp:${digest}` });
    this.metrics.commitSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    if (outcome === 'duplicate') this.metrics.duplicateExports.inc();
    else this.metrics.rowsWritten.inc({ shard: String(shardId) }, rows.length);
    // Histogram percentiles, exactly once per export under the same key (lib/distribution/dist-writer.ts).
    // A failure here answers 503: the retried export is then a duplicate for the timeslices, and its
    // distributions are written (once).
    await writeDistributions(store, accountId, buildDistRows(plan.rows, resolved), `otlp:${digest}`).catch((err: Error) => {
      throw err instanceof RetryableError ? err : new RetryableError(`cannot store histogram distributions: ${err.message}`, 5);
    });
  }

  #countPoints(decoded: DecodedExport, plan: PlanOutcome, rejected: number): void {
    const m = this.metrics.points;
    if (plan.written) m.inc({ outcome: 'written' }, plan.written);
    if (rejected) m.inc({ outcome: 'rejected' }, rejected);
    if (plan.baseline) m.inc({ outcome: 'baseline' }, plan.baseline);
    if (plan.duplicate) m.inc({ outcome: 'duplicate' }, plan.duplicate);
    if (plan.empty) m.inc({ outcome: 'empty' }, plan.empty);
    if (decoded.skippedPoints) m.inc({ outcome: 'skipped' }, decoded.skippedPoints);
  }

  /** License key → account id, cached briefly (misses too, so bad keys do not reach the directory each time). */
  async #account(key: string): Promise<number> {
    const now = Date.now();
    let hit = this.#keys.get(key);
    // Trusted only while no key was rotated (key-epoch.ts); the last known epoch while the directory is down.
    const epoch = await keyEpoch(this.deps.directory).catch((err: Error) => {
      if (hit) return hit.epoch;
      throw new RetryableError(`cannot check api-key: the directory is unavailable (${err.message})`, 5);
    });
    if (!hit || hit.until < now || hit.epoch !== epoch) {
      const account = await this.deps.directory.accountByLicenseKey(key).catch((err: Error) => {
        this.deps.log.warn(`cannot check api-key: ${err.message}`);
        throw new RetryableError('cannot check api-key: the directory is unavailable', 5);
      });
      hit = { accountId: account?.id, until: now + (account ? 60_000 : 10_000), epoch };
      this.#keys.set(key, hit);
    }
    if (hit.accountId === undefined) throw new AuthError('cannot accept metrics export: the api-key is not a license key of any account', 403);
    return hit.accountId;
  }

  /** status 'aborted': the client left; counted, never sent. */
  #answer(format: OtlpFormat, status: number | 'aborted', e: Encoded, headers: Record<string, string> = {}): OtlpAnswer {
    this.metrics.requests.inc({ format, status: String(status) });
    const code = status === 'aborted' ? 400 : status;
    return { status: code, headers, close: code === 413, ...e };
  }

  #error(format: OtlpFormat, err: unknown): OtlpAnswer {
    const status = httpStatusOf(err);
    if (status === 500) this.deps.log.error(`otlp: ${(err as Error)?.stack ?? String(err)}`);
    const cause = (err as { cause?: unknown } | undefined)?.cause;
    if (status === 503 && cause instanceof Error) this.deps.log.warn(`otlp: answered 503 (${(err as Error).message}): ${cause.message}`);
    const headers: Record<string, string> = {};
    const retryAfter = retryAfterOf(err);
    if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
    return this.#answer(format, status, encodeStatus(format, status, publicMessageOf(err)), headers);
  }
}
