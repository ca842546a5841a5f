import { createPool, parseAddress, type Credentials } from '../db/connect.js';
import type { Directory } from '../directory/directory.js';
import type { ShardDatabase } from '../shard/shard-database.js';
import { ShardStore } from '../shard/shard-store.js';
import { probeLag, type LagReading } from './lag-probe.js';
import { ReplicaDirectory } from './replica-directory.js';

export interface ReplicaLagsOptions {
  directory: Directory;
  credentials: Credentials;
  database: string;
  maxMetricsPerApplication: number;
  /** How long a measured lag is trusted, seconds; an unreachable replica is asked again after 5x. */
  lagTtlSeconds: number;
  /** How long the list of a shard's replicas is trusted, seconds (5). */
  listTtlSeconds?: number;
  /** Clock of the lag measurement (Unix seconds); unset: each replica's own clock. */
  lagClock?: () => number;
  /** Clock of the caches' TTLs, ms (Date.now); tests inject one. */
  ttlNow?: () => number;
  /** Connections per replica pool (8). */
  connectionLimit?: number;
  onFailure?: (address: string, err: Error) => void;
}

interface Entry {
  shardId: number;
  address: string;
  store?: Promise<ShardStore>;
  reading?: LagReading;
  /** TTL clock (ms) until which `reading` is trusted. */
  until: number;
  probing?: Promise<LagReading>;
}

/**
 * Each process's view of the replicas: the registered replicas per shard (re-read every few seconds),
 * a read-only ShardStore per replica (its own pool; never migrated: the schema replicates), and each
 * replica's lag, measured at most once per TTL however many reads ask (one probe in flight per replica).
 * A replica that cannot be reached or measured reads as lag null until a later probe succeeds.
 * Bounded by the registered replicas: entries of unregistered ones are closed.
 */
export class ReplicaLags {
  readonly #entries = new Map<string, Entry>();
  readonly #lists = new Map<number, { until: number; addresses: Promise<string[]> }>();
  readonly #replicas: ReplicaDirectory;
  readonly #now: () => number;

  constructor(private readonly o: ReplicaLagsOptions) {
    this.#replicas = new ReplicaDirectory(o.directory);
    this.#now = o.ttlNow ?? Date.now;
  }

  /** Registered replicas of a shard with their lag (measured now when the cached one expired). */
  async lags(shardId: number): Promise<Array<{ address: string; reading: LagReading }>> {
    const addresses = await this.#list(shardId);
    return Promise.all(addresses.map(async (address) => ({ address, reading: await this.#lag(this.#entry(shardId, address)) })));
  }

  /** The read-only store of a replica (opened on first use). */
  store(shardId: number, address: string): Promise<ShardStore> {
    const e = this.#entry(shardId, address);
    if (!e.store) {
      const pool = createPool<ShardDatabase>(parseAddress(address), { ...this.o.credentials, database: this.o.database, connectionLimit: this.o.connectionLimit ?? 8, connectTimeout: 1000 });
      const store = new ShardStore(shardId, pool, { maxMetricsPerApplication: this.o.maxMetricsPerApplication, replica: true });
      const opened = store.loadTemplates().then(() => store);
      e.store = opened;
      opened.catch(() => {
        if (e.store === opened) e.store = undefined;
        void pool.end();
      });
    }
    return e.store;
  }

  /** A read on the replica failed: skip it until a probe succeeds again (after 5x the TTL). */
  markDown(address: string, err: Error): void {
    const e = this.#entries.get(address);
    if (!e) return;
    e.reading = { lagSeconds: null, secondsBehindMaster: null, ioRunning: false, sqlRunning: false, error: err.message };
    e.until = this.#now() + this.o.lagTtlSeconds * 5000;
    this.o.onFailure?.(address, err);
  }

  /** Every known replica's last reading (for the lag gauge), without measuring. */
  snapshot(): Array<{ shardId: number; address: string; lagSeconds: number | null }> {
    return [...this.#entries.values()].map((e) => ({ shardId: e.shardId, address: e.address, lagSeconds: e.reading?.lagSeconds ?? null }));
  }

  /** Forgets cached lags and lists (tests; after `apm shards replicas add|remove` in this process). */
  invalidate(): void {
    this.#lists.clear();
    for (const e of this.#entries.values()) e.until = 0;
  }

  async close(): Promise<void> {
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.all(entries.map((e) => this.#close(e)));
  }

  async #close(e: Entry): Promise<void> {
    const store = await e.store?.catch(() => undefined);
    await store?.close();
  }

  #list(shardId: number): Promise<string[]> {
    const hit = this.#lists.get(shardId);
    if (hit && hit.until > this.#now()) return hit.addresses;
    const addresses = this.#replicas.list(shardId).then((list) => {
      const now = list.map((r) => r.address);
      for (const [a, e] of this.#entries) {
        if (e.shardId === shardId && !now.includes(a)) {
          this.#entries.delete(a);
          void this.#close(e);
        }
      }
      return now;
    });
    this.#lists.set(shardId, { until: this.#now() + (this.o.listTtlSeconds ?? 5) * 1000, addresses });
    addresses.catch(() => this.#lists.delete(shardId));
    return addresses;
  }

  #entry(shardId: number, address: string): Entry {
    let e = this.#entries.get(address);
    if (!e || e.shardId !== shardId) {
      e = { shardId, address, until: 0 };
      this.#entries.set(address, e);
    }
    return e;
  }

  #lag(e: Entry): Promise<LagReading> {
    if (e.reading && e.until > this.#now()) return Promise.resolve(e.reading);
    e.probing ??= (async () => {
      try {
        const store = await this.store(e.shardId, e.address);
        e.reading = await probeLag(store.pool, this.o.lagClock ? { clock: this.o.lagClock } : {});
        e.until = this.#now() + this.o.lagTtlSeconds * 1000;
      } catch (err) {
        this.markDown(e.address, err as Error);
      } finally {
        e.probing = undefined;
      }
      return e.reading!;
    })();
    return e.probing;
  }
}
