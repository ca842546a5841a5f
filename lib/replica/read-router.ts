import { statementKysely } from '../db/query-builder.js';
import type { Directory } from '../directory/directory.js';
import type { ShardDatabase } from '../shard/shard-database.js';
import type { ShardStore } from '../shard/shard-store.js';
import { routeRead, type Route, type RoutePart } from './read-route.js';
import type { ReplicaLags } from './replica-lags.js';
import type { ReplicaMetrics } from './replica-metrics.js';
import type { ReplicaSettings } from './replica-variables.js';

const SCHEMA_BEHIND = new Set(['ER_NO_SUCH_TABLE', 'ER_BAD_FIELD_ERROR']);

/** One part of a routed read: rows with periods in [from, to) read through `store`. */
export interface RoutedPart extends RoutePart {
  store: ShardStore;
}

export interface RoutedRead {
  route: Route;
  parts: RoutedPart[];
  /** Where listings (metric names, transactions) are read: the replica when one is used, else the primary. */
  listStore: ShardStore;
  primary: ShardStore;
}

export interface ReadRouterOptions {
  directory: Directory;
  lags: ReplicaLags;
  settings: ReplicaSettings;
  metrics?: ReplicaMetrics;
  /** TTL clock of the moving-accounts cache, ms (Date.now). */
  ttlNow?: () => number;
}

/**
 * Where each dashboard read goes (the pure rules are in read-route.ts): given the account's primary
 * store, the account and an aligned window, returns the store(s) to read and the split point. Accounts
 * with an unfinished move read from their primary only (the move's journal, re-read every 2 s). Edge
 * reads to a primary are bounded per process (settings.maxEdgeReads at once): past it the read stays on
 * the replica and the answer says from when it may be stale ('primary_busy'); a failed replica read
 * is read again from the primary ('replica_error'). Writes, rollups, moves
 * and purges never come here: they use the ShardRegistry's primary stores.
 */
export class ReadRouter {
  readonly #edgeReads = new Map<number, number>();
  #moving: { until: number; accounts: Promise<Set<number>> } | undefined;
  readonly #now: () => number;

  constructor(private readonly o: ReadRouterOptions) {
    this.#now = o.ttlNow ?? Date.now;
  }

