import { LRUCache } from 'lru-cache';
import type { Kysely } from 'kysely';
import { KeyedLock } from '../concurrency/keyed-lock.js';
import { withLockRetry } from '../db/deadlock-retry.js';
import { InputError } from '../errors.js';
import { reserveIds } from './id-allocator.js';
import type { ShardDatabase } from './shard-database.js';
import { canonicalMetricName, metricNameProblem } from './metric-name.js';
import { DEFAULT_MEMO_LIMITS, MetricIdMemo, type MetricIdMemoLimits } from './metric-id-memo.js';

export { canonicalMetricName, metricNameProblem, MAX_METRIC_NAME_CHARS } from './metric-name.js';

export interface MetricName {
  name: string;
  /** '' for unscoped metrics; the transaction name for scoped ones. */
  scope: string;
}

export interface MetricIdsOptions {
  /** Apply the per-application bound of distinct names (APM_MAX_METRICS_PER_APP). */
  applicationId?: number;
  /** Called with how many names were folded into OVERFLOW_METRIC in this call. */
  onOverflow?: (folded: number) => void;
  /**
   * Who sends these names (an agent's run): its last answer is remembered by position and given again
   * when the same names come in the same order (metric-id-memo.ts).
   */
  source?: string;
}

export interface MetricDictionaryLimits {
  /** Cached (account, name, scope) → id entries. */
  maxCachedNames: number;
  /** Bytes the cached names may take (UTF-16 key length × 2 + overhead per entry). */
  maxCachedNameBytes: number;
  /** Metric ids held in the cached per-application sets, all applications together. */
  maxCachedApplicationIds: number;
  /** Sources whose last names are remembered (metric-id-memo.ts), and the bytes of those names. */
  memo?: MetricIdMemoLimits;
}

export const DEFAULT_DICTIONARY_LIMITS: MetricDictionaryLimits = {
  maxCachedNames: 1_000_000,
  maxCachedNameBytes: 192 * 1024 * 1024,
  maxCachedApplicationIds: 2_000_000,
};

/** Where names past the per-application bound go. */
export const OVERFLOW_METRIC: MetricName = { name: 'Overflow/MetricNames', scope: '' };

const CHUNK = 500;
/** Bytes per cache entry besides its key's characters (map node, number, bookkeeping). */
const ENTRY_OVERHEAD = 96;

function key(accountId: number, n: MetricName): string {
  return `${accountId}\u0000${n.name}\u0000${n.scope}`;
}

/** The name in canonical form (metric-name.ts); a name that cannot be stored is an InputError. */
function canonicalOf(n: MetricName): MetricName {
  const c = { name: canonicalMetricName(n.name), scope: canonicalMetricName(n.scope) };
  const why = metricNameProblem(c.name, false) ?? metricNameProblem(c.scope, true);
  if (why) throw new InputError(`cannot store metric name ${JSON.stringify(c.name.slice(0, 80))} (scope ${JSON.stringify(c.scope.slice(0, 80))}): ${why}`);
  return c;
}

/**
 * The per-account metric-name dictionary ((name, scope) → id) with an in-memory cache, and the
 * per-application bound on distinct names. Names are looked up in canonical form (metric-name.ts),
 * so what the database returns always matches what was asked. With an application, the bound is
 * applied BEFORE anything is stored: names past it are never inserted (no orphan names), they fold
 * into OVERFLOW_METRIC. Both caches are LRU-bounded by count and size.
 */
export class MetricDictionary {
  readonly #ids: LRUCache<string, number>;
  readonly #appSets: LRUCache<string, Set<number>>;
  readonly #appLoads = new Map<string, Promise<Set<number>>>();
  readonly #serial = new KeyedLock(1024);
  readonly #memo: MetricIdMemo;
  /** Bumped when an account is forgotten: every remembered answer is stale. */
  #generation = 0;

