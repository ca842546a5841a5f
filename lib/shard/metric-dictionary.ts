import type { Pool as PromisePool } from 'mysql2/promise';
import { KeyedLock } from '../concurrency/keyed-lock.js';
import { withLockRetry } from '../db/deadlock-retry.js';
import { reserveIds } from './id-allocator.js';

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
}

/** Where names past the per-application bound go. */
export const OVERFLOW_METRIC: MetricName = { name: 'Overflow/MetricNames', scope: '' };

const CHUNK = 500;

function key(accountId: number, n: MetricName): string {
  return `${accountId}\u0000${n.name}\u0000${n.scope}`;
}

/**
 * The per-account metric-name dictionary ((name, scope) → id) with an in-memory cache, and the
 * per-application bound on distinct names. The cache is bounded: past `maxCached` entries it is
 * cleared and refilled from the database on demand.
 */
export class MetricDictionary {
  readonly #ids = new Map<string, number>();
  readonly #appSets = new Map<string, Promise<Set<number>>>();
  readonly #serial = new KeyedLock(1024);

  constructor(
    private readonly pool: PromisePool,
    private readonly maxPerApplication: number,
    private readonly maxCached = 2_000_000,
  ) {}

  get size(): number {
    return this.#ids.size;
  }

  async ids(accountId: number, names: readonly MetricName[], opts: MetricIdsOptions = {}): Promise<number[]> {
    if (names.some((n) => !this.#ids.has(key(accountId, n)))) {
      // First sight of names: one resolution per account at a time in this process (concurrent
      // agents of one account bring the same new names), retried when another process deadlocks us.
      await this.#serial.run(`names:${accountId}`, async () => {
        const missing = names.filter((n) => !this.#ids.has(key(accountId, n)));
        if (missing.length > 0) await withLockRetry(() => this.#resolve(accountId, dedupe(accountId, missing)));
      });
    }
    const ids = names.map((n) => this.#ids.get(key(accountId, n))!);
    if (opts.applicationId === undefined) return ids;
    return this.#bound(accountId, opts.applicationId, ids, opts.onOverflow);
  }

  /** Forgets everything cached for an account (after it moved away). */
  forgetAccount(accountId: number): void {
    const prefix = `${accountId}\u0000`;
    for (const k of this.#ids.keys()) if (k.startsWith(prefix)) this.#ids.delete(k);
    for (const k of this.#appSets.keys()) if (k.startsWith(prefix)) this.#appSets.delete(k);
  }

  async #resolve(accountId: number, names: MetricName[]): Promise<void> {
    if (this.#ids.size + names.length > this.maxCached) this.#ids.clear();
    for (let i = 0; i < names.length; i += CHUNK) {
      const chunk = names.slice(i, i + CHUNK);
      let found = await this.#select(accountId, chunk);
      const absent = chunk.filter((n) => !found.has(key(accountId, n)));
      if (absent.length > 0) {
        const conn = await this.pool.getConnection();
        try {
          const first = await reserveIds(conn, accountId, 'metric', absent.length);
          const values = absent.map((n, j) => [accountId, first + j, n.name, n.scope]);
          await conn.query('INSERT IGNORE INTO metric_names (account_id, id, name, scope) VALUES ?', [values]);
        } finally {
          conn.release();
        }
        found = await this.#select(accountId, chunk);
      }
      for (const [k, id] of found) this.#ids.set(k, id);
      if (found.size !== chunk.length) throw new Error(`BUG: metric dictionary resolved ${found.size} of ${chunk.length} names`);
    }
  }

  async #select(accountId: number, names: MetricName[]): Promise<Map<string, number>> {
    const tuples = names.map(() => '(?, ?)').join(', ');
    const params: unknown[] = [accountId];
    for (const n of names) params.push(n.name, n.scope);
    const [rows] = await this.pool.query<any[]>(
      `SELECT id, name, scope FROM metric_names WHERE account_id = ? AND (name, scope) IN (${tuples})`,
      params,
    );
    return new Map(rows.map((r) => [key(accountId, { name: r.name, scope: r.scope }), Number(r.id)]));
  }

  async #bound(accountId: number, applicationId: number, ids: number[], onOverflow?: (n: number) => void): Promise<number[]> {
    const setKey = `${accountId}\u0000${applicationId}`;
    let setP = this.#appSets.get(setKey);
    if (!setP) {
      setP = this.pool
        .query<any[]>('SELECT metric_id FROM application_metrics WHERE account_id = ? AND application_id = ?', [accountId, applicationId])
        .then(([rows]) => new Set(rows.map((r) => Number(r.metric_id))));
      this.#appSets.set(setKey, setP);
      setP.catch(() => this.#appSets.delete(setKey));
    }
    const set = await setP;
    const fresh: number[] = [];
    let overflowId: number | undefined;
    let folded = 0;
    const out: number[] = [];
    for (const id of ids) {
      if (set.has(id)) {
        out.push(id);
      } else if (set.size < this.maxPerApplication) {
        set.add(id);
        fresh.push(id);
        out.push(id);
      } else {
        overflowId ??= (await this.ids(accountId, [OVERFLOW_METRIC]))[0]!;
        if (!set.has(overflowId)) {
          set.add(overflowId);
          fresh.push(overflowId);
        }
        folded++;
        out.push(overflowId);
      }
    }
    if (fresh.length > 0) {
      const values = fresh.map((id) => [accountId, applicationId, id]);
      await this.#serial.run(`apps:${accountId}`, () =>
        withLockRetry(() => this.pool.query('INSERT IGNORE INTO application_metrics (account_id, application_id, metric_id) VALUES ?', [values])),
      );
    }
    if (folded > 0) onOverflow?.(folded);
    return out;
  }
}

function dedupe(accountId: number, names: MetricName[]): MetricName[] {
  const seen = new Map<string, MetricName>();
  for (const n of names) seen.set(key(accountId, n), n);
  return [...seen.values()];
}