  async route(primary: ShardStore, accountId: number, window: { from: number; to: number; step: number }, now: number): Promise<RoutedRead> {
    const [moving, lags] = await Promise.all([this.#isMoving(accountId), this.o.lags.lags(primary.shardId)]);
    let route = routeRead({
      ...window,
      now,
      replicas: lags.map((l) => ({ address: l.address, lagSeconds: l.reading.lagSeconds })),
      maxLagSeconds: this.o.settings.maxLagSeconds,
      marginSeconds: this.o.settings.marginSeconds,
      maxEdgeSeconds: this.o.settings.maxEdgeSeconds,
      moving,
    });
    const parts = await Promise.all(
      route.parts.map(async (p): Promise<RoutedPart> => ({ ...p, store: p.target === 'primary' ? primary : await this.o.lags.store(primary.shardId, p.replica!) })),
    );
    const replica = parts.find((p) => p.target === 'replica');
    const listStore = replica ? listingStore(replica.store, primary, (err) => this.#failed(replica.replica!, err)) : primary;
    return { route, parts, listStore, primary };
  }

  /**
   * Runs one read over a routed window: takes an edge-read slot on the primary for edge routes (or,
   * when the slot bound is reached, reads the whole window from the replica: 'primary_busy'), counts the
   * read by target and reason, and when a replica part fails marks that replica down and reads the whole
   * window from the primary instead ('replica_error').
   */
  async run<T>(routed: RoutedRead, fn: (parts: RoutedPart[]) => Promise<T>): Promise<{ result: T; route: Route }> {
    let { route, parts } = routed;
    const shardId = routed.primary.shardId;
    let slot = false;
    if (route.reason === 'edge' || route.reason === 'edge_bounded') {
      const busy = this.#edgeReads.get(shardId) ?? 0;
      if (busy >= this.o.settings.maxEdgeReads) {
        const replica = parts.find((p) => p.target === 'replica') ?? { replica: route.parts.find((p) => p.target === 'replica')?.replica, store: routed.listStore };
        const split = route.staleFrom ?? route.parts.find((p) => p.target === 'primary')!.from;
        const from = parts[0]!.from;
        const to = parts[parts.length - 1]!.to;
        route = { reason: 'primary_busy', parts: [{ target: 'replica', replica: replica.replica!, from, to }], replicaLagSeconds: route.replicaLagSeconds!, staleFrom: split };
        parts = [{ ...route.parts[0]!, store: replica.store }];
      } else {
        this.#edgeReads.set(shardId, busy + 1);
        slot = true;
      }
    }
    try {
      this.o.metrics?.recordRoute(route);
      try {
        return { result: await fn(parts), route };
      } catch (err) {
        const failed = parts.find((p) => p.target === 'replica');
        if (!failed) throw err;
        this.#failed(failed.replica!, err as Error);
        const whole = { from: parts[0]!.from, to: parts[parts.length - 1]!.to };
        const fallback: Route = { reason: 'replica_error', parts: [{ target: 'primary', ...whole }] };
        this.o.metrics?.recordRoute(fallback);
        return { result: await fn([{ target: 'primary', ...whole, store: routed.primary }]), route: fallback };
      }
    } finally {
      if (slot) this.#edgeReads.set(shardId, Math.max(0, (this.#edgeReads.get(shardId) ?? 1) - 1));
    }
  }

  /**
   * A read on a replica failed. A table or column the replica has not created yet (its registry row
   * replicated first) only means this read is ahead of it; anything else (connection lost, timeout)
   * takes it out of routing until it answers a probe again.
   */
  #failed(address: string, err: Error): void {
    if (!SCHEMA_BEHIND.has(String((err as { code?: string }).code))) this.o.lags.markDown(address, err);
  }

  /** Edge reads in flight to a shard's primary (for tests and the metrics). */
  edgeReadsInFlight(shardId: number): number {
    return this.#edgeReads.get(shardId) ?? 0;
  }

  #isMoving(accountId: number): Promise<boolean> {
    if (!this.#moving || this.#moving.until <= this.#now()) {
      const accounts = this.o.directory.db.kysely
        .selectFrom('account_moves')
        .select('account_id')
        .distinct()
        .where('active', '=', 1)
        .limit(10000)
        .execute()
        .then((rows) => new Set(rows.map((r) => Number(r.account_id))));
      this.#moving = { until: this.#now() + 2000, accounts };
      accounts.catch(() => (this.#moving = undefined));
    }
    return this.#moving.accounts.then((s) => s.has(accountId));
  }
}

/**
 * The replica's store for listings (metric names, transactions) whose queries fall back to the primary
 * when the replica fails them (and report the failure): a replica that dies while its lag is still cached
 * costs no request. Methods run on the real store (bound), only `pool.query` is wrapped.
 */
function listingStore(replica: ShardStore, primary: ShardStore, failed: (err: Error) => void): ShardStore {
  const query = async (...args: unknown[]) => {
    try {
      return await (replica.pool.query as (...a: unknown[]) => Promise<unknown>)(...args);
    } catch (err) {
      failed(err as Error);
      return (primary.pool.query as (...a: unknown[]) => Promise<unknown>)(...args);
    }
  };
  const pool = new Proxy(replica.pool, { get: (target, prop) => (prop === 'query' ? query : bound(target, prop, target)) });
  // The same for the store's typed statements (this.kysely: metric names and their search).
  const kysely = statementKysely<ShardDatabase>(async (q) => {
    try {
      return await replica.kysely.executeQuery(q);
    } catch (err) {
      failed(err as Error);
      return primary.kysely.executeQuery(q);
    }
  });
  // The store's own methods run with the proxy as `this`, so every `this.pool.query` and `this.kysely`
  // statement they make (metric names, agents, distributions) falls back too.
  return new Proxy(replica, { get: (target, prop, receiver) => (prop === 'pool' ? pool : prop === 'kysely' ? kysely : bound(target, prop, receiver)) });
}

function bound(target: object, prop: string | symbol, self: object): unknown {
  const v = Reflect.get(target, prop, self);
  return typeof v === 'function' ? v.bind(self) : v;
}