  constructor(
    private readonly db: Kysely<ShardDatabase>,
    private readonly maxPerApplication: number,
    limits: MetricDictionaryLimits = DEFAULT_DICTIONARY_LIMITS,
  ) {
    // `max` preallocates that many slots up front in lru-cache: the count bound is set only when it is
    // small; otherwise the byte bound (≥ ENTRY_OVERHEAD bytes an entry) bounds the count as well.
    this.#ids = new LRUCache<string, number>({
      ...(limits.maxCachedNames <= 100_000 ? { max: limits.maxCachedNames } : {}),
      maxSize: Math.min(limits.maxCachedNameBytes, limits.maxCachedNames * ENTRY_OVERHEAD),
      sizeCalculation: (_v, k) => k.length * 2 + ENTRY_OVERHEAD,
    });
    this.#appSets = new LRUCache<string, Set<number>>({ maxSize: limits.maxCachedApplicationIds, sizeCalculation: (s) => s.size + 1 });
    this.#memo = new MetricIdMemo(limits.memo ?? DEFAULT_MEMO_LIMITS);
  }

  get size(): number {
    return this.#ids.size;
  }

  /** Ids of `names` in order. Names are mapped to their canonical form first; an unstorable one is an InputError. */
  async ids(accountId: number, names: readonly MetricName[], opts: MetricIdsOptions = {}): Promise<number[]> {
    const { source } = opts;
    if (source === undefined) return this.#fromDictionary(accountId, names, opts);
    const generation = this.#generation;
    const remembered = this.#memo.get(source, accountId, opts.applicationId, generation, names);
    if (remembered) return remembered;
    let folded = 0;
    const ids = await this.#fromDictionary(accountId, names, {
      ...opts,
      onOverflow: (n) => {
        folded += n;
        opts.onOverflow?.(n);
      },
    });
    // An answer with folded names is not remembered: each call must count its folds.
    if (folded === 0) this.#memo.set(source, accountId, opts.applicationId, generation, names, ids);
    return ids;
  }

  async #fromDictionary(accountId: number, names: readonly MetricName[], opts: MetricIdsOptions): Promise<number[]> {
    const cached = this.#allCached(accountId, names, opts.applicationId);
    if (cached) return cached;
    const canon = names.map(canonicalOf);
    if (opts.applicationId === undefined) {
      const found = await this.#lookup(accountId, canon, true);
      return canon.map((n) => idOf(found, accountId, n));
    }
    return this.#bounded(accountId, opts.applicationId, canon, opts.onOverflow);
  }

  /**
   * The usual case, answered from the caches alone: every name is cached as given (and, with an
   * application, already counted in its set). Cache keys are canonical names that were checked when
   * stored, and canonicalMetricName is idempotent, so a name found as given is its own canonical form
   * and storable: nothing to map, check or bound. Undefined when any name is not (the full path).
   */
  #allCached(accountId: number, names: readonly MetricName[], applicationId: number | undefined): number[] | undefined {
    let set: Set<number> | undefined;
    if (applicationId !== undefined) {
      set = this.#appSets.get(`${accountId}\u0000${applicationId}`);
      if (!set) return undefined;
    }
    const out = new Array<number>(names.length);
    for (let i = 0; i < names.length; i++) {
      const id = this.#ids.get(key(accountId, names[i]!));
      if (id === undefined || (set !== undefined && !set.has(id))) return undefined;
      out[i] = id;
    }
    return out;
  }

  /** Forgets everything cached for an account (after it moved away). */
  forgetAccount(accountId: number): void {
    this.#generation++;
    const prefix = `${accountId}\u0000`;
    for (const k of [...this.#ids.keys()]) if (k.startsWith(prefix)) this.#ids.delete(k);
    for (const k of [...this.#appSets.keys()]) if (k.startsWith(prefix)) this.#appSets.delete(k);
  }

  /**
   * key → id of the given canonical names: cache first, then the database; with `insert`, names not
   * there are stored (one resolution per account at a time in this process, retried on deadlock).
   */
  async #lookup(accountId: number, names: readonly MetricName[], insert: boolean): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    const missing: MetricName[] = [];
    for (const n of names) {
      const k = key(accountId, n);
      const id = this.#ids.get(k);
      if (id !== undefined) found.set(k, id);
      else if (!found.has(k)) missing.push(n);
    }
    if (missing.length === 0) return found;
    const todo = dedupe(accountId, missing);
    const resolve = () => withLockRetry(() => this.#resolve(accountId, todo, insert, found));
    if (insert) await this.#serial.run(`names:${accountId}`, resolve);
    else await resolve();
    return found;
  }

  async #resolve(accountId: number, names: MetricName[], insert: boolean, into: Map<string, number>): Promise<void> {
    for (let i = 0; i < names.length; i += CHUNK) {
      const chunk = names.slice(i, i + CHUNK);
      let found = await this.#select(accountId, chunk);
      const absent = chunk.filter((n) => !found.has(key(accountId, n)));
      if (insert && absent.length > 0) {
        await this.db.connection().execute(async (conn) => {
          const first = await reserveIds(conn, accountId, 'metric', absent.length);
          await conn
            .insertInto('metric_names')
            .ignore()
            .values(absent.map((n, j) => ({ account_id: accountId, id: first + j, name: n.name, scope: n.scope })))
            .execute();
        });
        found = await this.#select(accountId, chunk);
        if (found.size !== chunk.length) throw new Error(`BUG: metric dictionary resolved ${found.size} of ${chunk.length} names`);
      }
      for (const [k, id] of found) {
        this.#ids.set(k, id);
        into.set(k, id);
      }
    }
  }

  async #select(accountId: number, names: MetricName[]): Promise<Map<string, number>> {
    const rows = await this.db
      .selectFrom('metric_names')
      .select(['id', 'name', 'scope'])
      .where('account_id', '=', accountId)
      .where((eb) => eb(eb.refTuple('name', 'scope'), 'in', names.map((n) => eb.tuple(n.name, n.scope))))
      .execute();
    // Rows stored before names were canonical may hold trailing spaces: read them back canonical too.
    return new Map(rows.map((r) => [key(accountId, { name: canonicalMetricName(r.name), scope: canonicalMetricName(r.scope) }), Number(r.id)]));
  }

  async #appSet(accountId: number, applicationId: number): Promise<{ setKey: string; set: Set<number> }> {
    const setKey = `${accountId}\u0000${applicationId}`;
    const cached = this.#appSets.get(setKey);
    if (cached) return { setKey, set: cached };
    let load = this.#appLoads.get(setKey);
    if (!load) {
      load = this.db
        .selectFrom('application_metrics')
        .select('metric_id')
        .where('account_id', '=', accountId)
        .where('application_id', '=', applicationId)
        .execute()
        .then((rows) => {
          const set = new Set(rows.map((r) => Number(r.metric_id)));
          this.#appSets.set(setKey, set);
          return set;
        })
        .finally(() => this.#appLoads.delete(setKey));
      this.#appLoads.set(setKey, load);
    }
    return { setKey, set: this.#appSets.get(setKey) ?? (await load) };
  }

  /**
   * The bound, applied before storing: names the application already has keep their ids; new ones
   * are admitted (and only then stored) while the application has room; the rest fold into
   * OVERFLOW_METRIC, which is stored once.
   */
  async #bounded(accountId: number, applicationId: number, names: MetricName[], onOverflow?: (n: number) => void): Promise<number[]> {
    const { setKey, set } = await this.#appSet(accountId, applicationId);
    const distinct = dedupe(accountId, names);
    const known = await this.#lookup(accountId, distinct, false);
    let room = this.maxPerApplication - set.size;
    const admitted: MetricName[] = [];
    const foldedKeys = new Set<string>();
    for (const n of distinct) {
      const k = key(accountId, n);
      const id = known.get(k);
      if (id !== undefined && set.has(id)) continue;
      if (room > 0) {
        admitted.push(n);
        room--;
      } else foldedKeys.add(k);
    }
    const toInsert = admitted.filter((n) => !known.has(key(accountId, n)));
    if (toInsert.length > 0) for (const [k, id] of await this.#lookup(accountId, toInsert, true)) known.set(k, id);
    if (foldedKeys.size > 0) {
      const overflowKey = key(accountId, OVERFLOW_METRIC);
      for (const [k, id] of await this.#lookup(accountId, [OVERFLOW_METRIC], true)) known.set(k, id);
      for (const k of foldedKeys) known.set(k, known.get(overflowKey)!);
      admitted.push(OVERFLOW_METRIC);
    }
    const fresh = [...new Set(admitted.map((n) => idOf(known, accountId, n)))].filter((id) => !set.has(id));
    if (fresh.length > 0) {
      const values = fresh.map((id) => ({ account_id: accountId, application_id: applicationId, metric_id: id }));
      await this.#serial.run(`apps:${accountId}`, () =>
        withLockRetry(() => this.db.insertInto('application_metrics').ignore().values(values).execute()),
      );
      for (const id of fresh) set.add(id);
      this.#appSets.set(setKey, set); // re-measured: its size grew
    }
    let folded = 0;
    for (const n of names) if (foldedKeys.has(key(accountId, n))) folded++;
    if (folded > 0) onOverflow?.(folded);
    return names.map((n) => idOf(known, accountId, n));
  }
}

function idOf(found: ReadonlyMap<string, number>, accountId: number, n: MetricName): number {
  const id = found.get(key(accountId, n));
  if (id === undefined) throw new Error(`BUG: metric dictionary has no id for ${JSON.stringify(n.name)}`);
  return id;
}

function dedupe(accountId: number, names: readonly MetricName[]): MetricName[] {
  const seen = new Map<string, MetricName>();
  for (const n of names) seen.set(key(accountId, n), n);
  return [...seen.values()];
}
